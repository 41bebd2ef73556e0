/**
 * Trend against the patient's own baseline: "HR mean of the last 60 s is 30 /min above the
 * 30-min baseline". Both means are exponentially weighted on device time (time constants
 * `recent_s` and `baseline_s`), so the state is O(1) per bed whatever the sample rate; with
 * irregular sampling the weight of a sample is 1 − exp(−Δt/τ).
 * The baseline is frozen while the condition holds, so it does not adapt to the episode itself.
 * It decides nothing before `warmup_s` of data and `min_samples` samples.
 * Out-of-order samples (older than the newest) are ignored: an EWMA cannot take them back.
 */
import { codeOf } from '../../../drivers/codes.js'
import type { Observation } from '../../../drivers/records.js'
import type { TrendRuleDef } from '../config.js'
import { PRIORITY_RANK } from '../types.js'
import { fmt, fmtSeconds, labelOf, unitOf, type CompiledBase, type Evaluator, type Verdict } from './common.js'

export class TrendRule implements CompiledBase {
  readonly kind = 'trend'
  readonly category = 'physiological'
  readonly id: string
  readonly code: number
  readonly codeRef: string
  readonly cooldownMs: number
  readonly latching: TrendRuleDef['latching']
  readonly up: boolean
  readonly change: number
  readonly baselineTauMs: number
  readonly recentTauMs: number
  readonly warmupMs: number
  readonly minSamples: number
  readonly rank: number

  constructor(def: TrendRuleDef) {
    this.id = def.id
    this.codeRef = def.code
    this.code = codeOf(def.code)
    this.cooldownMs = def.cooldown_s * 1000
    this.latching = def.latching
    this.up = def.direction === 'up'
    this.change = def.change
    this.baselineTauMs = def.baseline_s * 1000
    this.recentTauMs = def.recent_s * 1000
    this.warmupMs = def.warmup_s * 1000
    this.minSamples = def.min_samples
    this.rank = PRIORITY_RANK[def.priority]
  }

  describe(value: number): string {
    const sign = this.up ? '+' : '−'
    return `${labelOf(this.codeRef)} ${sign}${fmt(Math.abs(value))} ${unitOf(this.codeRef)} against the baseline (limit ${sign}${fmt(this.change)} over ${fmtSeconds(this.recentTauMs)})`
  }

  newState(): TrendState {
    return new TrendState(this)
  }
}

export class TrendState implements Evaluator {
  private firstMs = Number.NaN
  private lastMs = Number.NaN
  private n = 0
  private baseline = Number.NaN
  private recent = Number.NaN
  private activeSinceMs = Number.NaN
  readonly bytes = 72

  constructor(private readonly rule: TrendRule) {}

  observe(obs: Observation, out: Verdict): boolean {
    const t = obs.deviceTimeMs
    const v = obs.value
    const r = this.rule
    if (Number.isNaN(this.firstMs)) {
      this.firstMs = this.lastMs = t
      this.baseline = this.recent = v
      this.n = 1
      return false
    }
    if (t < this.lastMs) return false
    const dt = t - this.lastMs
    this.lastMs = t
    this.n++
    this.recent += (v - this.recent) * (1 - Math.exp(-dt / r.recentTauMs))
    if (Number.isNaN(this.activeSinceMs)) this.baseline += (v - this.baseline) * (1 - Math.exp(-dt / r.baselineTauMs))
    if (t - this.firstMs < r.warmupMs || this.n < r.minSamples) return false
    const delta = this.recent - this.baseline
    const active = r.up ? delta >= r.change : -delta >= r.change
    if (active && Number.isNaN(this.activeSinceMs)) this.activeSinceMs = t
    out.active = active
    out.rank = r.rank
    out.value = Math.round(delta * 10) / 10
    out.sinceMs = this.activeSinceMs
    if (!active) this.activeSinceMs = Number.NaN
    return true
  }

  tick(): boolean {
    return false
  }
}
