/**
 * Technical alarm conditions (IEC 60601-1-8: from the equipment, not the patient; protocols.md §10
 * [S-B40-ALARMS], [S-MINDRAY]): device disconnected, low battery, leads off, sensor off, clock
 * drift, no data for N s, queue over quota. They run on hub time: `technical()` and `tick()` give
 * hub time, and leads/sensor-off flags on observations use the record's hub receive time.
 * A condition is active while any device of the bed reports it; the alarm follows after `delay_s`.
 */
import type { TechnicalRuleDef } from '../config.js'
import { PRIORITY_RANK, TECHNICAL_CONDITIONS, type TechnicalCondition } from '../types.js'
import { fmtSeconds, type CompiledBase } from './common.js'

const TEXT: Readonly<Record<TechnicalCondition, string>> = {
  disconnected: 'Device disconnected',
  'low-battery': 'Battery low',
  'leads-off': 'ECG leads off',
  'sensor-off': 'Sensor off',
  'clock-drift': 'Device clock drift',
  'no-data': 'No data',
  'queue-over-quota': 'Queue over disk quota',
  'ecg-noise': 'ECG noisy: HR unreliable',
  'ecg-saturation': 'ECG saturated: check electrodes',
  'self-test-failed': 'Gateway self-test failed: store not writable',
}

export class TechnicalRule implements CompiledBase {
  readonly kind = 'technical'
  readonly category = 'technical'
  readonly id: string
  readonly condition: TechnicalCondition
  readonly conditionIndex: number
  readonly cooldownMs: number
  readonly latching: TechnicalRuleDef['latching']
  readonly delayMs: number
  readonly timeoutMs: number
  readonly rank: number

  constructor(def: TechnicalRuleDef) {
    this.id = def.id
    this.condition = def.condition
    this.conditionIndex = TECHNICAL_CONDITIONS.indexOf(def.condition)
    this.cooldownMs = def.cooldown_s * 1000
    this.latching = def.latching
    this.delayMs = def.delay_s * 1000
    this.timeoutMs = def.timeout_s * 1000
    this.rank = PRIORITY_RANK[def.priority]
  }

  describe(_value: number, _rank: number, _sinceMs: number, detail?: unknown): string {
    const base = this.condition === 'no-data' ? `${TEXT['no-data']} for ${fmtSeconds(this.timeoutMs)}` : TEXT[this.condition]
    return typeof detail === 'string' && detail !== '' ? `${base}: ${detail}` : base
  }
}

/**
 * One technical condition at one bed: which devices report it, since when (hub time).
 * Reports through `technical()` and through quality flags are kept apart, so a valid value from a
 * device clears only what its own flags raised (the agent's signal module may still report leads
 * off for the same device from the waveform).
 */
export class TechState {
  readonly reported: string[] = []
  readonly flagged: string[] = []
  sinceMs = Number.NaN
  detail = ''

  /** Returns true when the set of reporting devices changed. */
  set(deviceId: string, active: boolean, atMs: number, detail: string | undefined, fromQuality: boolean): boolean {
    const list = fromQuality ? this.flagged : this.reported
    const i = list.indexOf(deviceId)
    if (active) {
      if (detail !== undefined) this.detail = `${deviceId} ${detail}`
      else if (i < 0) this.detail = deviceId
      if (i >= 0) return false
      if (!this.active) this.sinceMs = atMs
      list.push(deviceId)
      return true
    }
    if (i < 0) return false
    list.splice(i, 1)
    if (!this.active) this.sinceMs = Number.NaN
    else this.detail = [...new Set([...this.reported, ...this.flagged])].join(', ')
    return true
  }

  get active(): boolean {
    return this.reported.length > 0 || this.flagged.length > 0
  }
}
