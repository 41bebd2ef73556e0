/**
 * Threshold with an alarm condition delay and hysteresis: "SpO2 < 90 % for 10 s".
 *
 * The condition delay (IEC 60601-1-8, protocols.md §10 [S-VOCAB]) runs on device time: the
 * condition is fulfilled once violating samples have covered `delayMs` with no normal sample in
 * between. It is decided in `observe()` the moment a sample completes the delay; `tick()` covers
 * delays that elapse between sparse samples (a sample stands for the patient for `holdMs`).
 * Once fulfilled, it ends only when a value is back past the limit by the hysteresis.
 *
 * Out-of-order samples (within the watermark): an earlier violating sample extends the run
 * backwards unless a normal sample is known after it; a late normal sample inside the run breaks
 * it, and the run restarts at the newest violating sample (conservative: the delay starts again).
 */
import { codeOf } from '../../../drivers/codes.js'
import type { Observation } from '../../../drivers/records.js'
import type { ThresholdRuleDef } from '../config.js'
import { PRIORITY_RANK } from '../types.js'
import { beyond, fmt, fmtSeconds, labelOf, opOf, opText, relaxedLimit, unitOf, type CompiledBase, type Evaluator, type Op, type Verdict } from './common.js'

export class ThresholdRule implements CompiledBase {
  readonly kind = 'threshold'
  readonly category = 'physiological'
  readonly id: string
  readonly code: number
  readonly codeRef: string
  readonly cooldownMs: number
  readonly latching: ThresholdRuleDef['latching']
  readonly op: Op
  readonly limit: number
  readonly clearLimit: number
  readonly delayMs: number
  readonly holdMs: number
  readonly rank: number
  readonly escRank: number
  readonly escLimit: number

  constructor(def: ThresholdRuleDef) {
    this.id = def.id
    this.codeRef = def.code
    this.code = codeOf(def.code)
    this.cooldownMs = def.cooldown_s * 1000
    this.latching = def.latching
    this.op = opOf(def.op)
    this.limit = def.limit
    this.clearLimit = relaxedLimit(this.op, def.limit, def.hysteresis)
    this.delayMs = def.delay_s * 1000
    this.holdMs = def.hold_s * 1000
    this.rank = PRIORITY_RANK[def.priority]
    this.escRank = def.escalate ? PRIORITY_RANK[def.escalate.priority] : -1
    this.escLimit = def.escalate ? def.escalate.limit : Number.NaN
  }

  rankOf(v: number): number {
    return this.escRank > this.rank && beyond(this.op, v, this.escLimit) ? this.escRank : this.rank
  }

  describe(value: number, rank: number): string {
    const limit = rank === this.escRank && rank > this.rank ? this.escLimit : this.limit
    const delay = this.delayMs > 0 ? ` for ${fmtSeconds(this.delayMs)}` : ''
    return `${labelOf(this.codeRef)} ${fmt(value)} ${unitOf(this.codeRef)} ${opText(this.op)} ${fmt(limit)}${delay}`
  }

  newState(): ThresholdState {
    return new ThresholdState(this)
  }
}

export class ThresholdState implements Evaluator {
  /** Start of the current violating run (NaN: none). */
  private runStartMs = Number.NaN
  private lastViolMs = Number.NEGATIVE_INFINITY
  private lastViolValue = Number.NaN
  private lastNormalMs = Number.NEGATIVE_INFINITY
  /** Condition fulfilled (delay elapsed, not yet back past the hysteresis). */
  private active = false
  readonly bytes = 64

  constructor(private readonly rule: ThresholdRule) {}

  observe(obs: Observation, out: Verdict): boolean {
    const t = obs.deviceTimeMs
    const v = obs.value
    const r = this.rule
    if (this.active) return this.observeActive(t, v, out)
    if (beyond(r.op, v, r.limit)) {
      if (t <= this.lastNormalMs) return false // late violation already followed by a normal value
      if (Number.isNaN(this.runStartMs) || t < this.runStartMs) this.runStartMs = t
      if (t >= this.lastViolMs) {
        this.lastViolMs = t
        this.lastViolValue = v
      }
      if (this.lastViolMs - this.runStartMs >= r.delayMs) return this.fulfilled(v, out)
      return this.inactive(out)
    }
    if (t > this.lastNormalMs) this.lastNormalMs = t
    if (!Number.isNaN(this.runStartMs) && t >= this.runStartMs) {
      if (t > this.lastViolMs) this.resetRun()
      else this.runStartMs = this.lastViolMs
    }
    return this.inactive(out)
  }

  tick(devNowMs: number, _wm: number, out: Verdict): boolean {
    if (this.active || Number.isNaN(this.runStartMs)) return false
    const heldUntil = Math.min(devNowMs, this.lastViolMs + this.rule.holdMs)
    if (heldUntil - this.runStartMs < this.rule.delayMs) return false
    return this.fulfilled(this.lastViolValue, out)
  }

  private observeActive(t: number, v: number, out: Verdict): boolean {
    const r = this.rule
    if (!beyond(r.op, v, r.clearLimit)) {
      if (t < this.lastViolMs) return false // a late normal value older than the newest violation
      this.active = false
      this.resetRun()
      this.lastNormalMs = Math.max(this.lastNormalMs, t)
      return this.inactive(out)
    }
    if (t >= this.lastViolMs) {
      this.lastViolMs = t
      this.lastViolValue = v
    }
    out.active = true
    out.rank = r.rankOf(v)
    out.value = v
    out.sinceMs = this.runStartMs
    return true
  }

  private fulfilled(v: number, out: Verdict): boolean {
    this.active = true
    out.active = true
    out.rank = this.rule.rankOf(v)
    out.value = v
    out.sinceMs = this.runStartMs
    return true
  }

  private inactive(out: Verdict): boolean {
    out.active = false
    return true
  }

  private resetRun(): void {
    this.runStartMs = Number.NaN
    this.lastViolMs = Number.NEGATIVE_INFINITY
    this.lastViolValue = Number.NaN
  }
}
