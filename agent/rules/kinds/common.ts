/**
 * Shared pieces of the rule kinds: comparison operators, the verdict scratch object, the
 * evaluator contract, and short parameter labels for alarm messages.
 */
import { termByRef } from '../../../drivers/codes.js'
import type { Observation } from '../../../drivers/records.js'
import type { AlarmCategory } from '../types.js'

/** Operators as small integers so the hot path compares numbers, not strings. */
export const Op = { GT: 0, GE: 1, LT: 2, LE: 3 } as const
export type Op = (typeof Op)[keyof typeof Op]
export type OpText = '>' | '>=' | '<' | '<='
const OPS: readonly OpText[] = ['>', '>=', '<', '<=']

export function opOf(text: OpText): Op {
  return OPS.indexOf(text) as Op
}
export function opText(op: Op): OpText {
  return OPS[op]!
}
/** Whether `value` fulfils `value op limit`. NaN never fulfils. */
export function beyond(op: Op, value: number, limit: number): boolean {
  // Literal cases (not Op.GT …): this runs for every sample of every rule.
  if (op === 0) return value > limit
  if (op === 1) return value >= limit
  if (op === 2) return value < limit
  return value <= limit
}
/** The limit shifted by the hysteresis towards normal (clearing needs the value past it). */
export function relaxedLimit(op: Op, limit: number, hysteresis: number): number {
  return op === Op.GT || op === Op.GE ? limit - hysteresis : limit + hysteresis
}

/**
 * What an evaluator concluded from one sample or tick. One scratch object per engine is reused
 * for every record (no allocation on the hot path).
 */
export interface Verdict {
  active: boolean
  /** Priority rank when active (0 low, 1 medium, 2 high). */
  rank: number
  value: number
  /** Device time the condition started. */
  sinceMs: number
  /** Input: the bed's watermark (device time) for the call. Passed here, not as an argument, so no double is boxed per call. */
  watermarkMs: number
}

/** Per-bed, per-rule state of a physiological rule. */
export interface Evaluator {
  /**
   * One valid observation (device time `obs.deviceTimeMs`, bed watermark in `out.watermarkMs`).
   * True when `out` holds a verdict. Takes the record, not (t, v): a polymorphic call with
   * double arguments would box them on every record.
   */
  observe(obs: Observation, out: Verdict): boolean
  /** Device time has advanced to `devNowMs` without this sample stream. True when `out` holds a verdict. */
  tick(devNowMs: number, watermarkMs: number, out: Verdict): boolean
  /** Approximate bytes of state held, for the memory report. */
  readonly bytes: number
}

/** The compiled-rule members every kind shares (also what AlarmSlot needs). */
export interface CompiledBase {
  readonly id: string
  readonly kind: 'threshold' | 'window' | 'trend' | 'news2' | 'technical' | 'rhythm'
  readonly category: AlarmCategory
  readonly codeRef?: string
  readonly cooldownMs: number
  readonly latching: 'never' | 'always' | 'high'
  describe(value: number, rank: number, sinceMs: number, detail?: unknown): string
}

const LABELS: Readonly<Record<string, string>> = {
  MDC_ECG_HEART_RATE: 'HR',
  MDC_PULS_RATE: 'Pulse',
  MDC_PULS_OXIM_PULS_RATE: 'PR',
  MDC_PULS_OXIM_SAT_O2: 'SpO2',
  MDC_RESP_RATE: 'RR',
  MDC_PRESS_BLD_NONINV_SYS: 'NIBP sys',
  MDC_PRESS_BLD_SYS: 'BP sys',
  MDC_PRESS_BLD_ART_SYS: 'ART sys',
  MDC_TEMP_BODY: 'Temp',
  MDC_TEMP_CORE: 'Temp core',
}
export function labelOf(ref: string): string {
  return LABELS[ref] ?? ref
}
export function unitOf(ref: string): string {
  const u = termByRef(ref)?.unit ?? ''
  return u === 'Cel' ? '°C' : u === 'mm[Hg]' ? 'mmHg' : u
}
/** Values in messages: integers as-is, others to one decimal. */
export function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(1)
}
export function fmtSeconds(ms: number): string {
  return `${fmt(ms / 1000)} s`
}
/** "12 h", "90 min" */
export function fmtHours(ms: number): string {
  return ms >= 3_600_000 ? `${fmt(ms / 3_600_000)} h` : `${fmt(ms / 60_000)} min`
}
