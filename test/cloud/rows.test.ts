/**
 * Pure parts of the cloud writer: envelope checks and their dead-letter reasons, rows per table,
 * event-derived write timestamps, single-partition batches under the size bound, the limiter.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { encodeEnvelope, SCHEMA_VERSION, SCHEMA_VERSION_RUN, type EnvelopeMsg } from '../../proto/codec.js'
import { toRequests } from '../../cloud/batches.js'
import { parseCloudConfig } from '../../cloud/config.js'
import { Limiter } from '../../cloud/limiter.js'
import { insertStatements, toRows, writeTimestampUs } from '../../cloud/rows.js'
import { MIGRATIONS, DEFAULT_SCHEMA } from '../../cloud/schema.js'
import { decodeChecked, InvalidMessage, type InvalidReason } from '../../cloud/validate.js'

const T = Date.UTC(2026, 10, 25, 10, 0, 0)
const q = insertStatements('bedside')

function env(over: Partial<EnvelopeMsg> = {}): EnvelopeMsg {
  return {
    schemaVersion: SCHEMA_VERSION, hubId: 'ward-3a', hubSeq: 42, subject: 'p-abc', subjectKind: 1, keyEpoch: 'e1', bedId: '3a-01', hubTimeMs: T,
    observation: { code: 147842, value: 72, unit: '/min', deviceTimeMs: T - 5, hubTimeMs: T, deviceSeq: 7, quality: 0, device: 'd-xyz' },
    ...over,
  }
}
const bytes = (e: EnvelopeMsg) => Buffer.from(encodeEnvelope(e))

function reasonOf(value: Buffer | null): InvalidReason | 'valid' {
  try {
    decodeChecked(value)
    return 'valid'
  } catch (err) {
    assert.ok(err instanceof InvalidMessage)
    assert.equal(err.code, 'BEDSIDE_ERR_INVALID_MESSAGE')
    return err.reason
  }
}

describe('cloud: envelope checks', () => {
  test('cloud: a valid observation envelope decodes', () => {
    assert.equal(reasonOf(bytes(env())), 'valid')
  })
  test('cloud: each kind of invalid message gets its stable dead-letter reason', () => {
    assert.equal(reasonOf(null), 'empty-value')
    assert.equal(reasonOf(Buffer.from([0x0f, 0x01, 0x02])), 'undecodable')
    assert.equal(reasonOf(bytes(env({ schemaVersion: 2 }))), 'schema-version')
    assert.equal(reasonOf(bytes(env({ hubId: '' }))), 'missing-id')
    assert.equal(reasonOf(bytes(env({ hubSeq: 0 }))), 'missing-id')
    assert.equal(reasonOf(bytes(env({ subject: '' }))), 'missing-subject')
    assert.equal(reasonOf(bytes(env({ observation: null }))), 'no-body')
    assert.equal(reasonOf(bytes(env({ hubTimeMs: 0 }))), 'bad-time')
    assert.equal(reasonOf(bytes(env({ observation: { ...env().observation!, deviceTimeMs: 5 } }))), 'bad-time')
    assert.equal(reasonOf(bytes(env({ observation: null, waveform: { code: 131329, rateHz: 0, t0Us: T * 1000, samplesUv: [1], hubTimeMs: T, deviceSeq: 1, quality: 0, device: 'd' } }))), 'bad-field')
  })
})

describe('cloud: rows', () => {
  test('cloud: an observation becomes one vitals row partitioned by subject and UTC day', () => {
    const rows = toRows(decodeChecked(bytes(env())), q)
    assert.equal(rows.length, 1)
    assert.equal(rows[0]!.table, 'vitals_by_patient')
    assert.equal(rows[0]!.partition, 'vitals_by_patient/p-abc/2026-11-25')
    assert.equal(rows[0]!.params.length, (rows[0]!.query.match(/\?/g) ?? []).length)
  })
  test('cloud: an alarm is written by patient and by ward (hub) and day', () => {
    const alarm = { alarmId: 'a1', ruleId: 'hr-high', state: 'raised', priority: 'high', category: 'physiological', code: 'MDC_ECG_HEART_RATE', value: 150, message: 'HR high', conditionSinceMs: T - 10_000, atMs: T, latching: false, ackBy: '' }
    const rows = toRows(decodeChecked(bytes(env({ observation: null, alarm }))), q)
    assert.deepEqual(rows.map((r) => r.partition), ['alerts_by_patient/p-abc/2026-11-25', 'alerts_by_hub_day/ward-3a/2026-11-25'])
    for (const r of rows) assert.equal(r.params.length, (r.query.match(/\?/g) ?? []).length)
  })
  test('cloud: waveform samples are stored as little-endian int32 µV', () => {
    const waveform = { code: 131329, rateHz: 130, t0Us: T * 1000 + 500, samplesUv: [1, -2, 300000], hubTimeMs: T, deviceSeq: 3, quality: 0, device: 'd' }
    const [r] = toRows(decodeChecked(bytes(env({ observation: null, waveform }))), q)
    const blob = r!.params[11] as Buffer
    assert.deepEqual([blob.readInt32LE(0), blob.readInt32LE(4), blob.readInt32LE(8)], [1, -2, 300000])
  })
  test('cloud: the write timestamp comes from the event, so a replay writes the same timestamp', () => {
    const e = decodeChecked(bytes(env()))
    assert.equal(writeTimestampUs(e), T * 1000 + 42)
    const a = toRows(e, q)[0]!.params.at(-1)
    const b = toRows(decodeChecked(bytes(env())), q)[0]!.params.at(-1)
    assert.equal(String(a), String(b))
  })
})

/** A schema_version 2 run of `n` observations from hub_seq 42 with gaps of `gap`, and the version 1 Envelopes of the same events. */
function runAndSingles(n: number, gap = 3): { run: EnvelopeMsg; singles: EnvelopeMsg[] } {
  const items = Array.from({ length: n }, (_, i) => ({ code: 147842 + (i % 2), value: i % 5 ? 70 + i : Number.NaN, unit: '/min', deviceTimeMs: T - 5 + i * 1000, hubTimeMs: T + i * 997, deviceSeq: 7 + i, quality: i % 3, device: 'd-xyz' }))
  const hubSeq = items.map((_, i) => 42 + i * gap)
  const head = { hubId: 'ward-3a', subject: 'p-abc', subjectKind: 1, keyEpoch: 'e1', bedId: '3a-01' }
  return {
    run: { ...head, schemaVersion: SCHEMA_VERSION_RUN, hubSeq: 42, hubTimeMs: T, observations: { items, hubSeq } },
    singles: items.map((observation, i) => ({ ...head, schemaVersion: SCHEMA_VERSION, hubSeq: hubSeq[i]!, hubTimeMs: observation.hubTimeMs, observation })),
  }
}

describe('cloud: runs of observations (schema_version 2)', () => {
  test('cloud: a run becomes exactly the rows its observations become as version 1 envelopes, write timestamps included', () => {
    const { run, singles } = runAndSingles(50)
    const fromRun = toRows(decodeChecked(bytes(run)), q)
    const fromSingles = singles.flatMap((e) => toRows(decodeChecked(bytes(e)), q))
    assert.equal(fromRun.length, 50)
    assert.deepEqual(fromRun.map((r) => [r.partition, r.query, r.bytes, r.params.map(String)]), fromSingles.map((r) => [r.partition, r.query, r.bytes, r.params.map(String)]))
    assert.deepEqual(fromRun.map((r) => Number(String(r.params[4]))), singles.map((e) => e.hubSeq), 'one row per hub_seq of the run')
  })
  test('cloud: a run that does not say which hub_seq each observation has, or mixes versions, is refused with a stable reason', () => {
    const { run } = runAndSingles(3)
    const o = run.observations!
    assert.equal(reasonOf(bytes(run)), 'valid')
    assert.equal(reasonOf(bytes({ ...run, observations: { ...o, hubSeq: o.hubSeq.slice(1) } })), 'bad-field')
    assert.equal(reasonOf(bytes({ ...run, observations: { ...o, hubSeq: [o.hubSeq[0]!, o.hubSeq[0]!, o.hubSeq[2]!] } })), 'bad-field')
    assert.equal(reasonOf(bytes({ ...run, hubSeq: 41 })), 'bad-field')
    assert.equal(reasonOf(bytes({ ...run, observations: { items: [], hubSeq: [] } })), 'no-body')
    assert.equal(reasonOf(bytes({ ...run, observations: { ...o, items: o.items.map((x, i) => (i === 2 ? { ...x, deviceTimeMs: 5 } : x)) } })), 'bad-time')
    assert.equal(reasonOf(bytes({ ...run, schemaVersion: SCHEMA_VERSION })), 'schema-version')
    assert.equal(reasonOf(bytes({ ...env(), schemaVersion: SCHEMA_VERSION_RUN })), 'schema-version')
    assert.equal(reasonOf(bytes({ ...run, schemaVersion: SCHEMA_VERSION_RUN + 1 })), 'schema-version')
  })
})

describe('cloud: batches', () => {
  test('cloud: rows are batched per partition and no batch exceeds the byte bound', () => {
    const rows = []
    for (let i = 0; i < 300; i++) rows.push(...toRows(decodeChecked(bytes(env({ hubSeq: i + 1, subject: `p-${i % 3}` }))), q))
    const maxBytes = 4096
    const reqs = toRequests(rows, maxBytes)
    assert.equal(reqs.reduce((n, r) => n + r.rows.length, 0), 300)
    for (const r of reqs) {
      assert.equal(new Set(r.rows.map((x) => x.partition)).size, 1, 'single partition')
      assert.ok(r.bytes <= maxBytes, `${r.bytes} bytes`)
      assert.equal(r.bytes, r.rows.reduce((n, x) => n + x.bytes, 0))
    }
    assert.ok(reqs.length < 300 / 5, `${reqs.length} requests for 300 rows`)
  })
  test('cloud: a row larger than the bound travels alone', () => {
    const waveform = { code: 131329, rateHz: 500, t0Us: T * 1000, samplesUv: new Array(5000).fill(7), hubTimeMs: T, deviceSeq: 3, quality: 0, device: 'd' }
    const big = toRows(decodeChecked(bytes(env({ observation: null, waveform }))), q)
    const small = toRows(decodeChecked(bytes(env({ observation: null, waveform: { ...waveform, samplesUv: [1], t0Us: T * 1000 + 1 } }))), q)
    const reqs = toRequests([...small, ...big, ...small], 4096)
    assert.deepEqual(reqs.map((r) => r.rows.length), [1, 1, 1])
  })
})

describe('cloud: config and schema', () => {
  test('cloud: defaults, overrides and unknown keys', () => {
    const c = parseCloudConfig({ kafka: { brokers: ['k:9092'], session_timeout_ms: 6000 }, cassandra: { contact_points: ['c:9042'] } }, 't')
    assert.equal(c.kafka.session_timeout_ms, 6000)
    assert.equal(c.cassandra.batch_max_bytes, 16 * 1024)
    assert.throws(() => parseCloudConfig({ kafka: { brokers: ['k'] }, cassandra: { contact_points: ['c'], batch_max_bytes: 60_000 } }, 't'), /cassandra\.batch_max_bytes/)
    assert.throws(() => parseCloudConfig({ kafka: { brokers: ['k'], bogus: 1 }, cassandra: { contact_points: ['c'] } }, 't'), /kafka: unknown key\(s\) "bogus"/)
  })
  test('cloud: migrations are numbered in order and every table uses TWCS, a TTL and IF NOT EXISTS', () => {
    assert.deepEqual(MIGRATIONS.map((m) => m.version), MIGRATIONS.map((_, i) => i + 1))
    const stmts = MIGRATIONS.flatMap((m) => m.statements(DEFAULT_SCHEMA))
    for (const s of stmts) {
      assert.match(s, /^CREATE TABLE IF NOT EXISTS /)
      assert.match(s, /TimeWindowCompactionStrategy/)
      assert.match(s, /default_time_to_live = \d+/)
      assert.match(s, /hub_seq\)/, 'primary key ends with hub_seq')
      assert.doesNotMatch(s, /speculative_retry|crc_check_chance|MATERIALIZED|CUSTOM INDEX|UnifiedCompaction/i)
    }
  })
})

describe('cloud: limiter', () => {
  test('cloud: the limiter never lets more than its limit in', async () => {
    const lim = new Limiter(3)
    let max = 0
    await Promise.all(Array.from({ length: 20 }, async (_, i) => {
      await lim.acquire()
      max = Math.max(max, lim.inFlight)
      await new Promise((r) => setTimeout(r, i % 3))
      lim.release()
    }))
    assert.equal(max, 3)
    assert.equal(lim.inFlight, 0)
  })
})
