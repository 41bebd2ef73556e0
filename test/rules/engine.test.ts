import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { createRuleEngine, DEFAULT_RULES, type AlarmChange, type Engine } from '../../agent/rules/index.js'
import { Quality } from '../../drivers/records.js'
import { windowRuleSchema } from '../../agent/rules/config.js'
import { WindowRule } from '../../agent/rules/kinds/window.js'
import { CASES } from './cases.js'
import { BED, config, obs, runCase, series, T0 } from './script.js'

describe('rules: behaviour table', () => {
  for (const c of CASES) {
    test(`rules: ${c.name}`, () => {
      assert.deepEqual(runCase(c).lines, c.expect)
    })
  }
})

const HR = 'MDC_ECG_HEART_RATE'
const hrHigh = { id: 'hr-high', kind: 'threshold', code: HR, op: '>', limit: 120, delay_s: 10, hysteresis: 5, latching: 'never' }

describe('rules: engine details', () => {
  test('rules: the contract check leaves an active physiological alarm with a readable message', () => {
    const { engine } = runCase({ name: 'contract', rules: { defaults: true }, offsetS: 40, steps: series(HR, 185, 5, 31), expect: [] })
    const hr = engine.active().filter((a) => a.bedId === BED && a.ruleId === 'hr-high')
    assert.equal(hr.length, 1)
    assert.equal(hr[0]!.category, 'physiological')
    assert.equal(hr[0]!.code, 'MDC_ECG_HEART_RATE')
    assert.equal(hr[0]!.value, 185)
    assert.equal(hr[0]!.message, 'HR 185 /min > 140 for 10 s')
    assert.equal(hr[0]!.alarmId, `${BED}:hr-high:${T0 + 5000}`)
    assert.equal(hr[0]!.conditionSinceMs, T0 + 5000)
    assert.equal(hr[0]!.latching, true)
  })

  test('rules: a storm of 200 readings gives at most one raise per rule', () => {
    const { changes } = runCase({ name: 'storm', rules: { defaults: true }, steps: series(HR, 185, 0, 200, 0.3), expect: [] })
    const raised = changes.filter((c) => c.state === 'raised').map((c) => c.ruleId).sort()
    assert.deepEqual(raised, ['hr-avg-high', 'hr-high', 'news2'])
  })

  test('rules: observe returns the shared empty array when nothing changes', () => {
    const engine = createRuleEngine(DEFAULT_RULES)
    const a = engine.observe(BED, obs(HR, 75, 0))
    const b = engine.observe(BED, obs(HR, 76, 1))
    assert.equal(a.length, 0)
    assert.equal(a, b)
    assert.ok(Object.isFrozen(a))
  })

  test('rules: acknowledgement records who and when; unknown or repeated acks return undefined', () => {
    const engine = createRuleEngine(config({ set: [hrHigh] }))
    let raised: AlarmChange | undefined
    for (let t = 0; t <= 10; t++) raised ??= engine.observe(BED, obs(HR, 130, t))[0]
    assert.ok(raised)
    const ack = engine.acknowledge(raised.alarmId, 'nurse-7', T0 + 11_000)
    assert.equal(ack?.state, 'acknowledged')
    assert.equal(ack?.ackBy, 'nurse-7')
    assert.equal(ack?.atMs, T0 + 11_000)
    assert.equal(engine.acknowledge(raised.alarmId, 'nurse-7', T0 + 12_000), undefined)
    assert.equal(engine.acknowledge('no-such-alarm', 'nurse-7', T0), undefined)
    assert.equal(engine.active()[0]?.state, 'acknowledged')
  })

  test('rules: late records are counted, flagged ones too', () => {
    const engine = createRuleEngine(config({ set: [hrHigh] }), { watermarkMs: 5000 })
    engine.observe(BED, obs(HR, 80, 100))
    engine.observe(BED, obs(HR, 80, 94))
    engine.observe(BED, obs(HR, 80, 96))
    engine.observe(BED, obs(HR, 80, 97, Quality.QUESTIONABLE))
    assert.deepEqual(engine.stats(), { beds: 1, lateDropped: 1, flaggedIgnored: 1, unmatched: 0 })
  })

  test('rules: lateness is judged per device: a device whose clock runs ahead does not make others late', () => {
    const engine = createRuleEngine(config({ set: [hrHigh] }), { watermarkMs: 5000 })
    engine.observe(BED, obs('MDC_PULS_OXIM_SAT_O2', 97, 60, 0, 'oximeter'))
    const raised: string[] = []
    for (let t = 0; t <= 10; t++) for (const c of engine.observe(BED, obs(HR, 130, t, 0, 'ecg-patch'))) raised.push(c.ruleId)
    assert.deepEqual(raised, ['hr-high'])
    assert.equal(engine.stats().lateDropped, 0)
  })

  test('rules: state per bed is bounded: a day of data does not grow it', () => {
    const engine = createRuleEngine(DEFAULT_RULES) as Engine
    const feed = (fromS: number, toS: number) => {
      for (let t = fromS; t < toS; t++) {
        engine.observe(BED, obs(HR, 70 + (t % 7), t))
        engine.observe(BED, obs('MDC_PULS_OXIM_SAT_O2', 95 + (t % 4), t))
      }
    }
    feed(0, 600)
    const after10min = engine.stateBytes(BED)!
    feed(600, 86_400)
    assert.equal(engine.stateBytes(BED), after10min)
    assert.ok(after10min < 16_384, `${after10min} bytes of evaluator state`)
  })

  test('rules: validQualityMask lets re-timed values count', () => {
    const engine = createRuleEngine(config({ set: [{ ...hrHigh, delay_s: 0 }] }), { validQualityMask: Quality.RETIMED })
    assert.equal(engine.observe(BED, obs(HR, 130, 0, Quality.RETIMED)).length, 1)
    assert.equal(engine.observe('bed-2', obs(HR, 130, 0, Quality.RETIMED | Quality.QUESTIONABLE)).length, 0)
  })

  test('rules: per-bed overrides and disables apply to that bed only', () => {
    const cfg = config({
      set: [hrHigh, { id: 'hr-low', kind: 'threshold', code: HR, op: '<', limit: 50, delay_s: 0 }],
      beds: { 'bed-1': { disable: ['hr-low'], set: [{ id: 'hr-high', limit: 150 }] } },
    })
    const engine = createRuleEngine(cfg)
    const fired = (bed: string, value: number) => {
      const out: string[] = []
      for (let t = 0; t <= 12; t++) for (const c of engine.observe(bed, obs(HR, value, t))) out.push(c.ruleId)
      return out
    }
    assert.deepEqual(fired('bed-1', 130), [])
    assert.deepEqual(fired('bed-2', 130), ['hr-high'])
    assert.deepEqual(fired('bed-3', 40), ['hr-low'])
    assert.deepEqual(fired('bed-1', 40), [])
    assert.deepEqual(fired('bed-4', 40), ['hr-low'])
  })

  test('rules: resetBed publishes cleared for the patient\'s open alarms (latched ones too) and forgets what it knew', () => {
    const engine = createRuleEngine(config({ set: [{ ...hrHigh, delay_s: 0, latching: 'always' }, { id: 'news2', kind: 'news2' }] }))
    engine.observe(BED, obs(HR, 130, 0))
    engine.observe(BED, obs(HR, 80, 1)) // the condition ends; hr-high stays latched
    assert.deepEqual(engine.active().map((a) => a.ruleId), ['hr-high'])
    const cleared = engine.resetBed(BED, T0 + 5000)
    assert.deepEqual(cleared.map((c) => [c.ruleId, c.state]), [['hr-high', 'cleared']])
    assert.match(cleared[0]!.message, /left the bed/)
    assert.equal(engine.active().filter((a) => a.category !== 'technical').length, 0)
    assert.equal(engine.news2(BED)?.total, 0)
    // The next patient's tachycardia raises at once: no cooldown carried over from the last patient.
    assert.deepEqual(engine.observe(BED, obs(HR, 135, 10)).map((c) => [c.ruleId, c.state]).sort(), [['hr-high', 'raised'], ['news2', 'raised']])
    // Pulse 135 alone scores 3 in NEWS2: that escalation sits under the pulse's own alarm (grouping).
    const hr = engine.active().find((a) => a.ruleId === 'hr-high')!
    assert.deepEqual(engine.active().map((a) => [a.ruleId, a.foldedInto]).sort(), [['hr-high', undefined], ['news2', hr.alarmId]])
  })

  test('rules: resetBed keeps the technical alarms of the bed (its devices stay)', () => {
    const engine = createRuleEngine(DEFAULT_RULES)
    engine.technical(BED, 'dev-1', 'low-battery', true, T0)
    assert.deepEqual(engine.active().map((a) => a.ruleId), ['tech-low-battery'])
    assert.deepEqual(engine.resetBed(BED, T0 + 1000), [])
    assert.deepEqual(engine.active().map((a) => a.ruleId), ['tech-low-battery'])
  })

  test('rules: news2() reports the inputs used and those missing or too old', () => {
    const engine = createRuleEngine(config({ set: [{ id: 'news2', kind: 'news2', max_age_s: 60 }] }))
    engine.setPatientContext(BED, { onOxygen: true, spo2Scale: 2 }, T0)
    engine.observe(BED, obs('MDC_RESP_RATE', 18, 0))
    engine.observe(BED, obs('MDC_PULS_OXIM_SAT_O2', 95, 50))
    engine.observe(BED, obs(HR, 80, 70))
    const r = engine.news2(BED)!
    assert.deepEqual(r.used, ['spo2', 'air', 'pulse'])
    assert.deepEqual(r.missing, ['rr', 'sbp', 'consciousness', 'temp'])
    assert.equal(r.complete, false)
    assert.equal(r.spo2Scale, 2)
    // SpO2 95 on O2 (scale 2) = 2, oxygen = 2, pulse 80 = 0.
    assert.equal(r.total, 4)
    assert.equal(r.parts.find((p) => p.param === 'spo2')?.atMs, T0 + 50_000)
  })

  test('rules: technical alarms name the device that reported them', () => {
    const engine = createRuleEngine(DEFAULT_RULES)
    const [c] = engine.technical('bed-9', 'patch-9', 'low-battery', true, T0, '12 %')
    assert.equal(c?.category, 'technical')
    assert.equal(c?.message, 'Battery low: patch-9 12 %')
    assert.equal(c?.code, undefined)
  })
})

describe('rules: properties', () => {
  test('rules: the incremental sliding window equals a brute-force aggregate, in any arrival order', () => {
    const rule = (aggregate: 'avg' | 'min' | 'max' | 'count') =>
      new WindowRule(windowRuleSchema.parse({
        id: 'w', kind: 'window', code: 'MDC_PULS_OXIM_SAT_O2', window: 'sliding', window_s: 20, aggregate, op: '>=', limit: 0, max_samples: 16,
        ...(aggregate === 'count' ? { excursion: { op: '<', limit: 90 } } : {}),
      }))
    const sample = fc.record({ t: fc.integer({ min: 0, max: 120 }), v: fc.integer({ min: 80, max: 100 }) })
    fc.assert(
      fc.property(fc.constantFrom('avg' as const, 'min' as const, 'max' as const, 'count' as const), fc.array(sample, { minLength: 1, maxLength: 80 }), (aggregate, samples) => {
        const state = rule(aggregate).newState()
        const out = { active: false, rank: 0, value: Number.NaN, sinceMs: Number.NaN, watermarkMs: Number.NEGATIVE_INFINITY }
        // Brute force: time-ordered, the newest 16 samples, within 20 s of the newest.
        const kept: Array<{ t: number; v: number }> = []
        let newest = Number.NEGATIVE_INFINITY
        for (const s of samples) {
          assert.equal(state.observe(obs('MDC_PULS_OXIM_SAT_O2', s.v, s.t), out), true)
          newest = Math.max(newest, s.t)
          if (kept.length < 16 || s.t >= kept[0]!.t) {
            if (kept.length === 16) kept.shift()
            let i = kept.length
            while (i > 0 && kept[i - 1]!.t > s.t) i--
            kept.splice(i, 0, s)
          }
          while (kept.length > 0 && kept[0]!.t * 1000 <= newest * 1000 - 20_000) kept.shift()
          const vs = kept.map((k) => k.v)
          const expected =
            aggregate === 'avg' ? vs.reduce((a, b) => a + b, 0) / vs.length
            : aggregate === 'min' ? Math.min(...vs)
            : aggregate === 'max' ? Math.max(...vs)
            : vs.filter((v, i) => v < 90 && (i === 0 || vs[i - 1]! >= 90)).length
          assert.ok(Math.abs(out.value - expected) < 1e-9, `${aggregate}: ${out.value} vs ${expected}`)
        }
      }),
      { numRuns: 300 },
    )
  })

  test('rules: any HR stream gives well-formed episodes, unique ids and at most one raise per cooldown', () => {
    const cfg = config({ set: [
      { ...hrHigh, delay_s: 3, cooldown_s: 60, escalate: { limit: 180 } },
      { id: 'hr-avg', kind: 'window', code: HR, window: 'sliding', window_s: 10, aggregate: 'avg', op: '>', limit: 120, min_samples: 2, priority: 'low', cooldown_s: 20 },
      { id: 'hr-max-t', kind: 'window', code: HR, window: 'tumbling', window_s: 15, aggregate: 'max', op: '>', limit: 200, priority: 'low', cooldown_s: 0 },
    ] })
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 30, max: 220 }), { minLength: 1, maxLength: 300 }), fc.boolean(), (hr, withTicks) => {
        const engine = createRuleEngine(cfg)
        const changes: AlarmChange[] = []
        hr.forEach((v, t) => {
          changes.push(...engine.observe(BED, obs(HR, v, t)))
          if (withTicks) changes.push(...engine.tick(T0 + t * 1000 + 500))
        })
        const state = new Map<string, string>()
        let mediumRaises = 0
        for (const c of changes) {
          const prev = state.get(c.alarmId)
          if (c.state === 'raised') assert.equal(prev, undefined, 'raised twice')
          else assert.ok(prev !== undefined && prev !== 'cleared', `${c.state} after ${prev}`)
          if (c.state === 'raised' && c.priority === 'medium') mediumRaises++
          state.set(c.alarmId, c.state)
        }
        assert.ok(mediumRaises <= Math.ceil(hr.length / 60), `${mediumRaises} medium raises in ${hr.length} s`)
        const ids = changes.filter((c) => c.state === 'raised').map((c) => c.alarmId)
        assert.equal(new Set(ids).size, ids.length, 'alarm ids are unique')
        const open = [...state.values()].filter((s) => s !== 'cleared').length
        assert.equal(engine.active().length, open)
      }),
      { numRuns: 200 },
    )
  })

  test('rules: random mixes of every input never throw, and active() matches the changes reported', () => {
    const codes = ['MDC_ECG_HEART_RATE', 'MDC_PULS_OXIM_PULS_RATE', 'MDC_PULS_OXIM_SAT_O2', 'MDC_RESP_RATE', 'MDC_PRESS_BLD_NONINV_SYS', 'MDC_TEMP_BODY']
    const conditions = ['disconnected', 'low-battery', 'leads-off', 'sensor-off', 'clock-drift', 'no-data', 'queue-over-quota'] as const
    const op = fc.oneof(
      fc.record({ k: fc.constant('obs' as const), bed: fc.integer({ min: 0, max: 2 }), code: fc.constantFrom(...codes), v: fc.oneof(fc.double({ min: 0, max: 250, noNaN: true }), fc.constant(Number.NaN)), dt: fc.integer({ min: -15, max: 5 }), q: fc.constantFrom(0, 0, 0, Quality.LEADS_OFF, Quality.SENSOR_OFF, Quality.QUESTIONABLE) }),
      fc.record({ k: fc.constant('tick' as const), dt: fc.integer({ min: 0, max: 90 }) }),
      fc.record({ k: fc.constant('tech' as const), bed: fc.integer({ min: 0, max: 2 }), c: fc.constantFrom(...conditions), on: fc.boolean() }),
      fc.record({ k: fc.constant('ack' as const), pick: fc.nat() }),
      fc.record({ k: fc.constant('ctx' as const), bed: fc.integer({ min: 0, max: 2 }), c: fc.constantFrom('A' as const, 'C' as const, 'U' as const), o2: fc.boolean() }),
      fc.record({ k: fc.constant('reset' as const), bed: fc.integer({ min: 0, max: 2 }) }),
    )
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const engine = createRuleEngine(DEFAULT_RULES)
        const open = new Map<string, AlarmChange>()
        const track = (list: readonly AlarmChange[]) => {
          for (const c of list) c.state === 'cleared' ? open.delete(c.alarmId) : open.set(c.alarmId, c)
        }
        let t = 0
        for (const o of ops) {
          const bed = 'bed-' + ('bed' in o ? o.bed : 0)
          if (o.k === 'obs') track(engine.observe(bed, obs(o.code, o.v, (t = Math.max(0, t + o.dt)), o.q)))
          else if (o.k === 'tick') track(engine.tick(T0 + (t += o.dt) * 1000))
          else if (o.k === 'tech') track(engine.technical(bed, 'dev-1', o.c, o.on, T0 + t * 1000))
          else if (o.k === 'ctx') track(engine.setPatientContext(bed, { consciousness: o.c, onOxygen: o.o2 }, T0 + t * 1000))
          else if (o.k === 'ack') {
            const ids = [...open.keys()]
            const id = ids[o.pick % Math.max(1, ids.length)]
            const c = id === undefined ? undefined : engine.acknowledge(id, 'fuzz', T0 + t * 1000)
            if (c) track([c])
          } else {
            track(engine.resetBed(bed, T0 + t * 1000))
          }
        }
        assert.deepEqual(engine.active().map((a) => a.alarmId).sort(), [...open.keys()].sort())
        for (const a of engine.active()) assert.equal(a.state, open.get(a.alarmId)!.state)
      }),
      { numRuns: 150 },
    )
  })
})
