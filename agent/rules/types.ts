/**
 * Public types of the alarm engine (agent/rules). Pure: the engine is a function of
 * (state, record, time); it never reads a clock and never does I/O.
 *
 * Alarm vocabulary follows IEC 60601-1-8 as summarised in protocols.md §10: priorities
 * high/medium/low, physiological vs technical conditions, latching vs non-latching signals.
 */
import type { Observation } from '../../drivers/records.js'
import type { News2Result } from './news2.js'

export type AlarmPriority = 'high' | 'medium' | 'low'
/**
 * `physiological`: a parameter beyond its limit; `technical`: the equipment; `clinical-escalation`:
 * the patient's aggregate early-warning score (NEWS2) crossed an RCP response threshold, a call to
 * assess the patient rather than a parameter's limit alarm (issue 19).
 */
export type AlarmCategory = 'physiological' | 'technical' | 'clinical-escalation'
export type AlarmState = 'raised' | 'escalated' | 'acknowledged' | 'cleared'

/** Conditions the agent reports about devices and itself (not derived from values). */
export type TechnicalCondition =
  | 'disconnected'
  | 'low-battery'
  | 'leads-off'
  | 'sensor-off'
  | 'clock-drift'
  | 'no-data'
  | 'queue-over-quota'
  /** ECG too noisy to trust the derived HR (agent/signal). */
  | 'ecg-noise'
  /** ECG clipped at the device's rails (agent/signal). */
  | 'ecg-saturation'
  /** The daily store self-test could not write and read back a record (agent/housekeeping). */
  | 'self-test-failed'

export const TECHNICAL_CONDITIONS: readonly TechnicalCondition[] = [
  'disconnected',
  'low-battery',
  'leads-off',
  'sensor-off',
  'clock-drift',
  'no-data',
  'queue-over-quota',
  'ecg-noise',
  'ecg-saturation',
  'self-test-failed',
]

/**
 * Rhythm episodes from the per-patch ECG analysis (agent/signal/rhythm.ts, the same labels as
 * `bedside-hub rhythm`): asystole, ventricular fibrillation/flutter, ventricular tachycardia,
 * atrial fibrillation, extreme bradycardia and tachycardia.
 */
export type RhythmCondition = 'ASYS' | 'VF' | 'VT' | 'AFIB' | 'BRADY' | 'TACHY'
export const RHYTHM_CONDITIONS: readonly RhythmCondition[] = ['ASYS', 'VF', 'VT', 'AFIB', 'BRADY', 'TACHY']

/** Priority as a rank so comparisons on the hot path are integer compares. */
export const PRIORITY_RANK: Readonly<Record<AlarmPriority, number>> = { low: 0, medium: 1, high: 2 }
export const PRIORITY_BY_RANK: readonly AlarmPriority[] = ['low', 'medium', 'high']

export interface AlarmChange {
  /**
   * Stable per episode: `${bedId}:${ruleId}:${conditionSinceMs}` (the time part bumped by 1 ms if
   * an earlier episode of the same rule and bed used it); unique within a hub.
   */
  readonly alarmId: string
  readonly bedId: string
  readonly ruleId: string
  readonly state: AlarmState
  readonly priority: AlarmPriority
  readonly category: AlarmCategory
  /** MDC reference id of the parameter, when there is one. */
  readonly code?: string
  /** The value that fulfilled/escalated the condition (an aggregate or score for window/NEWS2 rules). */
  readonly value?: number
  /** Human text, e.g. "HR 185 /min > 120 for 10 s". */
  readonly message: string
  /** Time the condition started: device time for physiological, hub time for technical alarms. */
  readonly conditionSinceMs: number
  /** Time of this change: device time (physiological) or hub time (technical, acknowledgements). */
  readonly atMs: number
  readonly latching: boolean
  readonly ackBy?: string
  /**
   * Alarm grouping (agent/rules/grouping.ts): the id of the alarm of the same bed and parameter
   * this one is folded under (a higher-priority one, or an earlier one of the same priority). A
   * folded alarm is kept in the history and on alert-events but is not a list entry of its own and
   * does not sound. Absent when the alarm is visible. Set as of the change; a later change of
   * visibility alone (the alarm it was folded under ended) is not a state change: `active()` and
   * the page show it, and a consumer of changes applies the same rule (grouping.ts).
   */
  readonly foldedInto?: string
}

/** Current state of an alarm that is not cleared. */
export interface AlarmView extends AlarmChange {}

/** Counters the agent exports as metrics (no silent loss, STYLE.md §7). */
export interface RuleEngineStats {
  readonly beds: number
  /** Observations older than the bed's watermark: not evaluated (counted, never silently). */
  readonly lateDropped: number
  /** Observations with quality flags: not used for physiological rules. */
  readonly flaggedIgnored: number
  /** Observations whose code no rule of the bed uses. */
  readonly unmatched: number
}

export interface RuleEngine {
  /**
   * One valid-or-flagged observation of a bed's device. Device time is obs.deviceTimeMs.
   * Returns changes (a shared empty array when none: no allocation on the common path).
   */
  observe(bedId: string, obs: Observation): readonly AlarmChange[]
  /**
   * Technical input: device link/battery/leads conditions, queue over quota. atMs is hub time.
   * Hub-wide conditions (queue-over-quota) go to a bed id of the caller's choice (e.g. the hub id).
   */
  technical(
    bedId: string,
    deviceId: string,
    condition: TechnicalCondition,
    active: boolean,
    atMs: number,
    detail?: string,
  ): readonly AlarmChange[]
  /**
   * A rhythm episode of one of the bed's ECG devices starts (`active`, since device time
   * `sinceMs`) or ends, decided at device time `atMs`. Physiological: raised at once at the
   * rule's priority, cleared at the episode's end (or, latching, on acknowledgement).
   */
  rhythm(bedId: string, deviceId: string, condition: RhythmCondition, active: boolean, sinceMs: number, atMs: number): readonly AlarmChange[]
  /** Clock tick (hub time, about every 250 ms): condition delays that elapse without new data, no-data timeouts, cooldown expiry. */
  tick(nowMs: number): readonly AlarmChange[]
  /**
   * Operator acknowledgement. Returns the change, or undefined when the id is unknown, already
   * cleared, or already acknowledged. A latched alarm whose condition has ended clears on ack.
   */
  acknowledge(alarmId: string, by: string, atMs: number): AlarmChange | undefined
  /** Alarms not yet cleared (raised, escalated, acknowledged, or latched). */
  active(): readonly AlarmView[]
  /** NEWS2 per bed, for the dashboard. */
  news2(bedId: string): News2Result | undefined
  /** Patient-level inputs NEWS2 needs that no device sends (consciousness ACVPU, on-oxygen, SpO2 scale). */
  setPatientContext(
    bedId: string,
    ctx: { spo2Scale?: 1 | 2; onOxygen?: boolean; consciousness?: 'A' | 'C' | 'V' | 'P' | 'U' },
    atMs: number,
  ): readonly AlarmChange[]
  /**
   * The bed's patient changed (discharge, admission, transfer): every open physiological and
   * clinical-escalation alarm of the bed is cleared (the changes are returned, to be published like
   * any other), and what the engine knew of the patient (windows, trends, NEWS2 inputs, cooldowns)
   * is forgotten. Technical alarms stay: they are about the devices, which stay at the bed.
   */
  resetBed(bedId: string, atMs: number): readonly AlarmChange[]
  /** Counters for /metrics. */
  stats(): RuleEngineStats
}

export interface RuleEngineOptions {
  /** How far behind a bed's newest device time a record may arrive and still count. Default 10 000 ms. */
  watermarkMs?: number
  /**
   * Quality bits that still count as a valid value (default 0: any flag disqualifies, as
   * records.ts says). The agent may pass e.g. `Quality.RETIMED | Quality.DEMO` for the demo ward.
   */
  validQualityMask?: number
}

