import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { DEFAULT_RULE_DEFS, type ThresholdRuleDef } from '../../agent/rules/index.js'
import { BIDMC_T0, bidmcRecords, readNumerics, replay, type NumericsRow, type Replay } from '../../scripts/testkit/bidmc.js'

const COLUMN_OF_CODE: Record<string, number> = { MDC_ECG_HEART_RATE: 0, MDC_PULS_OXIM_PULS_RATE: 1, MDC_RESP_RATE: 2, MDC_PULS_OXIM_SAT_O2: 3 }
const beyond = (op: string, v: number, limit: number) => (op === '>' ? v > limit : op === '>=' ? v >= limit : op === '<' ? v < limit : v <= limit)

/**
 * Independent oracle for the first raise of a threshold rule on gap-free 1 Hz data: the first
 * run of consecutive violating samples that covers the condition delay under sample-and-hold
 * (each sample stands until the next one, 1 s later) raises at runStart + delay.
 */
function firstRaiseS(rows: readonly NumericsRow[], rule: ThresholdRuleDef): number | undefined {
  const col = COLUMN_OF_CODE[rule.code]!
  let runStart: number | undefined
  for (const row of rows) {
    const v = row.values[col]!
    if (!beyond(rule.op, v, rule.limit)) runStart = undefined
    else {
      runStart ??= row.timeS
      if (row.timeS + 1 - runStart >= rule.delay_s) return runStart + rule.delay_s
    }
  }
  return undefined
}

const thresholds = DEFAULT_RULE_DEFS.filter((d): d is ThresholdRuleDef => d.kind === 'threshold' && d.code in COLUMN_OF_CODE)
const data = new Map(bidmcRecords().map((r) => [r, readNumerics(r)]))
const replays = new Map<string, Replay>([...data].map(([r, rows]) => [r, replay(r, rows)]))
const raisedRules = (record: string) => new Set(replays.get(record)!.changes.filter((c) => c.state === 'raised').map((c) => c.ruleId))

describe('rules: BIDMC numerics replayed through the default rule set', () => {
  test('rules: all 53 records replay (481 one-second rows each)', () => {
    assert.equal(replays.size, 53)
    for (const r of replays.values()) assert.equal(r.rows, 481, r.record)
  })

  test('rules: each default threshold first fires where an independent sample-and-hold oracle says (gap-free columns)', () => {
    let compared = 0
    let fired = 0
    for (const [record, rows] of data) {
      const r = replays.get(record)!
      for (const rule of thresholds) {
        if (rows.some((row) => Number.isNaN(row.values[COLUMN_OF_CODE[rule.code]!]!))) continue
        const expected = firstRaiseS(rows, rule)
        const first = r.changes.find((c) => c.ruleId === rule.id && c.state === 'raised')
        const actual = first === undefined ? undefined : (first.atMs - BIDMC_T0) / 1000
        assert.equal(actual, expected, `${record} ${rule.id}`)
        compared++
        if (expected !== undefined) fired++
      }
    }
    assert.ok(compared > 300, `only ${compared} comparisons`)
    assert.ok(fired >= 5, `only ${fired} threshold alarms in the whole set`)
  })

  test('rules: the records README names as candidates raise what they should', () => {
    assert.ok(raisedRules('bidmc_32').has('spo2-low'), 'bidmc_32: SpO2 83–87 % sustained')
    assert.ok(raisedRules('bidmc_49').has('spo2-low'), 'bidmc_49: SpO2 84–88 %')
    assert.ok(raisedRules('bidmc_25').has('hr-high'), 'bidmc_25: HR up to 139')
    assert.ok(raisedRules('bidmc_21').has('hr-high'), 'bidmc_21: HR 116–129')
    assert.ok(raisedRules('bidmc_13').has('rr-low'), 'bidmc_13: RESP drops to 0')
  })

  test('rules: transients and disagreements behave as the condition delay intends', () => {
    // bidmc_45: HR dips to 44 for at most 2 s: shorter than the 10 s delay, no bradycardia alarm.
    assert.equal(raisedRules('bidmc_45').has('hr-low'), false)
    // bidmc_39: PULSE drops to 37 (pleth artefact) while ECG HR stays 71–83: pulse alarm, no HR alarm.
    assert.ok(raisedRules('bidmc_39').has('pr-low'))
    assert.equal(raisedRules('bidmc_39').has('hr-low'), false)
  })

  test('rules: normal-baseline records raise no threshold alarm', () => {
    for (const record of ['bidmc_01', 'bidmc_02']) {
      const ids = [...raisedRules(record)].filter((id) => thresholds.some((t) => t.id === id))
      assert.deepEqual(ids, [], record)
    }
  })

  test('rules: missing values are counted as flagged, never used', () => {
    // bidmc_19: 102 s of PULSE and SpO2 and 4 s of RESP missing (data/README.md §2.4).
    const r = replays.get('bidmc_19')!
    const missing = data.get('bidmc_19')!.reduce((n, row) => n + row.values.filter(Number.isNaN).length, 0)
    assert.equal(missing, 102 + 102 + 4)
    assert.equal(r.engine.stats().flaggedIgnored, missing)
  })
})
