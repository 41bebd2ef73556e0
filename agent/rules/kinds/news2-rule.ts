/**
 * NEWS2 as an alarm rule, and the per-bed store of its latest valid inputs.
 * Inputs: latest valid RR, SpO2, systolic BP, pulse (any HR/pulse source) and temperature from
 * devices; consciousness (ACVPU), on-oxygen and the SpO2 scale from the patient context.
 * Device inputs older than `max_age_s` do not count. Consciousness and oxygen are states a nurse
 * sets, not readings: they count until changed, and past `context_max_age_s` the dashboard marks
 * them to confirm, as does the alarm's message when it is raised or escalated. Dropping them at that age (as before) cleared a
 * scale-2 patient's medium alarm on oxygen 12 h after it was set, while the patient was still on
 * oxygen: a missed alarm is worse than one a nurse resolves by confirming "air". The SpO2 scale is a
 * clinical decision and stays until changed.
 * Alarm (category clinical-escalation: a call to assess the patient, distinct from a parameter's
 * limit alarm), the RCP Chart 2 response thresholds as priorities (mapping cited in defaults.ts):
 * aggregate ≥ 7 → high; 5–6 → `priority` (medium); a single parameter scoring 3 →
 * `red_priority` (medium); 1–4 → `low_priority` (low; `none` for no alarm); 0 → none.
 * Allocation-free on the per-record path.
 */
import { MDC } from '../../../drivers/codes.js'
import type { News2RuleDef } from '../config.js'
import {
  airPoints,
  consciousnessPoints,
  news2Band,
  news2Rounded,
  pulsePoints,
  rrPoints,
  sbpPoints,
  scoreNews2,
  spo2Scale1Points,
  spo2Scale2Points,
  tempPoints,
  type Acvpu,
  type News2Input,
  type News2Param,
  type News2Result,
} from '../news2.js'
import { PRIORITY_RANK } from '../types.js'
import { fmt, fmtHours, type CompiledBase, type Verdict } from './common.js'

/** Device inputs of NEWS2, by slot. */
const RR = 0, SPO2 = 1, SBP = 2, PULSE = 3, TEMP = 4
const DEVICE_PARAMS: readonly News2Param[] = ['rr', 'spo2', 'sbp', 'pulse', 'temp']

/** MDC code → device input slot. Pulse accepts any heart/pulse rate source; SBP any systolic. */
export const NEWS2_INPUT_OF_CODE: ReadonlyMap<number, number> = new Map([
  [MDC.MDC_RESP_RATE!, RR],
  [MDC.MDC_PULS_OXIM_SAT_O2!, SPO2],
  [MDC.MDC_PRESS_BLD_NONINV_SYS!, SBP],
  [MDC.MDC_PRESS_BLD_SYS!, SBP],
  [MDC.MDC_PRESS_BLD_ART_SYS!, SBP],
  [MDC.MDC_ECG_HEART_RATE!, PULSE],
  [MDC.MDC_PULS_RATE!, PULSE],
  [MDC.MDC_PULS_OXIM_PULS_RATE!, PULSE],
  [MDC.MDC_PULS_RATE_NON_INV!, PULSE],
  [MDC.MDC_BLD_PULS_RATE_INV!, PULSE],
  [MDC.MDC_TEMP_BODY!, TEMP],
  [MDC.MDC_TEMP_CORE!, TEMP],
])

/** A value as the chart read it (news2Rounded), so that "temp 35.0: 1" cannot appear for 35.05 scored as 35.1. */
function shown(param: News2Param, v: number): string {
  const r = news2Rounded(param, v)
  return param === 'temp' ? r.toFixed(1) : fmt(r)
}

const PARAM_LABEL: Readonly<Record<News2Param, string>> = {
  rr: 'RR', spo2: 'SpO2', air: 'O2', sbp: 'BP', pulse: 'pulse', consciousness: 'ACVPU', temp: 'temp',
}

export class News2Rule implements CompiledBase {
  readonly kind = 'news2'
  readonly category = 'clinical-escalation'
  readonly id: string
  readonly cooldownMs: number
  readonly latching: News2RuleDef['latching']
  readonly maxAgeMs: number
  readonly ctxMaxAgeMs: number
  readonly mediumRank: number
  readonly redRank: number
  /** −1: an aggregate of 1–4 raises no alarm. */
  readonly lowRank: number

  constructor(def: News2RuleDef) {
    this.id = def.id
    this.cooldownMs = def.cooldown_s * 1000
    this.latching = def.latching
    this.maxAgeMs = def.max_age_s * 1000
    this.ctxMaxAgeMs = def.context_max_age_s * 1000
    this.mediumRank = PRIORITY_RANK[def.priority]
    this.redRank = PRIORITY_RANK[def.red_priority]
    this.lowRank = def.low_priority === 'none' ? -1 : PRIORITY_RANK[def.low_priority]
  }

  /** E.g. "NEWS2 6: medium clinical risk (RR 22: 2, SpO2 95: 1, pulse 95: 1; missing BP, temp, ACVPU, O2)". */
  describe(value: number, _rank: number, _sinceMs: number, detail?: unknown): string {
    const head = value >= 7 ? `NEWS2 ${value}: high clinical risk, emergency response`
      : value >= 5 ? `NEWS2 ${value}: medium clinical risk, urgent response`
      : detail instanceof News2Inputs && detail.lastRed ? `NEWS2 ${value}: low–medium clinical risk (single parameter 3), urgent ward-based response`
      : `NEWS2 ${value}: low clinical risk, ward-based assessment`
    if (!(detail instanceof News2Inputs)) return head
    const r = detail.result(detail.lastEvalMs, this.maxAgeMs, this.ctxMaxAgeMs)
    const parts = r.parts.map((p) =>
      p.param === 'air' ? `${p.value}: ${p.points}` : `${PARAM_LABEL[p.param]} ${typeof p.value === 'number' ? shown(p.param, p.value) : p.value}: ${p.points}`,
    )
    const missing = r.missing.length > 0 ? `; missing ${r.missing.map((m) => PARAM_LABEL[m]).join(', ')}` : ''
    const unconfirmed = r.unconfirmed.length > 0 ? `; ${r.unconfirmed.map((m) => PARAM_LABEL[m]).join(', ')} set over ${fmtHours(this.ctxMaxAgeMs)} ago, to confirm` : ''
    return `${head} (${parts.join(', ')}${missing}${unconfirmed})`
  }

  /** Fills `out` from the inputs at `nowMs`. */
  decide(inputs: News2Inputs, nowMs: number, out: Verdict): boolean {
    const total = inputs.aggregate(nowMs, this.maxAgeMs)
    const red = inputs.lastRed
    out.active = total >= 5 || red || (total >= 1 && this.lowRank >= 0)
    out.rank = total >= 7 ? 2 : total >= 5 ? this.mediumRank : red ? Math.max(this.redRank, this.lowRank) : this.lowRank
    out.value = total
    out.sinceMs = nowMs
    return true
  }
}

/** Latest valid NEWS2 inputs of one bed. */
export class News2Inputs {
  readonly values = new Float64Array(5).fill(Number.NaN)
  readonly timesMs = new Float64Array(5).fill(Number.NEGATIVE_INFINITY)
  consciousness: Acvpu | undefined = undefined
  consciousnessMs = Number.NEGATIVE_INFINITY
  onOxygen: boolean | undefined = undefined
  /** When oxygen was last set: like consciousness, to be confirmed after `context_max_age_s`. */
  onOxygenMs = Number.NEGATIVE_INFINITY
  /** A clinical decision: stays until changed (no age). */
  spo2Scale: 1 | 2 = 1
  lastRed = false
  /** Inputs that scored points in the last aggregate: bits 0–4 device slots, 5 consciousness, 6 oxygen (grouping.ts). */
  contributors = 0
  /** Time of the last aggregate (for the alarm message). */
  lastEvalMs = Number.NaN

  /** A new patient: nothing known. */
  reset(): void {
    this.values.fill(Number.NaN)
    this.timesMs.fill(Number.NEGATIVE_INFINITY)
    this.consciousness = undefined
    this.consciousnessMs = Number.NEGATIVE_INFINITY
    this.onOxygen = undefined
    this.onOxygenMs = Number.NEGATIVE_INFINITY
    this.spo2Scale = 1
    this.lastRed = false
    this.contributors = 0
    this.lastEvalMs = Number.NaN
  }

  /** Keeps the latest (by device time) valid value of a slot. */
  set(slot: number, value: number, tMs: number): void {
    if (tMs < this.timesMs[slot]!) return
    this.values[slot] = value
    this.timesMs[slot] = tMs
  }

  /**
   * Aggregate score of the inputs young enough at `nowMs`; sets `lastRed`. Reads the typed arrays
   * directly (no scratch object) so that no number is boxed on the per-record path.
   */
  aggregate(nowMs: number, maxAgeMs: number): number {
    let total = 0
    let red = false
    let contributors = 0
    const oxygenKnown = this.onOxygen !== undefined
    const onOxygen = this.onOxygen === true
    for (let slot = 0; slot < 5; slot++) {
      const v = this.values[slot]!
      if (Number.isNaN(v) || nowMs - this.timesMs[slot]! > maxAgeMs) continue
      const points = this.slotPoints(slot, v, onOxygen)
      total += points
      if (points > 0) contributors |= 1 << slot
      if (points === 3) red = true
    }
    if (this.consciousness !== undefined) {
      const points = consciousnessPoints(this.consciousness)
      total += points
      if (points > 0) contributors |= 1 << 5
      if (points === 3) red = true
    }
    if (oxygenKnown) {
      const points = airPoints(onOxygen)
      total += points
      if (points > 0) contributors |= 1 << 6
    }
    this.lastRed = red
    this.contributors = contributors
    this.lastEvalMs = nowMs
    return total
  }

  private slotPoints(slot: number, v: number, onOxygen: boolean): number {
    switch (slot) {
      case RR:
        return rrPoints(v)
      case SPO2:
        return this.spo2Scale === 2 ? spo2Scale2Points(v, onOxygen) : spo2Scale1Points(v)
      case SBP:
        return sbpPoints(v)
      case PULSE:
        return pulsePoints(v)
      default:
        return tempPoints(v)
    }
  }

  /** Full result for the dashboard (allocates). */
  result(nowMs: number, maxAgeMs: number, ctxMaxAgeMs: number): News2Result {
    const input = this.fill(nowMs, maxAgeMs)
    input.atMs = nowMs
    const times: Partial<Record<News2Param, number>> = { consciousness: this.consciousnessMs, air: this.onOxygenMs }
    DEVICE_PARAMS.forEach((p, i) => (times[p] = this.timesMs[i]!))
    const r = scoreNews2(input, times)
    const unconfirmed: News2Param[] = []
    if (this.consciousness !== undefined && nowMs - this.consciousnessMs > ctxMaxAgeMs) unconfirmed.push('consciousness')
    if (this.onOxygen !== undefined && nowMs - this.onOxygenMs > ctxMaxAgeMs) unconfirmed.push('air')
    return { ...r, band: news2Band(r.total, r.redScore), unconfirmed }
  }

  private fill(nowMs: number, maxAgeMs: number): News2Input {
    const s: News2Input = {}
    s.rr = this.fresh(RR, nowMs, maxAgeMs)
    s.spo2 = this.fresh(SPO2, nowMs, maxAgeMs)
    s.sbp = this.fresh(SBP, nowMs, maxAgeMs)
    s.pulse = this.fresh(PULSE, nowMs, maxAgeMs)
    s.temp = this.fresh(TEMP, nowMs, maxAgeMs)
    s.consciousness = this.consciousness
    s.onOxygen = this.onOxygen
    s.spo2Scale = this.spo2Scale
    return s
  }

  private fresh(slot: number, nowMs: number, maxAgeMs: number): number | undefined {
    const v = this.values[slot]!
    return Number.isNaN(v) || nowMs - this.timesMs[slot]! > maxAgeMs ? undefined : v
  }
}
