import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createRuleEngine, DEFAULT_RULES, scoreNews2, type News2Input } from '../../agent/rules/index.js'
import {
  airPoints,
  consciousnessPoints,
  news2Band,
  pulsePoints,
  rrPoints,
  sbpPoints,
  spo2Scale1Points,
  spo2Scale2Points,
  tempPoints,
} from '../../agent/rules/news2.js'
import { config, obs, T0 } from './script.js'

// protocols.md §9, worked examples (arithmetic checked there).
const WORKED: ReadonlyArray<{ n: number; input: News2Input; points: Record<string, number>; total: number; band: string }> = [
  { n: 1, input: { rr: 22, spo2: 95, spo2Scale: 1, onOxygen: false, sbp: 105, pulse: 95, consciousness: 'A', temp: 38.4 },
    points: { rr: 2, spo2: 1, air: 0, sbp: 1, pulse: 1, consciousness: 0, temp: 1 }, total: 6, band: 'medium' },
  { n: 2, input: { rr: 18, spo2: 90, spo2Scale: 2, onOxygen: true, sbp: 130, pulse: 80, consciousness: 'A', temp: 37.0 },
    points: { rr: 0, spo2: 0, air: 2, sbp: 0, pulse: 0, consciousness: 0, temp: 0 }, total: 2, band: 'low' },
  { n: 3, input: { rr: 16, spo2: 97, spo2Scale: 1, onOxygen: false, sbp: 88, pulse: 85, consciousness: 'A', temp: 36.8 },
    points: { rr: 0, spo2: 0, air: 0, sbp: 3, pulse: 0, consciousness: 0, temp: 0 }, total: 3, band: 'low-medium' },
  { n: 4, input: { rr: 26, spo2: 91, spo2Scale: 1, onOxygen: true, sbp: 95, pulse: 125, consciousness: 'C', temp: 39.2 },
    points: { rr: 3, spo2: 3, air: 2, sbp: 2, pulse: 2, consciousness: 3, temp: 2 }, total: 17, band: 'high' },
]

describe('rules: NEWS2 worked examples (protocols.md §9)', () => {
  for (const w of WORKED) {
    test(`rules: NEWS2 worked example ${w.n} scores ${w.total} (${w.band})`, () => {
      const r = scoreNews2(w.input)
      assert.equal(r.total, w.total)
      assert.equal(r.band, w.band)
      assert.equal(r.complete, true)
      assert.deepEqual(Object.fromEntries(r.parts.map((p) => [p.param, p.points])), w.points)
    })
  }

  test('rules: NEWS2 worked example 1 through the engine, from device observations and patient context', () => {
    const engine = createRuleEngine(config({ set: [{ id: 'news2', kind: 'news2' }] }))
    engine.setPatientContext('b', { consciousness: 'A', onOxygen: false, spo2Scale: 1 }, T0)
    const feed: Array<[string, number]> = [
      ['MDC_RESP_RATE', 22], ['MDC_PULS_OXIM_SAT_O2', 95], ['MDC_PRESS_BLD_NONINV_SYS', 105], ['MDC_PULS_OXIM_PULS_RATE', 95], ['MDC_TEMP_BODY', 38.4],
    ]
    const raised = feed.flatMap(([code, v], i) => engine.observe('b', obs(code, v, i + 1)))
    const r = engine.news2('b')!
    assert.equal(r.total, 6)
    assert.equal(r.band, 'medium')
    assert.equal(r.complete, true)
    // RCP Chart 2: RR 22 alone (2) is the low band, a ward-based assessment; 5 is the urgent-response threshold.
    assert.deepEqual(raised.map((c) => `${c.state} ${c.priority} ${c.value} ${c.category}`), ['raised low 2 clinical-escalation', 'escalated medium 5 clinical-escalation'])
    assert.equal(raised[1]!.message, 'NEWS2 5: medium clinical risk, urgent response (RR 22: 2, SpO2 95: 1, air: 0, BP 105: 1, pulse 95: 1, ACVPU A: 0; missing temp)')
  })
})

// Every band edge of RCP Chart 1: [input, points] on both sides of each edge.
const EDGES: ReadonlyArray<[string, (v: number) => number, ReadonlyArray<[number, number]>]> = [
  ['respiration rate', rrPoints, [[0, 3], [8, 3], [9, 1], [11, 1], [12, 0], [20, 0], [21, 2], [24, 2], [25, 3], [60, 3]]],
  ['SpO2 scale 1', spo2Scale1Points, [[70, 3], [91, 3], [92, 2], [93, 2], [94, 1], [95, 1], [96, 0], [100, 0]]],
  ['SpO2 scale 2 on air', (v) => spo2Scale2Points(v, false), [[83, 3], [84, 2], [85, 2], [86, 1], [87, 1], [88, 0], [92, 0], [93, 0], [97, 0], [100, 0]]],
  ['SpO2 scale 2 on oxygen', (v) => spo2Scale2Points(v, true), [[83, 3], [84, 2], [87, 1], [88, 0], [92, 0], [93, 1], [94, 1], [95, 2], [96, 2], [97, 3], [100, 3]]],
  ['systolic BP', sbpPoints, [[60, 3], [90, 3], [91, 2], [100, 2], [101, 1], [110, 1], [111, 0], [219, 0], [220, 3]]],
  ['pulse', pulsePoints, [[30, 3], [40, 3], [41, 1], [50, 1], [51, 0], [90, 0], [91, 1], [110, 1], [111, 2], [130, 2], [131, 3], [200, 3]]],
  ['temperature', tempPoints, [[34, 3], [35.0, 3], [35.1, 1], [36.0, 1], [36.1, 0], [38.0, 0], [38.1, 1], [39.0, 1], [39.1, 2], [41, 2]]],
  // Rounding before banding (local policy, protocols.md §9): integers, temperature to 0.1 °C.
  ['pulse, rounded', pulsePoints, [[90.4, 0], [90.5, 1], [130.4, 2], [130.6, 3]]],
  ['temperature, rounded', tempPoints, [[35.04, 3], [35.06, 1], [38.04, 0], [38.06, 1]]],
  // Half up at every edge, though 36.05 × 10 and 39.05 × 10 fall just short of a half in binary.
  ['temperature, halves', tempPoints, [[35.05, 1], [36.05, 0], [38.05, 1], [39.05, 2]]],
]

describe('rules: NEWS2 band edges (RCP Chart 1)', () => {
  for (const [name, fn, cases] of EDGES) {
    test(`rules: NEWS2 ${name} scores every band edge`, () => {
      assert.deepEqual(cases.map(([v]) => [v, fn(v)]), cases)
    })
  }
  test('rules: the NEWS2 alarm message shows each value as the chart read it (35.05 °C scored as 35.1)', () => {
    const engine = createRuleEngine(config({ set: [{ id: 'news2', kind: 'news2', low_priority: 'low' }] }))
    engine.observe('b', obs('MDC_TEMP_BODY', 35.05, 0))
    const a = engine.active().find((x) => x.ruleId === 'news2')!
    assert.match(a.message, /\(temp 35\.1: 1; missing/)
  })
  test('rules: NEWS2 consciousness and air/oxygen rows', () => {
    assert.deepEqual((['A', 'C', 'V', 'P', 'U'] as const).map(consciousnessPoints), [0, 3, 3, 3, 3])
    assert.deepEqual([airPoints(false), airPoints(true)], [0, 2])
  })
  test('rules: NEWS2 aggregate bands and the single-parameter-3 rule (RCP Chart 2)', () => {
    const bands = [[0, false], [4, false], [3, true], [4, true], [5, false], [5, true], [6, false], [7, false], [7, true], [20, true]] as const
    assert.deepEqual(bands.map(([t, red]) => news2Band(t, red)), ['low', 'low', 'low-medium', 'low-medium', 'medium', 'medium', 'medium', 'high', 'high', 'high'])
  })
  test('rules: NEWS2 with missing inputs is a partial score that names them', () => {
    const r = scoreNews2({ rr: 30, pulse: 80 })
    assert.equal(r.total, 3)
    assert.equal(r.band, 'low-medium')
    assert.equal(r.redScore, true)
    assert.deepEqual(r.used, ['rr', 'pulse'])
    assert.deepEqual(r.missing, ['spo2', 'air', 'sbp', 'consciousness', 'temp'])
  })
  test('rules: NEWS2 scale 2 with unknown oxygen scores SpO2 ≥ 93 as on air (lower bound)', () => {
    assert.equal(scoreNews2({ spo2: 97, spo2Scale: 2 }).total, 0)
    assert.equal(scoreNews2({ spo2: 97, spo2Scale: 2, onOxygen: true }).total, 3 + 2)
  })
})

describe('rules: NEWS2 input age', () => {
  test('rules: NEWS2 device inputs older than max_age_s do not count; consciousness set long ago still does, marked unconfirmed', () => {
    const engine = createRuleEngine(config({ set: [{ id: 'news2', kind: 'news2', max_age_s: 600, context_max_age_s: 3600 }] }))
    engine.setPatientContext('b', { consciousness: 'V' }, T0)
    engine.observe('b', obs('MDC_TEMP_BODY', 39.5, 0))
    engine.observe('b', obs('MDC_RESP_RATE', 22, 500))
    assert.deepEqual(engine.news2('b')!.used, ['rr', 'consciousness', 'temp'])
    engine.observe('b', obs('MDC_RESP_RATE', 22, 700))
    assert.deepEqual(engine.news2('b')!.used, ['rr', 'consciousness'])
    assert.deepEqual(engine.news2('b')!.unconfirmed, [])
    engine.tick(T0 + 3_700_000)
    const r = engine.news2('b')!
    assert.deepEqual(r.used, ['consciousness'])
    assert.deepEqual(r.unconfirmed, ['consciousness'])
    assert.equal(r.total, 3)
  })

  test('rules: NEWS2 oxygen set long ago still counts (a scale-2 alarm stays), marked for a nurse to confirm; the SpO2 scale stays until changed', () => {
    const engine = createRuleEngine(config({ set: [{ id: 'news2', kind: 'news2', max_age_s: 600, context_max_age_s: 3600 }] }))
    engine.setPatientContext('b', { onOxygen: true, spo2Scale: 2 }, T0)
    engine.observe('b', obs('MDC_PULS_OXIM_SAT_O2', 97, 0))
    const alarm = () => engine.active().find((a) => a.ruleId === 'news2')
    assert.equal(alarm()?.priority, 'medium', 'scale 2 at 97 % on oxygen: 3 + 2')
    let r = engine.news2('b')!
    assert.deepEqual([r.parts.find((p) => p.param === 'air')?.points, r.parts.find((p) => p.param === 'spo2')?.points], [2, 3])
    // An hour later (context_max_age_s) the patient is still on oxygen as far as anyone said: the
    // score and the alarm hold, and the oxygen is named for a nurse to confirm.
    engine.observe('b', obs('MDC_PULS_OXIM_SAT_O2', 97, 3601))
    assert.equal(alarm()?.priority, 'medium', 'the alarm is not cleared by the age of the context')
    // the alarm's next change (here an escalation) names the oxygen to confirm
    engine.observe('b', obs('MDC_RESP_RATE', 26, 3602))
    assert.equal(alarm()?.priority, 'high')
    assert.match(alarm()!.message, /^NEWS2 8: .*; O2 set over 1 h ago, to confirm\)$/)
    r = engine.news2('b')!
    assert.equal(r.total, 8)
    assert.deepEqual(r.unconfirmed, ['air'])
    assert.ok(!r.missing.includes('air'))
    assert.equal(r.spo2Scale, 2)
    // Confirmed (set again): no longer marked.
    engine.setPatientContext('b', { onOxygen: true }, T0 + 3_603_000)
    assert.deepEqual(engine.news2('b')!.unconfirmed, [])
    // Taken off oxygen: its points go.
    engine.setPatientContext('b', { onOxygen: false }, T0 + 3_604_000)
    assert.equal(engine.news2('b')!.total, 3, 'RR 26 alone')
  })
})

/**
 * The NEWS2 context inputs through the engine (issue 19): set as a nurse sets them
 * (setPatientContext, the path of POST /api/beds/{bed}/context), each ACVPU level and oxygen, and
 * SpO2 scale 2 on air and on oxygen at every band edge of RCP Chart 1, with the escalation the
 * aggregate raises (RCP Chart 2 mapped in defaults.ts).
 */
describe('rules: NEWS2 context inputs through the engine', () => {
  const SPO2 = 'MDC_PULS_OXIM_SAT_O2'
  const score = (ctx: Parameters<ReturnType<typeof createRuleEngine>['setPatientContext']>[1], spo2?: number) => {
    const engine = createRuleEngine(DEFAULT_RULES)
    const changes = [...engine.setPatientContext('b', ctx, T0)]
    if (spo2 !== undefined) changes.push(...engine.observe('b', obs(SPO2, spo2, 0)))
    const r = engine.news2('b')!
    const news2 = engine.active().find((a) => a.ruleId === 'news2')
    return { r, points: (p: string) => r.parts.find((x) => x.param === p)?.points, priority: news2?.priority, category: news2?.category, changes }
  }

  for (const [level, points] of [['A', 0], ['C', 3], ['V', 3], ['P', 3], ['U', 3]] as const) {
    test(`rules: NEWS2 consciousness ${level} from the bedside scores ${points}`, () => {
      const s = score({ consciousness: level })
      assert.equal(s.points('consciousness'), points)
      assert.equal(s.r.total, points)
      // A new confusion alone is a single parameter 3: "urgent ward-based response" → medium.
      assert.equal(s.priority, points === 3 ? 'medium' : undefined)
      if (points === 3) assert.equal(s.category, 'clinical-escalation')
    })
  }

  test('rules: NEWS2 supplemental oxygen adds 2 (a low clinical-escalation alone), air adds 0', () => {
    assert.equal(score({ onOxygen: false }).points('air'), 0)
    const o2 = score({ onOxygen: true })
    assert.equal(o2.points('air'), 2)
    assert.equal(o2.r.total, 2)
    assert.equal(o2.priority, 'low')
  })

  // [SpO2, points on air, points on oxygen] at every scale-2 band edge of RCP Chart 1.
  const SCALE2: ReadonlyArray<[number, number, number]> = [
    [83, 3, 3], [84, 2, 2], [85, 2, 2], [86, 1, 1], [87, 1, 1], [88, 0, 0], [92, 0, 0], [93, 0, 1], [94, 0, 1], [95, 0, 2], [96, 0, 2], [97, 0, 3], [100, 0, 3],
  ]
  for (const [spo2, air, o2] of SCALE2) {
    test(`rules: NEWS2 SpO2 scale 2 at ${spo2} %: ${air} on air, ${o2} on oxygen (+2 for the oxygen)`, () => {
      const onAir = score({ spo2Scale: 2, onOxygen: false }, spo2)
      assert.equal(onAir.points('spo2'), air)
      assert.equal(onAir.r.spo2Scale, 2)
      assert.equal(onAir.r.total, air)
      const onO2 = score({ spo2Scale: 2, onOxygen: true }, spo2)
      assert.equal(onO2.points('spo2'), o2)
      assert.equal(onO2.r.total, o2 + 2)
      // 5 or more: medium (urgent response); a single 3 below 5: medium; 1–4: low.
      assert.equal(onO2.priority, o2 + 2 >= 5 || o2 === 3 ? 'medium' : 'low')
    })
  }

  test('rules: NEWS2 scale 2 on air scores a COPD patient at SpO2 88 as 0 where scale 1 scores 3', () => {
    assert.equal(score({ spo2Scale: 1, onOxygen: false }, 88).points('spo2'), 3)
    assert.equal(score({ spo2Scale: 2, onOxygen: false }, 88).points('spo2'), 0)
  })
})
