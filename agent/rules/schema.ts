/**
 * `rulesConfigSchema`: parses the YAML `rules:` section into a normalised RulesConfig in which every
 * `set` entry is a complete, validated rule (patches merged onto the rule of the same id).
 * Every issue names the rule id and the field, with the zod path pointing at the YAML entry.
 */
import { z } from 'zod'
import { ruleSchema, RulesConfigError, type BedRulesConfig, type RuleDef, type RulesConfig } from './config.js'
import { DEFAULT_RULE_DEFS } from './defaults.js'

const ruleInput = z.object({ id: z.string({ required_error: 'every rule needs an id' }) }).passthrough()
const rawSection = z
  .object({
    defaults: z.boolean().default(true),
    grouping: z.boolean().default(true),
    set: z.array(ruleInput).default([]),
    beds: z
      .record(z.object({ grouping: z.boolean().optional(), disable: z.array(z.string()).default([]), set: z.array(ruleInput).default([]) }).strict())
      .default({}),
  })
  .strict()
  .default({})

type Issue = { path: (string | number)[]; ruleId: string; field: string; message: string }

/** Cross-field checks zod's object schemas cannot express; [field, message] pairs. */
export function semanticIssues(def: RuleDef): Array<[string, string]> {
  const out: Array<[string, string]> = []
  if (def.kind === 'window') {
    if (def.aggregate === 'count' && !def.excursion) out.push(['excursion', 'aggregate "count" needs excursion: { op, limit }'])
    if (def.aggregate !== 'count' && def.excursion) out.push(['excursion', 'excursion is only used with aggregate "count"'])
    if (def.min_samples > def.max_samples) out.push(['min_samples', `must not exceed max_samples (${def.max_samples})`])
  }
  if ((def.kind === 'threshold' || def.kind === 'window') && def.escalate) {
    const upward = def.op === '>' || def.op === '>='
    const ok = upward ? def.escalate.limit >= def.limit : def.escalate.limit <= def.limit
    if (!ok) out.push(['escalate.limit', `must be ${upward ? 'at or above' : 'at or below'} limit ${def.limit} (op "${def.op}")`])
  }
  if (def.kind === 'trend' && def.recent_s >= def.baseline_s) out.push(['recent_s', `must be shorter than baseline_s (${def.baseline_s})`])
  return out
}

/** Merges a patch onto the rule it names (if any) and validates the result. */
function mergeRule(base: RuleDef | undefined, input: Record<string, unknown>, path: (string | number)[], issues: Issue[]): RuleDef | undefined {
  const id = String(input.id)
  if (base && input.kind !== undefined && input.kind !== base.kind) {
    issues.push({ path: [...path, 'kind'], ruleId: id, field: 'kind', message: `rule "${id}" is a ${base.kind} rule; a patch cannot change its kind` })
    return undefined
  }
  const merged = base ? { ...base, ...input } : input
  const parsed = ruleSchema.safeParse(merged)
  if (!parsed.success) {
    for (const i of parsed.error.issues) {
      const field = i.path.join('.') || (i.code === 'unrecognized_keys' ? i.keys.join(', ') : 'kind')
      issues.push({ path: [...path, ...i.path], ruleId: id, field, message: i.message })
    }
    return undefined
  }
  const def = parsed.data as RuleDef
  for (const [field, message] of semanticIssues(def)) issues.push({ path: [...path, ...field.split('.')], ruleId: id, field, message })
  return def
}

function resolveSet(
  base: Map<string, RuleDef>,
  entries: readonly Record<string, unknown>[],
  path: (string | number)[],
  issues: Issue[],
): RuleDef[] {
  const out: RuleDef[] = []
  const seen = new Set<string>()
  entries.forEach((entry, i) => {
    const id = String(entry.id)
    if (seen.has(id)) issues.push({ path: [...path, i, 'id'], ruleId: id, field: 'id', message: 'defined twice in the same set' })
    seen.add(id)
    const def = mergeRule(base.get(id), entry, [...path, i], issues)
    if (def) out.push(def)
  })
  return out
}

function parseSection(input: unknown, issues: Issue[]): RulesConfig | undefined {
  const raw = rawSection.safeParse(input)
  if (!raw.success) {
    for (const i of raw.error.issues) issues.push({ path: i.path, ruleId: '(section)', field: i.path.join('.'), message: i.message })
    return undefined
  }
  const ward = new Map<string, RuleDef>(raw.data.defaults ? DEFAULT_RULE_DEFS.map((d) => [d.id, d]) : [])
  const set = resolveSet(ward, raw.data.set, ['set'], issues)
  for (const def of set) ward.set(def.id, def)
  const beds: Record<string, BedRulesConfig> = {}
  for (const [bedId, bed] of Object.entries(raw.data.beds)) {
    bed.disable.forEach((id, i) => {
      if (!ward.has(id)) issues.push({ path: ['beds', bedId, 'disable', i], ruleId: id, field: 'disable', message: `no ward rule has id "${id}"` })
    })
    beds[bedId] = { ...(bed.grouping !== undefined ? { grouping: bed.grouping } : {}), disable: bed.disable, set: resolveSet(ward, bed.set, ['beds', bedId, 'set'], issues) }
  }
  return { defaults: raw.data.defaults, grouping: raw.data.grouping, set, beds }
}

/** zod 3 schema for the YAML `rules:` section (absent section = the default adult set). */
export const rulesConfigSchema: z.ZodType<RulesConfig, z.ZodTypeDef, unknown> = z.unknown().transform((input, ctx) => {
  const issues: Issue[] = []
  const out = parseSection(input, issues)
  for (const i of issues) {
    const message = i.ruleId === '(section)' ? i.message : `rule "${i.ruleId}" field "${i.field}": ${i.message}`
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: i.path, message })
  }
  return issues.length === 0 && out ? out : z.NEVER
})

/** The cited default adult rule set, as a config (same as `rules: { defaults: true }`). */
export const DEFAULT_RULES: RulesConfig = Object.freeze({ defaults: true, set: Object.freeze([]), beds: Object.freeze({}) })

/** Whether alarm grouping is on for a bed (or the ward): the bed's setting, else the ward's, else on. */
export function groupingOf(config: RulesConfig, bedId?: string): boolean {
  return (bedId === undefined ? undefined : config.beds[bedId]?.grouping) ?? config.grouping ?? true
}

/** The rules in force for one bed: ward rules (defaults + set), minus `disable`, plus the bed's set. */
export function resolveRules(config: RulesConfig, bedId?: string): RuleDef[] {
  const ward = new Map<string, RuleDef>(config.defaults ? DEFAULT_RULE_DEFS.map((d) => [d.id, d]) : [])
  for (const def of config.set) ward.set(def.id, def)
  const bed = bedId === undefined ? undefined : config.beds[bedId]
  if (bed) {
    for (const id of bed.disable) ward.delete(id)
    for (const def of bed.set) ward.set(def.id, def)
  }
  return [...ward.values()]
}

/** Validates a programmatic RuleDef (createRuleEngine input); throws RulesConfigError naming rule and field. */
export function assertValidRule(def: RuleDef): void {
  const parsed = ruleSchema.safeParse(def)
  if (!parsed.success) {
    const i = parsed.error.issues[0]!
    throw new RulesConfigError(def.id ?? '(no id)', i.path.join('.') || 'kind', i.message)
  }
  const sem = semanticIssues(def)
  if (sem.length > 0) throw new RulesConfigError(def.id, sem[0]![0], sem[0]![1])
}
