/**
 * Simulated bedside monitor for the demo ward: emits realistic numerics once per second on device
 * time (HR, SpO2, RR, temperature, NIBP every 5 minutes), with physiological noise, and a scenario
 * that drifts the patient into a condition so the demo shows alarms.
 * Pure generation (`SimPatient.sample`) is separate from the timer lifecycle (`SimVitalsDriver`).
 */
import { MDC } from '../codes.js'
import { Quality, type Observation } from '../records.js'
import type { DeviceSequence, Driver, DriverContext } from '../types.js'
import { prng } from './prng.js'

export type Scenario = 'stable' | 'tachycardia' | 'desaturation' | 'fever'
export type SimParameter = 'hr' | 'spo2' | 'rr' | 'temp' | 'nibp'
const ALL_PARAMETERS: readonly SimParameter[] = ['hr', 'spo2', 'rr', 'temp', 'nibp']

export class SimPatient {
  private readonly rnd: () => number
  private hr: number
  private spo2: number
  private rr: number
  private tempC: number

  constructor(readonly scenario: Scenario, seed: number) {
    this.rnd = prng(seed)
    this.hr = 68 + this.rnd() * 16
    this.spo2 = 96 + this.rnd() * 3
    this.rr = 13 + this.rnd() * 4
    this.tempC = 36.6 + this.rnd() * 0.5
  }

  /** Values at `elapsedS` seconds after the start; a scenario's drift begins after 60 s. */
  sample(elapsedS: number): { hr: number; spo2: number; rr: number; tempC: number; sys: number; dia: number } {
    const drift = Math.max(0, Math.min(1, (elapsedS - 60) / 120))
    const jitter = (amp: number) => (this.rnd() - 0.5) * 2 * amp
    const targetHr = this.scenario === 'tachycardia' ? 78 + 70 * drift : 76
    this.hr += (targetHr - this.hr) * 0.1 + jitter(1.5)
    const targetSpo2 = this.scenario === 'desaturation' ? 97 - 11 * drift : 97
    this.spo2 = Math.min(100, this.spo2 + (targetSpo2 - this.spo2) * 0.1 + jitter(0.4))
    this.rr += ((this.scenario === 'desaturation' ? 15 + 10 * drift : 15) - this.rr) * 0.1 + jitter(0.5)
    this.tempC += ((this.scenario === 'fever' ? 36.8 + 2.6 * drift : 36.8) - this.tempC) * 0.05 + jitter(0.02)
    return { hr: Math.round(this.hr), spo2: Math.round(this.spo2), rr: Math.round(this.rr), tempC: Math.round(this.tempC * 10) / 10, sys: Math.round(118 + jitter(8)), dia: Math.round(76 + jitter(5)) }
  }
}

export class SimVitalsDriver implements Driver {
  private timer: NodeJS.Timeout | null = null
  private seq: DeviceSequence = { nextSeq: 1 }

  private readonly params: ReadonlySet<SimParameter>

  constructor(readonly deviceId: string, private readonly scenario: Scenario, private readonly seed: number, parameters: readonly SimParameter[] = ALL_PARAMETERS, private readonly periodMs = 1000) {
    this.params = new Set(parameters)
  }

  async start(ctx: DriverContext): Promise<void> {
    this.seq = ctx.sequenceOf?.(this.deviceId) ?? this.seq
    const patient = new SimPatient(this.scenario, this.seed)
    const startMs = Date.now()
    ctx.status({ state: 'connected' })
    const emit = (code: number, value: number, unit: string, t: number) => {
      const obs: Observation = { kind: 'obs', deviceId: this.deviceId, code, value, unit, deviceTimeMs: t, hubTimeMs: t, deviceSeq: this.seq.nextSeq++, quality: Quality.DEMO }
      ctx.emit(obs)
    }
    const tick = () => {
      const now = Date.now()
      const elapsedS = (now - startMs) / 1000
      const v = patient.sample(elapsedS)
      const p = this.params
      if (p.has('hr')) emit(MDC.MDC_ECG_HEART_RATE!, v.hr, '/min', now)
      if (p.has('spo2')) emit(MDC.MDC_PULS_OXIM_SAT_O2!, v.spo2, '%', now)
      if (p.has('rr')) emit(MDC.MDC_RESP_RATE!, v.rr, '/min', now)
      if (p.has('temp') && Math.floor(elapsedS) % 60 === 0) emit(MDC.MDC_TEMP_BODY!, v.tempC, 'Cel', now)
      if (p.has('nibp') && Math.floor(elapsedS) % 300 === 0) {
        emit(MDC.MDC_PRESS_BLD_NONINV_SYS!, v.sys, 'mm[Hg]', now)
        emit(MDC.MDC_PRESS_BLD_NONINV_DIA!, v.dia, 'mm[Hg]', now)
      }
    }
    tick()
    this.timer = setInterval(tick, this.periodMs)
    ctx.signal.addEventListener('abort', () => void this.stop(), { once: true })
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
  }
}
