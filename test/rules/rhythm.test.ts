/** Rhythm alarms in the engine (kinds/rhythm.ts, defaults.ts): priorities, latching, the episode's start and end. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createRuleEngine, DEFAULT_RULES } from '../../agent/rules/index.js'

const T0 = 1_764_000_000_000

test('rules: asystole raises a high, latching physiological alarm at once, which stays after the episode until acknowledged', () => {
  const engine = createRuleEngine(DEFAULT_RULES)
  const [raised] = engine.rhythm('bed-1', 'patch-1', 'ASYS', true, T0, T0 + 4_600)
  assert.ok(raised)
  assert.equal(raised.state, 'raised')
  assert.equal(raised.priority, 'high')
  assert.equal(raised.category, 'physiological')
  assert.equal(raised.latching, true)
  assert.equal(raised.conditionSinceMs, T0)
  assert.equal(raised.atMs, T0 + 4_600, 'raised when the analysis decided, with no further delay')
  assert.match(raised.message, /Asystole/)
  assert.deepEqual(engine.rhythm('bed-1', 'patch-1', 'ASYS', false, T0, T0 + 9_000), [], 'latched: the end of the episode does not clear it')
  assert.equal(engine.active().length, 1)
  const ack = engine.acknowledge(raised.alarmId, 'nurse-1', T0 + 20_000)
  assert.equal(ack?.state, 'cleared')
  const again = engine.rhythm('bed-1', 'patch-1', 'ASYS', true, T0 + 30_000, T0 + 34_600)
  assert.equal(again[0]?.state, 'raised', 'no cooldown for a lethal rhythm')
})

test('rules: VF and VT are high and latching; extreme brady and tachy high', () => {
  const engine = createRuleEngine(DEFAULT_RULES)
  for (const [rhythm, latching] of [['VF', true], ['VT', true], ['BRADY', true], ['TACHY', true]] as const) {
    const [c] = engine.rhythm('bed-2', 'patch-2', rhythm, true, T0, T0 + 1000)
    assert.equal(c?.priority, 'high', rhythm)
    assert.equal(c?.latching, latching, rhythm)
  }
})

test('rules: an AF episode is a low-priority advisory whose raise carries its start and whose clear carries its end', () => {
  const engine = createRuleEngine(DEFAULT_RULES)
  const [raised] = engine.rhythm('bed-3', 'patch-3', 'AFIB', true, T0 + 1_000, T0 + 25_000)
  assert.equal(raised?.priority, 'low')
  assert.equal(raised?.latching, false)
  assert.equal(raised?.conditionSinceMs, T0 + 1_000)
  const [cleared] = engine.rhythm('bed-3', 'patch-3', 'AFIB', false, T0 + 1_000, T0 + 600_000)
  assert.equal(cleared?.state, 'cleared')
  assert.equal(cleared?.atMs, T0 + 600_000)
  assert.equal(cleared?.alarmId, raised?.alarmId)
})
