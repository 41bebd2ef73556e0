/**
 * The YAML `rules:` section: schema (zod 3, snake_case, strict objects, defaults) and types.
 *
 * Shape (paste into packaging/config.example.yaml):
 *
 * ```yaml
 * rules:
 *   defaults: true            # start from the cited default adult set (agent/rules/defaults.ts)
 *   set:                      # ward-wide: a known id patches that rule, a new id adds a rule
 *     - { id: hr-high, limit: 130 }                 # patch: only the fields given change
 *     - id: spo2-dips
 *       kind: window
 *       code: MDC_PULS_OXIM_SAT_O2
 *       window: sliding       # sliding | tumbling
 *       window_s: 60
 *       aggregate: count      # avg | min | max | count (count = excursions into `excursion`)
 *       excursion: { op: "<", limit: 90 }
 *       op: ">="
 *       limit: 3
 *       priority: low
 *     - { id: news2, red_priority: medium, max_age_s: 1800 }   # NEWS2: inputs older than 30 min do not count
 *     - { id: tech-no-data, timeout_s: 20 }
 *     - { id: rhythm-afib, priority: medium }          # rhythm episodes of the ECG analysis (ASYS VF VT AFIB BRADY TACHY)
 *     - id: rr-fall                                    # trend against the patient's own baseline
 *       kind: trend
 *       code: MDC_RESP_RATE
 *       direction: down       # up | down
 *       change: 6             # /min below the baseline
 *       baseline_s: 1800
 *       recent_s: 60
 *       priority: low
 *   grouping: true            # one visible alarm per bed and parameter (agent/rules/grouping.ts)
 *   beds:
 *     "3a-01":                # per-bed: applied on top of the ward rules
 *       grouping: true        # per bed, over the ward's
 *       disable: [hr-avg-high]
 *       set:
 *         - { id: spo2-low, limit: 88, escalate: { limit: 84 } }   # COPD target 88–92 %
 * ```
 *
 * Common fields: id, kind, priority (high|medium|low), latching (never|always|high = latch once
 * high), cooldown_s (300: no new raise of the same condition within it), source (citation).
 * Rule kinds: threshold, window, trend, news2, technical, rhythm (fields below; a rhythm rule names
 * its `rhythm`, one of the labels of `bedside-hub rhythm`). Times are in seconds in
 * YAML (`delay_s`, `window_s`) and milliseconds inside the engine. Every error names the rule id
 * and the field: `rules.set[0].limit: rule "hr-high" field "limit": Expected number, received string`.
 */
import { z } from 'zod'
import { termByRef } from '../../drivers/codes.js'
import { RHYTHM_CONDITIONS, TECHNICAL_CONDITIONS } from './types.js'

const ruleId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'ids are 1–64 of A-Z a-z 0-9 _ . - (starting alphanumeric)')
const priority = z.enum(['high', 'medium', 'low'])
const op = z.enum(['>', '>=', '<', '<='])
const mdcRef = z.string().refine((r) => termByRef(r)?.kind === 'numeric', { message: 'not a known numeric MDC reference id (drivers/codes.ts)' })
const seconds = z.number().finite().nonnegative()

/** Fields every rule has. `latching`: enum over boolean (STYLE.md §5); `high` = latch once high priority. */
const common = {
  id: ruleId,
  priority: priority.default('medium'),
  latching: z.enum(['never', 'always', 'high']).default('high'),
  cooldown_s: seconds.default(300),
  /** Source of the limit, kept with the rule so the dashboard and audits can show it. */
  source: z.string().optional(),
}
const escalate = z.object({ limit: z.number().finite(), priority: priority.default('high') }).strict()

export const thresholdRuleSchema = z
  .object({
    ...common,
    kind: z.literal('threshold'),
    code: mdcRef,
    op,
    limit: z.number().finite(),
    /** Alarm condition delay (IEC 60601-1-8, protocols.md §10): how long the limit must be violated. */
    delay_s: seconds.default(0),
    /** Clearing needs the value back past limit ∓ hysteresis. */
    hysteresis: z.number().finite().nonnegative().default(0),
    /** How long one sample stands for the patient when no newer one arrives (for tick-time delays). */
    hold_s: seconds.default(30),
    escalate: escalate.optional(),
  })
  .strict()

export const windowRuleSchema = z
  .object({
    ...common,
    kind: z.literal('window'),
    code: mdcRef,
    window: z.enum(['sliding', 'tumbling']),
    window_s: z.number().finite().positive(),
    aggregate: z.enum(['avg', 'min', 'max', 'count']),
    /** For `count`: what one excursion is (entries into this region are counted, not samples). */
    excursion: z.object({ op, limit: z.number().finite() }).strict().optional(),
    op,
    limit: z.number().finite(),
    min_samples: z.number().int().positive().default(1),
    /** Memory cap of a sliding window (ring buffer); the newest samples are kept. */
    max_samples: z.number().int().min(2).max(4096).default(128),
    escalate: escalate.optional(),
  })
  .strict()

export const trendRuleSchema = z
  .object({
    ...common,
    kind: z.literal('trend'),
    code: mdcRef,
    direction: z.enum(['up', 'down']),
    /** Absolute change of the recent mean against the baseline, in the parameter's unit. */
    change: z.number().finite().positive(),
    baseline_s: z.number().finite().positive().default(1800),
    recent_s: z.number().finite().positive().default(60),
    warmup_s: seconds.default(300),
    min_samples: z.number().int().positive().default(10),
  })
  .strict()

export const news2RuleSchema = z
  .object({
    ...common,
    kind: z.literal('news2'),
    /** Device inputs older than this do not count (protocols.md §9 asks for the latest valid values). */
    max_age_s: z.number().finite().positive().default(3600),
    /**
     * Consciousness and oxygen set at the bedside count until changed; older than this, the alarm
     * message and the dashboard ask a nurse to confirm them (the SpO2 scale stays until changed).
     */
    context_max_age_s: z.number().finite().positive().default(43200),
    /** Priority of a single-parameter 3 ("red score", RCP Chart 2: urgent ward-based response). */
    red_priority: priority.default('medium'),
    /** Priority of an aggregate of 1–4 (RCP Chart 2: low clinical risk, ward-based response); `none`: no alarm. */
    low_priority: z.enum(['high', 'medium', 'low', 'none']).default('low'),
  })
  .strict()

export const technicalRuleSchema = z
  .object({
    ...common,
    kind: z.literal('technical'),
    condition: z.enum(TECHNICAL_CONDITIONS as [string, ...string[]]),
    delay_s: seconds.default(0),
    /** For `no-data`: seconds without any observation of the bed. */
    timeout_s: z.number().finite().positive().default(30),
  })
  .strict()

/** A rhythm episode of the bed's ECG analysis (kinds/rhythm.ts); its timing is the analysis's own. */
export const rhythmRuleSchema = z
  .object({
    ...common,
    kind: z.literal('rhythm'),
    rhythm: z.enum(RHYTHM_CONDITIONS as [string, ...string[]]),
  })
  .strict()

export const ruleSchema = z.discriminatedUnion('kind', [
  thresholdRuleSchema,
  windowRuleSchema,
  trendRuleSchema,
  news2RuleSchema,
  technicalRuleSchema,
  rhythmRuleSchema,
])

export type ThresholdRuleDef = z.output<typeof thresholdRuleSchema>
export type WindowRuleDef = z.output<typeof windowRuleSchema>
export type TrendRuleDef = z.output<typeof trendRuleSchema>
export type News2RuleDef = z.output<typeof news2RuleSchema>
export type TechnicalRuleDef = Omit<z.output<typeof technicalRuleSchema>, 'condition'> & {
  condition: (typeof TECHNICAL_CONDITIONS)[number]
}
export type RhythmRuleDef = Omit<z.output<typeof rhythmRuleSchema>, 'rhythm'> & {
  rhythm: (typeof RHYTHM_CONDITIONS)[number]
}
export type RuleDef = ThresholdRuleDef | WindowRuleDef | TrendRuleDef | News2RuleDef | TechnicalRuleDef | RhythmRuleDef
/** What YAML may give for a rule: a full rule, or `{ id, ...fields }` patching a rule of that id. */
export type RuleInput = { id: string } & Record<string, unknown>

export interface BedRulesConfig {
  /** Alarm grouping for this bed (agent/rules/grouping.ts); absent: the ward's. */
  readonly grouping?: boolean
  readonly disable: readonly string[]
  /** Full rule definitions after patching (ward rule of the same id + the bed's fields). */
  readonly set: readonly RuleDef[]
}
/** The parsed, normalised `rules:` section: every `set` entry is a complete, validated rule. */
export interface RulesConfig {
  /** Include the default adult set (defaults.ts) under `set`. */
  readonly defaults: boolean
  /**
   * Alarm grouping (agent/rules/grouping.ts): per bed and parameter, one visible alarm. Absent:
   * on, as the default rule set expects (its window and trend rules sit under the limit rules).
   */
  readonly grouping?: boolean
  readonly set: readonly RuleDef[]
  readonly beds: Readonly<Record<string, BedRulesConfig>>
}

/** Typed error for programmatic configs (createRuleEngine); carries the rule id and field. */
export class RulesConfigError extends Error {
  readonly code = 'BEDSIDE_ERR_RULE_CONFIG'
  constructor(
    readonly ruleId: string,
    readonly field: string,
    message: string,
  ) {
    super(`rule "${ruleId}" field "${field}": ${message}`)
    this.name = 'RulesConfigError'
  }
}
