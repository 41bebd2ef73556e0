/**
 * Windowed aggregates: "avg HR > 110 over 60 s with at least 5 samples", "SpO2 < 90 % three times
 * in 120 s" (count of excursions: entries into the excursion region, not samples in it).
 *
 * Sliding windows keep the window's samples in a capped, time-ordered ring (TimeRing) and decide on
 * every sample over (newest − window, newest]. Tumbling windows [k·W, (k+1)·W) keep O(1)
 * accumulators and decide when the bed's watermark passes the window's end, so late samples within
 * the watermark still count; the decision holds until the next window closes.
 */
import { codeOf } from '../../../drivers/codes.js'
import type { Observation } from '../../../drivers/records.js'
import type { WindowRuleDef } from '../config.js'
import { TimeRing } from '../ring.js'
import { PRIORITY_RANK } from '../types.js'
import { beyond, fmt, fmtSeconds, labelOf, opOf, opText, unitOf, type CompiledBase, type Evaluator, type Op, type Verdict } from './common.js'

const AGG = { avg: 0, min: 1, max: 2, count: 3 } as const

export class WindowRule implements CompiledBase {
  readonly kind = 'window'
  readonly category = 'physiological'
  readonly id: string
  readonly code: number
  readonly codeRef: string
  readonly cooldownMs: number
  readonly latching: WindowRuleDef['latching']
  readonly sliding: boolean
  readonly windowMs: number
  readonly agg: number
  readonly op: Op
  readonly limit: number
  readonly excOp: Op
  readonly excLimit: number
  readonly minSamples: number
  readonly maxSamples: number
  readonly rank: number
  readonly escRank: number
  readonly escLimit: number
  private readonly aggName: string

  constructor(def: WindowRuleDef) {
    this.id = def.id
    this.codeRef = def.code
    this.code = codeOf(def.code)
    this.cooldownMs = def.cooldown_s * 1000
    this.latching = def.latching
    this.sliding = def.window === 'sliding'
    this.windowMs = def.window_s * 1000
    this.agg = AGG[def.aggregate]
    this.aggName = def.aggregate
    this.op = opOf(def.op)
    this.limit = def.limit
    this.excOp = opOf(def.excursion?.op ?? '>')
    this.excLimit = def.excursion?.limit ?? Number.NaN
    this.minSamples = def.min_samples
    this.maxSamples = def.max_samples
    this.rank = PRIORITY_RANK[def.priority]
    this.escRank = def.escalate ? PRIORITY_RANK[def.escalate.priority] : -1
    this.escLimit = def.escalate ? def.escalate.limit : Number.NaN
  }

  describe(value: number): string {
    const label = labelOf(this.codeRef)
    const over = `over ${fmtSeconds(this.windowMs)}`
    if (this.agg === AGG.count) {
      return `${label} ${opText(this.excOp)} ${fmt(this.excLimit)} ${unitOf(this.codeRef)} ${fmt(value)} times ${over} (${opText(this.op)} ${fmt(this.limit)})`
    }
    return `${label} ${this.aggName} ${fmt(value)} ${unitOf(this.codeRef)} ${opText(this.op)} ${fmt(this.limit)} ${over}`
  }

  /** Decides from an aggregate of `n` samples; fills `out`. */
  decide(aggregate: number, n: number, sinceMs: number, out: Verdict): boolean {
    out.active = n >= this.minSamples && beyond(this.op, aggregate, this.limit)
    out.rank = out.active && this.escRank > this.rank && beyond(this.op, aggregate, this.escLimit) ? this.escRank : this.rank
    out.value = aggregate
    out.sinceMs = sinceMs
    return true
  }

  newState(): Evaluator {
    return this.sliding ? new SlidingState(this) : new TumblingState(this)
  }
}

/**
 * Sliding window with incremental sum and excursion count (O(1) per in-order sample; min/max scan
 * the ring). Out-of-order inserts and every `capacity` inserts recompute from the ring, which
 * also bounds floating-point drift of the running sum.
 */
class SlidingState implements Evaluator {
  private readonly ring: TimeRing
  private sum = 0
  private excursions = 0
  private sinceRecompute = 0
  private activeSinceMs = Number.NaN

  constructor(private readonly rule: WindowRule) {
    this.ring = new TimeRing(rule.maxSamples)
  }
  get bytes(): number {
    return this.ring.bytes + 64
  }

  observe(obs: Observation, out: Verdict): boolean {
    const t = obs.deviceTimeMs
    const v = obs.value
    const r = this.rule
    const ring = this.ring
    if (t >= ring.newestTime() && this.sinceRecompute < ring.capacity) {
      if (ring.size === ring.capacity) this.dropOldest()
      const prevOut = ring.size > 0 && beyond(r.excOp, ring.valueAt(ring.size - 1), r.excLimit)
      ring.insert(t, v)
      this.sum += v
      if (!prevOut && beyond(r.excOp, v, r.excLimit)) this.excursions++
      this.sinceRecompute++
    } else {
      ring.insert(t, v)
      this.recompute()
    }
    const oldestKeptMs = ring.newestTime() - r.windowMs
    while (ring.size > 0 && ring.timeAt(0) <= oldestKeptMs) this.dropOldest()
    const n = ring.size
    // The condition starts at the sample that made the aggregate cross the limit.
    r.decide(this.aggregate(n), n, Number.isNaN(this.activeSinceMs) ? t : this.activeSinceMs, out)
    this.activeSinceMs = out.active ? out.sinceMs : Number.NaN
    return true
  }

  tick(): boolean {
    return false // a sliding window decides on samples; silence is the no-data rule's business
  }

  private aggregate(n: number): number {
    const agg = this.rule.agg
    if (agg === AGG.avg) return n > 0 ? this.sum / n : Number.NaN
    if (agg === AGG.count) return this.excursions
    let acc = agg === AGG.min ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY
    for (let i = 0; i < n; i++) {
      const x = this.ring.valueAt(i)
      if (agg === AGG.min ? x < acc : x > acc) acc = x
    }
    return acc
  }

  /** Removes the oldest sample from the ring and from the running sum/count. */
  private dropOldest(): void {
    const r = this.rule
    const ring = this.ring
    const v0 = ring.valueAt(0)
    this.sum -= v0
    // The oldest sample counts as an excursion entry when out; after it leaves, the next sample
    // does (if out). Net change: −1 only when it was out and the next one is not.
    if (beyond(r.excOp, v0, r.excLimit) && (ring.size === 1 || !beyond(r.excOp, ring.valueAt(1), r.excLimit))) this.excursions--
    ring.dropOldest()
  }

  private recompute(): void {
    const r = this.rule
    const ring = this.ring
    let sum = 0
    let excursions = 0
    let wasOut = false
    for (let i = 0; i < ring.size; i++) {
      const x = ring.valueAt(i)
      sum += x
      const isOut = beyond(r.excOp, x, r.excLimit)
      if (isOut && !wasOut) excursions++
      wasOut = isOut
    }
    this.sum = sum
    this.excursions = excursions
    this.sinceRecompute = 0
  }
}

/** O(1) accumulator of one tumbling window. */
class Acc {
  n = 0
  sum = 0
  min = Number.POSITIVE_INFINITY
  max = Number.NEGATIVE_INFINITY
  excursions = 0
  lastT = Number.NEGATIVE_INFINITY
  lastOut = false
  reset(): void {
    this.n = 0
    this.sum = 0
    this.min = Number.POSITIVE_INFINITY
    this.max = Number.NEGATIVE_INFINITY
    this.excursions = 0
    this.lastT = Number.NEGATIVE_INFINITY
    this.lastOut = false
  }
}

class TumblingState implements Evaluator {
  /** Index of the oldest window not yet decided (NaN before the first sample). */
  private openIdx = Number.NaN
  /** Accumulators of windows openIdx and openIdx + 1 (a late sample may belong to the older one). */
  private readonly a = new Acc()
  private readonly b = new Acc()
  readonly bytes = 160

  constructor(private readonly rule: WindowRule) {}

  observe(obs: Observation, out: Verdict): boolean {
    const t = obs.deviceTimeMs
    const v = obs.value
    const wm = out.watermarkMs
    const idx = Math.floor(t / this.rule.windowMs)
    if (Number.isNaN(this.openIdx)) this.openIdx = idx
    const decided = this.closeAll(wm, out)
    // Beyond both kept windows (a gap in data, both already empty): start at this sample's window.
    if (idx > this.openIdx + 1) this.skipTo(idx)
    if (idx === this.openIdx) this.add(this.a, t, v)
    else if (idx === this.openIdx + 1) this.add(this.b, t, v)
    // idx < openIdx: that window was already decided; the sample is too late for it.
    return decided
  }

  tick(_devNowMs: number, wm: number, out: Verdict): boolean {
    return this.closeAll(wm, out)
  }

  /** Decides every window whose end the watermark has passed; `out` holds the newest decision. */
  private closeAll(wm: number, out: Verdict): boolean {
    let decided = false
    while (this.closeOne(wm, out)) {
      decided = true
      // Long silence: skip the empty windows in one step instead of deciding each of them.
      if (this.a.n === 0 && this.b.n === 0) {
        const idx = Math.floor(wm / this.rule.windowMs)
        if (idx > this.openIdx) this.skipTo(idx)
      }
    }
    return decided
  }

  /** Decides window openIdx when the watermark has passed its end. */
  private closeOne(wm: number, out: Verdict): boolean {
    if (Number.isNaN(this.openIdx)) return false
    const r = this.rule
    const endMs = (this.openIdx + 1) * r.windowMs
    if (wm < endMs) return false
    const a = this.a
    const value = r.agg === 0 ? (a.n > 0 ? a.sum / a.n : Number.NaN) : r.agg === 1 ? a.min : r.agg === 2 ? a.max : a.excursions
    r.decide(value, a.n, this.openIdx * r.windowMs, out)
    // Shift: b becomes the open window.
    a.n = this.b.n; a.sum = this.b.sum; a.min = this.b.min; a.max = this.b.max
    a.excursions = this.b.excursions; a.lastT = this.b.lastT; a.lastOut = this.b.lastOut
    this.b.reset()
    this.openIdx++
    return true
  }

  private skipTo(idx: number): void {
    this.a.reset()
    this.b.reset()
    this.openIdx = idx
  }

  private add(acc: Acc, t: number, v: number): void {
    const r = this.rule
    acc.n++
    acc.sum += v
    if (v < acc.min) acc.min = v
    if (v > acc.max) acc.max = v
    const isOut = beyond(r.excOp, v, r.excLimit)
    // Excursion entries are counted in arrival order; an out-of-order sample counts only if it is newer.
    if (t >= acc.lastT) {
      if (isOut && !acc.lastOut) acc.excursions++
      acc.lastOut = isOut
      acc.lastT = t
    }
  }
}
