/**
 * Alarm fatigue (issue 19): on the BIDMC numerics and the demo ward's scenarios, grouping gives
 * fewer list entries, and not one high-priority alarm later or missed (scripts/testkit/fatigue.ts;
 * the table is in BENCHMARKS.md and bench/results/rules.md).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { bidmcRecords, readNumerics } from '../../scripts/testkit/bidmc.js'
import { bidmcSeconds, demoSeconds, measureFatigue, totalOf } from '../../scripts/testkit/fatigue.js'

const bidmc = bidmcRecords().map((r) => measureFatigue(r, bidmcSeconds(readNumerics(r))))
const demo = (['stable', 'tachycardia', 'desaturation', 'fever'] as const).map((s, i) => measureFatigue(s, demoSeconds(s, i + 1, 1800)))

describe('rules: alarm fatigue before and after grouping', () => {
  test('rules: fewer entries on BIDMC and on the demo ward, never more on any record', () => {
    for (const r of [...bidmc, ...demo]) {
      assert.ok(r.on.entries <= r.off.entries, `${r.name}: ${r.off.entries} → ${r.on.entries}`)
      assert.ok(r.on.sounding <= r.off.sounding, `${r.name}: sounding ${r.off.sounding} → ${r.on.sounding}`)
      assert.equal(r.on.raised, r.off.raised, `${r.name}: grouping changes what is shown, not what is raised`)
    }
    const total = totalOf('bidmc', bidmc)
    assert.ok(total.on.entries < total.off.entries, `BIDMC ${total.off.entries} → ${total.on.entries}`)
    const tachy = demo.find((r) => r.name === 'tachycardia')!
    assert.ok(tachy.on.entries < tachy.off.entries, 'one tachycardia, fewer entries')
  })

  test('rules: the first high-priority alarm of every deterioration comes at the same second, none missed', () => {
    const withHigh = [...bidmc, ...demo].filter((r) => r.off.firstHighS !== undefined)
    assert.ok(withHigh.length >= 3, `${withHigh.length} sources with a high-priority alarm`)
    for (const r of [...bidmc, ...demo]) assert.equal(r.on.firstHighS, r.off.firstHighS, r.name)
  })
})
