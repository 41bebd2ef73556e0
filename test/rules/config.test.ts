import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import { parse as parseYaml } from 'yaml'
import {
  createRuleEngine,
  DEFAULT_RULE_DEFS,
  DEFAULT_RULES,
  resolveRules,
  ruleSchema,
  rulesConfigSchema,
  RulesConfigError,
  type RuleDef,
} from '../../agent/rules/index.js'

/** The messages zod reports for a `rules:` section, as "path: message". */
function errors(section: unknown): string[] {
  const r = rulesConfigSchema.safeParse(section)
  assert.equal(r.success, false, 'expected the section to be rejected')
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)
}

describe('rules: config schema', () => {
  test('rules: an absent section means the default adult set', () => {
    const cfg = rulesConfigSchema.parse(undefined)
    assert.deepEqual(cfg, { defaults: true, grouping: true, set: [], beds: {} })
    assert.deepEqual(resolveRules(cfg).map((r) => r.id), DEFAULT_RULE_DEFS.map((r) => r.id))
    assert.deepEqual(resolveRules(DEFAULT_RULES), resolveRules(cfg))
  })

  test('rules: the default rules are valid, unique, and each cites its source', () => {
    const ids = new Set<string>()
    for (const def of DEFAULT_RULE_DEFS) {
      assert.deepEqual(ruleSchema.parse(def), def, `default rule ${def.id} is not in normal form`)
      assert.ok(def.source && def.source.length > 10, `rule ${def.id} cites no source`)
      assert.ok(!ids.has(def.id), `duplicate id ${def.id}`)
      ids.add(def.id)
    }
    const kinds = new Set(DEFAULT_RULE_DEFS.map((d) => d.kind))
    assert.deepEqual([...kinds].sort(), ['news2', 'rhythm', 'technical', 'threshold', 'trend', 'window'])
    const hrHigh = DEFAULT_RULE_DEFS.find((d) => d.id === 'hr-high')
    assert.ok(hrHigh?.kind === 'threshold' && hrHigh.op === '>' && hrHigh.limit === 120 && hrHigh.delay_s === 10)
  })

  test('rules: the documented YAML example parses and overrides per bed', () => {
    const src = readFileSync(new URL('../../agent/rules/config.ts', import.meta.url), 'utf8')
    const block = /```yaml\n([\s\S]*?)```/.exec(src)![1]!.split('\n').map((l) => l.replace(/^ \* ?/, '')).join('\n')
    const cfg = rulesConfigSchema.parse((parseYaml(block) as { rules: unknown }).rules)
    const ward = resolveRules(cfg)
    const bed = resolveRules(cfg, '3a-01')
    const find = (rules: RuleDef[], id: string) => rules.find((r) => r.id === id)
    assert.equal((find(ward, 'hr-high') as { limit: number }).limit, 130)
    assert.equal((find(ward, 'hr-high') as { delay_s: number }).delay_s, 10, 'a patch keeps the fields it does not name')
    assert.ok(find(ward, 'spo2-dips'))
    assert.equal(find(ward, 'rr-fall')?.kind, 'trend')
    assert.equal((find(ward, 'news2') as { red_priority: string }).red_priority, 'medium')
    assert.equal(find(bed, 'hr-avg-high'), undefined)
    assert.equal((find(bed, 'spo2-low') as { limit: number }).limit, 88)
    assert.deepEqual((find(bed, 'spo2-low') as { escalate: unknown }).escalate, { limit: 84, priority: 'high' })
    assert.equal((find(ward, 'spo2-low') as { limit: number }).limit, 90)
  })

  test('rules: defaults: false starts from an empty set', () => {
    const cfg = rulesConfigSchema.parse({ defaults: false, set: [{ id: 'x', kind: 'technical', condition: 'no-data' }] })
    assert.deepEqual(resolveRules(cfg).map((r) => r.id), ['x'])
    assert.equal(resolveRules(cfg)[0]!.cooldown_s, 300)
  })
})

describe('rules: config errors name the rule and the field', () => {
  test('rules: a wrong type', () => {
    assert.deepEqual(errors({ set: [{ id: 'hr-high', limit: 'high' }] }), ['set.0.limit: rule "hr-high" field "limit": Expected number, received string'])
  })
  test('rules: an unknown key in a rule (strict objects)', () => {
    assert.deepEqual(errors({ set: [{ id: 'hr-high', limt: 130 }] }), ['set.0: rule "hr-high" field "limt": Unrecognized key(s) in object: \'limt\''])
  })
  test('rules: a new rule without its required fields', () => {
    const e = errors({ set: [{ id: 'new-rule', kind: 'threshold', code: 'MDC_ECG_HEART_RATE', op: '>' }] })
    assert.deepEqual(e, ['set.0.limit: rule "new-rule" field "limit": Required'])
  })
  test('rules: an unknown kind, MDC code, priority or condition', () => {
    assert.match(errors({ set: [{ id: 'r1', kind: 'magic' }] })[0]!, /^set\.0\.kind: rule "r1" field "kind": Invalid discriminator value/)
    assert.deepEqual(errors({ set: [{ id: 'hr-high', code: 'MDC_NOPE' }] }), [
      'set.0.code: rule "hr-high" field "code": not a known numeric MDC reference id (drivers/codes.ts)',
    ])
    assert.match(errors({ set: [{ id: 'hr-high', priority: 'urgent' }] })[0]!, /^set\.0\.priority: rule "hr-high" field "priority": Invalid enum value/)
    assert.match(errors({ set: [{ id: 't', kind: 'technical', condition: 'on-fire' }] })[0]!, /rule "t" field "condition"/)
  })
  test('rules: cross-field checks', () => {
    assert.deepEqual(errors({ set: [{ id: 'hr-high', escalate: { limit: 100 } }] }), [
      'set.0.escalate.limit: rule "hr-high" field "escalate.limit": must be at or above limit 120 (op ">")',
    ])
    assert.deepEqual(errors({ set: [{ id: 'w', kind: 'window', code: 'MDC_PULS_OXIM_SAT_O2', window: 'sliding', window_s: 60, aggregate: 'count', op: '>=', limit: 3 }] }), [
      'set.0.excursion: rule "w" field "excursion": aggregate "count" needs excursion: { op, limit }',
    ])
    assert.match(errors({ set: [{ id: 'hr-rise', recent_s: 3600 }] })[0]!, /rule "hr-rise" field "recent_s": must be shorter than baseline_s/)
  })
  test('rules: per-bed errors point into the bed', () => {
    assert.deepEqual(errors({ beds: { '3a-01': { disable: ['no-such'], set: [{ id: 'spo2-low', kind: 'window' }] } } }), [
      'beds.3a-01.disable.0: rule "no-such" field "disable": no ward rule has id "no-such"',
      'beds.3a-01.set.0.kind: rule "spo2-low" field "kind": rule "spo2-low" is a threshold rule; a patch cannot change its kind',
    ])
  })
  test('rules: duplicate ids and unknown section keys', () => {
    assert.deepEqual(errors({ set: [{ id: 'hr-high', limit: 130 }, { id: 'hr-high', limit: 140 }] }), [
      'set.1.id: rule "hr-high" field "id": defined twice in the same set',
    ])
    // At section level the path is the section itself (the agent's config prefixes `rules`).
    assert.deepEqual(errors({ default: true }), [': Unrecognized key(s) in object: \'default\''])
  })
  test('rules: a programmatic config with a bad rule throws a typed error', () => {
    const bad = { defaults: false, set: [{ ...DEFAULT_RULE_DEFS[0]!, delay_s: -1 } as RuleDef], beds: {} }
    assert.throws(() => createRuleEngine(bad), (err: unknown) => {
      assert.ok(err instanceof RulesConfigError)
      assert.equal(err.code, 'BEDSIDE_ERR_RULE_CONFIG')
      assert.equal(err.ruleId, 'hr-high')
      assert.equal(err.field, 'delay_s')
      return true
    })
  })
})
