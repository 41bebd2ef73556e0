/**
 * Plausibility (issue 16): the range table against codes.ts, and every code through a real
 * Pipeline, rule engine, GroupCommitter and SQLite store: a value just inside counts (it can raise
 * an alarm), one just outside is stored flagged OUT_OF_RANGE, counted, logged once, and kept out
 * of the alarms, NEWS2, windows and the latest vitals.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { describe, test, type TestContext } from 'node:test'
import { pino } from 'pino'
import { MDC_TERMS, refOf } from '../../drivers/codes.js'
import { Quality, type Observation } from '../../drivers/records.js'
import { parseConfig } from '../../agent/config.js'
import { DeviceRegistry } from '../../agent/pipeline/devices.js'
import { Pipeline } from '../../agent/pipeline/ingest.js'
import { LatestVitals } from '../../agent/pipeline/latest.js'
import { isImplausible, PLAUSIBLE_RANGES, plausibleRange } from '../../agent/pipeline/plausibility.js'
import { createRuleEngine, DEFAULT_RULES, rulesConfigSchema, type AlarmChange, type RulesConfig, type RuleEngine } from '../../agent/rules/index.js'
import { createMetrics, type Metrics } from '../../agent/serve/metrics.js'
import { Admissions } from '../../agent/store/admissions.js'
import { GroupCommitter, RecordKind } from '../../agent/store/commit.js'
import { openDatabase } from '../../agent/store/db.js'

const BED = 'pl-bed'
const DEVICE = 'pl-mon'
const T0 = 1_750_000_020_000
/** Past the bounds by more than any rounding: every range is at least 15 units wide. */
const DELTA = 0.1

interface Rig {
  readonly pipeline: Pipeline
  readonly engine: RuleEngine
  readonly latest: LatestVitals
  readonly metrics: Metrics
  readonly alarms: AlarmChange[]
  readonly logs: Record<string, unknown>[]
  /** Commits what is pending and reads the bed's observation rows back from SQLite. */
  rows(): { code: number; value: number | null; quality: number }[]
}

function rig(t: TestContext, rules: RulesConfig): Rig {
  const dir = mkdtempSync(join(tmpdir(), 'plausibility-'))
  const cfg = parseConfig({ hub: { id: 'pl', site: 's', data_dir: dir }, beds: [{ id: BED, devices: [{ id: DEVICE, type: 'mqtt', secret: 'secret-secret' }] }] })
  const db = openDatabase(dir)
  const committer = new GroupCommitter(db, { intervalMs: 60_000, maxRecords: 10_000 })
  const metrics = createMetrics()
  const engine = createRuleEngine(rules)
  const latest = new LatestVitals()
  const alarms: AlarmChange[] = []
  const logs: Record<string, unknown>[] = []
  const sink = new Writable({ write(chunk, _enc, cb) { for (const l of String(chunk).split('\n')) if (l) logs.push(JSON.parse(l)); cb() } })
  const pipeline = new Pipeline({
    devices: new DeviceRegistry(cfg.beds), admissions: new Admissions(db), committer, engine, latest, metrics,
    log: pino({ level: 'info' }, sink), publishAlarm: (c) => void alarms.push(c),
  })
  t.after(() => {
    committer.close()
    db.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const select = db.prepare('SELECT code, value, quality FROM records WHERE kind = ? AND bed_id = ? ORDER BY hub_seq')
  return {
    pipeline, engine, latest, metrics, alarms, logs,
    rows: () => {
      committer.flush()
      return select.all(RecordKind.OBSERVATION, BED) as { code: number; value: number | null; quality: number }[]
    },
  }
}

function obs(code: number, value: number, tS: number): Observation {
  const unit = MDC_TERMS.find((m) => m.code === code)!.unit
  return { kind: 'obs', deviceId: DEVICE, code, value, unit, deviceTimeMs: T0 + tS * 1000, hubTimeMs: T0 + tS * 1000, deviceSeq: tS, quality: 0 }
}

async function counted(m: Metrics, ref: string): Promise<number> {
  const all = await m.registry.getSingleMetric('bedside_ingest_out_of_range_total')!.get()
  return all.values.find((v) => v.labels.code === ref)?.value ?? 0
}

/** Two zero-delay rules that fire on the bounds themselves: a flagged value past them would fire them too if it counted. */
function boundRules(ref: string, min: number, max: number): RulesConfig {
  const base = { kind: 'threshold', code: ref, delay_s: 0, hysteresis: 0, latching: 'never' }
  return rulesConfigSchema.parse({ defaults: false, set: [{ ...base, id: 'at-max', op: '>=', limit: max }, { ...base, id: 'at-min', op: '<=', limit: min }] })
}

describe('plausibility: the range table', () => {
  test('plausibility: every numeric code of codes.ts has exactly one range, in its canonical unit; waveforms have none', () => {
    const numeric = MDC_TERMS.filter((m) => m.kind === 'numeric')
    assert.deepEqual(PLAUSIBLE_RANGES.map((r) => r.code).sort(), numeric.map((m) => m.code).sort())
    for (const m of numeric) assert.equal(plausibleRange(m.code)!.unit, m.unit, m.ref)
    for (const m of MDC_TERMS.filter((x) => x.kind === 'waveform')) assert.equal(plausibleRange(m.code), undefined, m.ref)
    for (const r of PLAUSIBLE_RANGES) assert.match(r.source, /\[(MR-[A-Z0-9-]+|DEF|DATEX|LOCAL)\]/, refOf(r.code))
  })

  test('plausibility: bounds are inclusive; just outside, ±Infinity and huge magnitudes are implausible; NaN is not judged', () => {
    for (const r of PLAUSIBLE_RANGES) {
      const ref = refOf(r.code)
      assert.equal(isImplausible(r.code, r.min), false, `${ref} min`)
      assert.equal(isImplausible(r.code, r.max), false, `${ref} max`)
      assert.equal(isImplausible(r.code, r.min - DELTA), true, `${ref} below`)
      assert.equal(isImplausible(r.code, r.max + DELTA), true, `${ref} above`)
      for (const v of [1e300, -1e300, Number.MAX_VALUE, Infinity, -Infinity]) assert.equal(isImplausible(r.code, v), true, `${ref} ${v}`)
      assert.equal(isImplausible(r.code, Number.NaN), false, `${ref} NaN`)
    }
    assert.equal(isImplausible(MDC_TERMS.find((m) => m.kind === 'waveform')!.code, 1e300), false)
  })

  test('plausibility: the issue examples against their codes', () => {
    const spo2 = MDC_TERMS.find((m) => m.ref === 'MDC_PULS_OXIM_SAT_O2')!.code
    const hr = MDC_TERMS.find((m) => m.ref === 'MDC_ECG_HEART_RATE')!.code
    assert.equal(isImplausible(spo2, -5), true)
    assert.equal(isImplausible(spo2, 1e300), true)
    assert.equal(isImplausible(hr, 1_000_000), true)
    assert.equal(isImplausible(hr, 185), false)
  })
})

describe('plausibility: through the pipeline, per code', () => {
  for (const r of PLAUSIBLE_RANGES) {
    const ref = refOf(r.code)
    test(`plausibility: ${ref} just outside is stored flagged, counted, logged once, and raises nothing; just inside alarms`, async (t) => {
      const g = rig(t, boundRules(ref, r.min, r.max))
      assert.equal(g.pipeline.ingestObservation(obs(r.code, r.max + DELTA, 1)), 'accepted')
      assert.equal(g.pipeline.ingestObservation(obs(r.code, r.min - DELTA, 2)), 'accepted')
      assert.equal(g.alarms.length, 0, 'a flagged value raised an alarm')
      const shown = g.latest.of(BED)!.get(r.code)!
      assert.ok(Number.isNaN(shown.value), `latest vitals show ${shown.value}`)
      assert.equal(shown.quality & Quality.OUT_OF_RANGE, Quality.OUT_OF_RANGE)

      assert.equal(g.pipeline.ingestObservation(obs(r.code, r.max, 3)), 'accepted')
      assert.equal(g.pipeline.ingestObservation(obs(r.code, r.min, 4)), 'accepted')
      assert.deepEqual(g.alarms.map((a) => `${a.ruleId} ${a.state}`), ['at-max raised', 'at-max cleared', 'at-min raised'])
      assert.equal(g.latest.of(BED)!.get(r.code)!.value, r.min)

      assert.deepEqual(g.rows(), [
        { code: r.code, value: r.max + DELTA, quality: Quality.OUT_OF_RANGE },
        { code: r.code, value: r.min - DELTA, quality: Quality.OUT_OF_RANGE },
        { code: r.code, value: r.max, quality: Quality.VALID },
        { code: r.code, value: r.min, quality: Quality.VALID },
      ])
      assert.equal(await counted(g.metrics, ref), 2)
      const lines = g.logs.filter((l) => l.event === 'ingest_out_of_range')
      assert.equal(lines.length, 1, 'one log line per cause, not per record')
      assert.equal(lines[0]!.code, ref)
    })
  }
})

describe('plausibility: what a flagged value must not reach', () => {
  const code = (ref: string) => MDC_TERMS.find((m) => m.ref === ref)!.code

  test('plausibility: implausible inputs do not score in NEWS2, genuine extremes do', (t) => {
    const g = rig(t, DEFAULT_RULES)
    const normal: [string, number][] = [['MDC_RESP_RATE', 16], ['MDC_PULS_OXIM_SAT_O2', 97], ['MDC_PRESS_BLD_NONINV_SYS', 130], ['MDC_ECG_HEART_RATE', 80], ['MDC_TEMP_BODY', 37]]
    normal.forEach(([ref, v], i) => g.pipeline.ingestObservation(obs(code(ref), v, i)))
    assert.equal(g.engine.news2(BED)!.total, 0)
    const impossible: [string, number][] = [['MDC_RESP_RATE', 500], ['MDC_PULS_OXIM_SAT_O2', -5], ['MDC_PRESS_BLD_NONINV_SYS', 1e4], ['MDC_ECG_HEART_RATE', 1e6], ['MDC_TEMP_BODY', 99.6]]
    impossible.forEach(([ref, v], i) => g.pipeline.ingestObservation(obs(code(ref), v, 10 + i)))
    assert.equal(g.engine.news2(BED)!.total, 0)
    assert.deepEqual(g.alarms, [])
    g.pipeline.ingestObservation(obs(code('MDC_PULS_OXIM_SAT_O2'), 85, 20)) // scale 1: ≤91 scores 3 (protocols.md §9)
    assert.equal(g.engine.news2(BED)!.total, 3)
  })

  test('plausibility: a 1e300 HR between genuine readings leaves the 60 s average exact', (t) => {
    const g = rig(t, rulesConfigSchema.parse({ defaults: false, set: [{ kind: 'window', id: 'hr-avg', code: 'MDC_ECG_HEART_RATE', window: 'sliding',
      window_s: 60, aggregate: 'avg', op: '>', limit: 110, min_samples: 5, max_samples: 128, latching: 'never' }] }))
    const hr = code('MDC_ECG_HEART_RATE')
    for (let s = 0; s < 8; s++) g.pipeline.ingestObservation(obs(hr, s === 3 ? 1e300 : 115, s))
    const raised = g.alarms.filter((a) => a.state === 'raised')
    assert.equal(raised.length, 1)
    assert.equal(raised[0]!.value, 115)
  })

  test('plausibility: no validQualityMask lets an out-of-range value count; re-timed values still do', () => {
    const rules = boundRules('MDC_ECG_HEART_RATE', 0, 350)
    const engine = createRuleEngine(rules, { validQualityMask: Quality.OUT_OF_RANGE | Quality.UNAVAILABLE | Quality.RETIMED })
    const hr = code('MDC_ECG_HEART_RATE')
    assert.equal(engine.observe(BED, { ...obs(hr, 1e6, 1), quality: Quality.OUT_OF_RANGE }).length, 0)
    assert.equal(engine.observe(BED, { ...obs(hr, 1e6, 2), quality: Quality.OUT_OF_RANGE | Quality.RETIMED }).length, 0)
    assert.deepEqual(engine.observe(BED, { ...obs(hr, 350, 3), quality: Quality.RETIMED }).map((c) => `${c.ruleId} ${c.state}`), ['at-max raised'])
  })

  test('plausibility: a device already flagging a value keeps its flags, the hub adds OUT_OF_RANGE', (t) => {
    const g = rig(t, DEFAULT_RULES)
    const spo2 = code('MDC_PULS_OXIM_SAT_O2')
    g.pipeline.ingestObservation({ ...obs(spo2, 120, 1), quality: Quality.QUESTIONABLE })
    assert.deepEqual(g.rows(), [{ code: spo2, value: 120, quality: Quality.QUESTIONABLE | Quality.OUT_OF_RANGE }])
  })

  test('plausibility: a device under/over-range marker (NaN, OUT_OF_RANGE) is stored, not refused as bad-value', async (t) => {
    const g = rig(t, DEFAULT_RULES)
    const sbp = code('MDC_PRESS_BLD_NONINV_SYS')
    assert.equal(g.pipeline.ingestObservation({ ...obs(sbp, Number.NaN, 1), quality: Quality.OUT_OF_RANGE }), 'accepted')
    assert.deepEqual(g.rows(), [{ code: sbp, value: null, quality: Quality.OUT_OF_RANGE }])
    assert.equal(await counted(g.metrics, 'MDC_PRESS_BLD_NONINV_SYS'), 0, 'the device said it, the hub did not find it')
    assert.equal(g.pipeline.ingestObservation(obs(sbp, Number.NaN, 2)), 'rejected', 'an unflagged NaN is still malformed')
  })
})
