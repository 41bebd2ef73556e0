/**
 * The alarm state machine of one rule at one bed (IEC 60601-1-8 terms, protocols.md §10).
 *
 *   (none) ──condition true──▶ raised ──worse priority──▶ escalated
 *      ▲                          │ ack                     │ ack
 *      │                          ▼                         ▼
 *      └──── cleared ◀── condition ends ── acknowledged ◀───┘
 *
 * - One alarm per condition episode: while an episode is open, a still-true or flapping condition
 *   changes nothing; only a higher priority produces `escalated` (at once, even if acknowledged:
 *   an acknowledgement silences the current condition, not a worse one).
 * - Cooldown: the same condition at the same or lower priority does not raise again for
 *   `cooldownMs` after the last episode was raised, escalated or cleared (whichever is latest), so
 *   a value hovering at the limit after a long episode does not re-alarm every few seconds. If the
 *   condition is still true when the cooldown expires, it raises then (tick): a persisting
 *   condition is never hidden for good.
 * - Latching [S-LUCAS]: a latching alarm stays after its condition ends until acknowledged. Mode
 *   `high` latches once the episode reached high priority ("latch high, not low" [S-DRAGER-LATCH]).
 * - Non-latching alarms clear when the condition ends, acknowledged or not.
 * No allocation unless something changes: the AlarmChange object is built only on a change.
 */
import type { AlarmCategory, AlarmChange, AlarmPriority, AlarmState } from './types.js'
import { PRIORITY_BY_RANK } from './types.js'

/** What the slot needs to know about its rule (implemented by compiled rules). */
export interface SlotRule {
  readonly id: string
  readonly category: AlarmCategory
  readonly codeRef?: string
  readonly cooldownMs: number
  readonly latching: 'never' | 'always' | 'high'
  /** Human text for a change; only called when a change is emitted. */
  describe(value: number, rank: number, sinceMs: number, detail?: unknown): string
}

export class AlarmSlot {
  alarmId = ''
  state: AlarmState = 'cleared'
  rank = -1
  conditionSinceMs = Number.NaN
  /** Whether the condition is currently true (an open latched episode may have ended). */
  conditionActive = false
  value = Number.NaN
  message = ''
  ackBy: string | undefined = undefined
  /** Alarm grouping: the id of the alarm this one is folded under ('' = visible; grouping.ts). */
  foldedInto = ''
  /**
   * Context for the message, set by the engine (a reference, never built per record): the
   * reporting devices (string) for technical alarms, the bed's NEWS2 inputs for NEWS2.
   */
  detail: unknown = undefined
  /** Time of the last change (for `view`). */
  changedAtMs = Number.NaN
  cooldownFromMs = Number.NEGATIVE_INFINITY
  private lastIdMs = Number.NEGATIVE_INFINITY
  lastRaiseRank = -1
  /** Condition true but held back by the cooldown: since when, at which rank and value. */
  pendingSinceMs = Number.NaN
  pendingRank = -1
  pendingValue = Number.NaN

  get open(): boolean {
    return this.alarmId !== ''
  }

  latches(rule: SlotRule): boolean {
    return rule.latching === 'always' || (rule.latching === 'high' && this.rank >= 2)
  }

  /** The condition is true at `rank` with `value`, since `sinceMs`, observed at `atMs`. */
  fulfil(rule: SlotRule, bedId: string, rank: number, value: number, sinceMs: number, atMs: number): AlarmChange | undefined {
    if (this.open) {
      this.conditionActive = true
      if (rank <= this.rank) return undefined
      this.rank = rank
      this.value = value
      this.state = 'escalated'
      this.ackBy = undefined
      this.cooldownFromMs = atMs
      this.lastRaiseRank = rank
      return this.change(rule, bedId, atMs)
    }
    if (atMs - this.cooldownFromMs < rule.cooldownMs && rank <= this.lastRaiseRank) {
      if (Number.isNaN(this.pendingSinceMs)) this.pendingSinceMs = sinceMs
      if (rank > this.pendingRank) this.pendingRank = rank
      this.pendingValue = value
      return undefined
    }
    return this.raise(rule, bedId, rank, value, Number.isNaN(this.pendingSinceMs) ? sinceMs : this.pendingSinceMs, atMs)
  }

  /** The condition is false (observed at `atMs`). */
  relieve(rule: SlotRule, bedId: string, atMs: number): AlarmChange | undefined {
    this.pendingSinceMs = Number.NaN
    this.pendingRank = -1
    if (!this.open || !this.conditionActive) return undefined
    this.conditionActive = false
    if (atMs > this.cooldownFromMs) this.cooldownFromMs = atMs // the episode's condition ended now
    if (this.latches(rule) && this.state !== 'acknowledged') return undefined
    return this.clear(rule, bedId, atMs)
  }

  /** Time passes: a condition held back by the cooldown raises once the cooldown has expired. */
  tick(rule: SlotRule, bedId: string, atMs: number): AlarmChange | undefined {
    if (this.open || Number.isNaN(this.pendingSinceMs)) return undefined
    if (atMs - this.cooldownFromMs < rule.cooldownMs) return undefined
    return this.raise(rule, bedId, this.pendingRank, this.pendingValue, this.pendingSinceMs, atMs)
  }

  acknowledge(rule: SlotRule, bedId: string, by: string, atMs: number): AlarmChange | undefined {
    if (!this.open || this.state === 'acknowledged') return undefined
    this.ackBy = by
    // Latched with its condition over: clears now. The cooldown still counts from the condition's
    // end (device time), not from this hub-time acknowledgement.
    if (!this.conditionActive) return this.clear(rule, bedId, atMs)
    this.state = 'acknowledged'
    return this.change(rule, bedId, atMs)
  }

  /** A snapshot of the open alarm (for `active()`). */
  view(rule: SlotRule, bedId: string): AlarmChange {
    return this.snapshot(rule, bedId, this.changedAtMs)
  }

  /**
   * The patient left the bed: the open alarm clears whatever its state or latching (nobody is
   * there to acknowledge it), with `message` saying why; then the slot forgets the episode and its
   * cooldown, so the next patient starts afresh. Returns the change when an alarm was open.
   */
  close(rule: SlotRule, bedId: string, atMs: number, message: string): AlarmChange | undefined {
    let out: AlarmChange | undefined
    if (this.open) {
      this.message = message
      out = this.clear(rule, bedId, atMs)
    }
    this.cooldownFromMs = Number.NEGATIVE_INFINITY
    this.lastRaiseRank = -1
    this.pendingSinceMs = Number.NaN
    this.pendingRank = -1
    this.pendingValue = Number.NaN
    return out
  }

  private raise(rule: SlotRule, bedId: string, rank: number, value: number, sinceMs: number, atMs: number): AlarmChange {
    // The id's time part is the episode start, bumped past the previous episode's so that ids
    // stay unique even when two episodes report the same start (e.g. out-of-order data).
    const idMs = sinceMs > this.lastIdMs ? sinceMs : this.lastIdMs + 1
    this.lastIdMs = idMs
    this.alarmId = `${bedId}:${rule.id}:${idMs}`
    this.state = 'raised'
    this.rank = rank
    this.value = value
    this.conditionSinceMs = sinceMs
    this.conditionActive = true
    this.ackBy = undefined
    this.cooldownFromMs = atMs
    this.lastRaiseRank = rank
    this.pendingSinceMs = Number.NaN
    this.pendingRank = -1
    return this.change(rule, bedId, atMs)
  }

  private clear(rule: SlotRule, bedId: string, atMs: number): AlarmChange {
    this.state = 'cleared'
    const out = this.change(rule, bedId, atMs)
    this.alarmId = ''
    this.rank = -1
    this.conditionActive = false
    this.foldedInto = ''
    return out
  }

  private change(rule: SlotRule, bedId: string, atMs: number): AlarmChange {
    if (this.state !== 'cleared' && this.state !== 'acknowledged') this.message = rule.describe(this.value, this.rank, this.conditionSinceMs, this.detail)
    this.changedAtMs = atMs
    return this.snapshot(rule, bedId, atMs)
  }

  private snapshot(rule: SlotRule, bedId: string, atMs: number): AlarmChange {
    const c: { -readonly [K in keyof AlarmChange]: AlarmChange[K] } = {
      alarmId: this.alarmId,
      bedId,
      ruleId: rule.id,
      state: this.state,
      priority: PRIORITY_BY_RANK[this.rank] as AlarmPriority,
      category: rule.category,
      message: this.message,
      conditionSinceMs: this.conditionSinceMs,
      atMs,
      latching: this.latches(rule),
    }
    if (rule.codeRef !== undefined) c.code = rule.codeRef
    if (!Number.isNaN(this.value)) c.value = this.value
    if (this.ackBy !== undefined) c.ackBy = this.ackBy
    if (this.foldedInto !== '') c.foldedInto = this.foldedInto
    return c
  }
}
