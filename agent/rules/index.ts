/**
 * agent/rules: the alarm engine's pure core (state + record + time in, alarm changes out).
 * See engine.ts for time frames, alarm-slot.ts for the IEC 60601-1-8 state machine, config.ts for
 * the YAML shape, defaults.ts for the cited default adult rules, news2.ts for RCP NEWS2.
 */
import { z } from 'zod'
import type { RulesConfig } from './config.js'
import { createRuleEngine as create } from './engine.js'
import { rulesConfigSchema as schema } from './schema.js'
import type { RuleEngine, RuleEngineOptions } from './types.js'

export type {
  AlarmPriority,
  AlarmCategory,
  AlarmState,
  AlarmChange,
  AlarmView,
  RuleEngine,
  RuleEngineOptions,
  RuleEngineStats,
  TechnicalCondition,
  RhythmCondition,
} from './types.js'
export { TECHNICAL_CONDITIONS, RHYTHM_CONDITIONS, PRIORITY_RANK } from './types.js'
export type { RulesConfig, RuleDef, BedRulesConfig, ThresholdRuleDef, WindowRuleDef, TrendRuleDef, News2RuleDef, TechnicalRuleDef, RhythmRuleDef } from './config.js'
export { RulesConfigError, ruleSchema } from './config.js'
export { DEFAULT_RULES, resolveRules } from './schema.js'
export { DEFAULT_RULE_DEFS } from './defaults.js'
export type { News2Result, News2Part, News2Band, News2Param, News2Input, Acvpu } from './news2.js'
export { scoreNews2, news2Band } from './news2.js'
export { Engine } from './engine.js'

/** zod 3 schema for the YAML `rules:` section (snake_case, strict, defaults; errors name rule id and field). */
export const rulesConfigSchema: z.ZodType<RulesConfig, z.ZodTypeDef, unknown> = schema

export function createRuleEngine(rules: RulesConfig, opts?: RuleEngineOptions): RuleEngine {
  return create(rules, opts)
}
