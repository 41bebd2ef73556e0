/**
 * The writer against real Kafka and Cassandra, one process: poison messages go to dead-letter with
 * reason and source offset while the partition moves on; writes that keep failing pause only their
 * partition and resume; the ops endpoints; and the two example queries of docs/analytics.md.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { Kafka, Producer } from 'kafkajs'
import { encodeEnvelope, SCHEMA_VERSION, SCHEMA_VERSION_RUN } from '../../proto/codec.js'
import { toRequests } from '../../cloud/batches.js'
import { parseCloudConfig } from '../../cloud/config.js'
import { WriterMetrics } from '../../cloud/metrics.js'
import { insertStatements, toRows } from '../../cloud/rows.js'
import { DEFAULT_SCHEMA, MIGRATIONS } from '../../cloud/schema.js'
import { CqlSink } from '../../cloud/sink.js'
import { decodeChecked } from '../../cloud/validate.js'
import { freePort, metricValue, waitFor } from '../support/agent-process.js'
import { countRows, produceRecords, readDeadLetter, setupCloud, testKafka, type CloudSetup } from '../support/cloud-process.js'
import { alarmRecord, observationRecords } from './envelopes.js'

/** `npm test` starts the services; `npm run test:unit` has none and skips this file. */
const NEEDS_SERVICES = process.env.KAFKA_BROKERS && process.env.CASSANDRA_CONTACT ? false : 'needs KAFKA_BROKERS and CASSANDRA_CONTACT (scripts/services/services.sh)'

const HOUR_MS = 3_600_000
const DAY_MS = 24 * HOUR_MS

describe('cloud: dead-letter, failing writes, ops endpoints, documented queries', { skip: NEEDS_SERVICES }, () => {
  let cloud: CloudSetup
  let kafka: Kafka
  let producer: Producer
  let http: string

  before(async () => {
    cloud = await setupCloud('cloud-dl', 2, { kafka: { lag_interval_ms: 200 }, cassandra: { write_attempts: 2, retry_initial_ms: 50, pause_ms: 500 } })
    kafka = testKafka()
    producer = kafka.producer()
    await producer.connect()
    const port = await freePort()
    cloud.startWriter({ httpPort: port })
    http = `http://127.0.0.1:${port}`
    await waitFor('writer /readyz', async () => (await fetch(`${http}/readyz`)).ok, 60_000, 250)
  })
  after(async () => {
    await producer?.disconnect()
    await cloud?.close()
  })

  const vitalsOf = async (subject: string) => Number((await cloud.cql.execute(`SELECT COUNT(*) AS n FROM ${cloud.keyspace}.vitals_by_patient WHERE subject = ? AND day IN ?`, [subject, daysAround()], { prepare: true })).rows[0]!.n)

  test('cloud: poison messages land in dead-letter with reason and source offset, and the partition moves on', async () => {
    const [good1, good2, good3] = observationRecords('hub-dl', 3, 1, Date.now() - HOUR_MS, 1, 'p-poison-')
    const garbage = Buffer.from([0x0f, 0x01, 0x02]) // field 1 with wire type 7: not protobuf
    const future = encodeEnvelope({ schemaVersion: SCHEMA_VERSION_RUN + 1, hubId: 'hub-dl', hubSeq: 99, subject: 'p-poison', subjectKind: 1, keyEpoch: 'e1', bedId: 'b', hubTimeMs: Date.now() })
    const bodiless = encodeEnvelope({ schemaVersion: SCHEMA_VERSION, hubId: 'hub-dl', hubSeq: 98, subject: 'p-poison', subjectKind: 1, keyEpoch: 'e1', bedId: 'b', hubTimeMs: Date.now() })
    const values = [good1!.value, garbage, future, bodiless, good2!.value, good3!.value].map((v) => Buffer.from(v))
    const [meta] = await producer.send({ topic: cloud.agentTopics.raw_vitals, acks: -1, messages: values.map((value) => ({ key: 'p-poison', value })) })
    const base = Number(meta!.baseOffset)
    await waitFor('3 valid rows', async () => (await vitalsOf('p-poison-0')) === 3, 30_000, 250)
    const dead = await readDeadLetter(kafka, cloud.agentTopics.dead_letter, 3)
    assert.equal(dead.length, 3)
    const byOffset = new Map(dead.map((d) => [Number(d.headers['bedside-source-offset']), d]))
    const expect = [[base + 1, 'undecodable', garbage], [base + 2, 'schema-version', values[2]], [base + 3, 'no-body', values[3]]] as const
    for (const [offset, reason, value] of expect) {
      const d = byOffset.get(offset)
      assert.ok(d, `offset ${offset} dead-lettered`)
      assert.equal(d.headers['bedside-reason'], reason)
      assert.equal(d.headers['bedside-source-topic'], cloud.agentTopics.raw_vitals)
      assert.equal(d.headers['bedside-source-partition'], String(meta!.partition))
      assert.equal(d.key, 'p-poison')
      assert.deepEqual(d.value, value, 'the original bytes, unchanged')
    }
    assert.equal(await metricValue(http, 'bedside_cloud_dead_lettered_total', 'reason="undecodable"'), 1)
    assert.equal(await metricValue(http, 'bedside_cloud_dead_lettered_total'), 3)
  })

  test('cloud: writes that keep failing pause their partition only, and it resumes once the table is back', async () => {
    const vitals = MIGRATIONS[0]!.statements({ ...DEFAULT_SCHEMA, keyspace: cloud.keyspace })[0]!
    await cloud.cql.execute(`DROP TABLE ${cloud.keyspace}.vitals_by_patient`)
    const obs = observationRecords('hub-fail', 200, 4, Date.now() - HOUR_MS)
    await produceRecords(producer, cloud.agentTopics.raw_vitals, obs)
    await waitFor('a partition paused', async () => (await metricValue(http, 'bedside_cloud_partition_pauses_total')) > 0, 30_000, 100)
    assert.equal((await fetch(`${http}/healthz`)).status, 200, 'a paused partition is not a dead process')
    await waitFor('lag of the stuck partitions on /metrics', async () => (await metricValue(http, 'bedside_cloud_consumer_lag', `topic="${cloud.agentTopics.raw_vitals}"`)) > 0, 10_000, 100)
    // Alarms live on other partitions of another topic: they keep flowing meanwhile.
    const alarmsBefore = await countRows(cloud.cql, `${cloud.keyspace}.alerts_by_patient`)
    await produceRecords(producer, cloud.agentTopics.alert_events, [alarmRecord('hub-fail', 1000, 'p-x', Date.now() - 1000, 'high')])
    await waitFor('alarm written during the outage', async () => (await countRows(cloud.cql, `${cloud.keyspace}.alerts_by_patient`)) === alarmsBefore + 1, 30_000, 250)
    await cloud.cql.execute(vitals)
    await waitFor('200 rows after the table is back', async () => (await countRows(cloud.cql, `${cloud.keyspace}.vitals_by_patient`)) === 200, 60_000, 250)
    assert.ok((await metricValue(http, 'bedside_cloud_write_retries_total')) > 0)
    assert.equal(await metricValue(http, 'bedside_cloud_partitions_paused'), 0)
  })

  test('cloud: batches at the largest allowed batch_max_bytes pass Cassandra\'s 50 KiB batch limit', async () => {
    const cfg = parseCloudConfig({ kafka: { brokers: ['unused:1'] }, cassandra: { contact_points: ['unused:1'], keyspace: cloud.keyspace, batch_max_bytes: 48 * 1024 } }, 'test')
    const metrics = new WriterMetrics()
    const sink = new CqlSink(cloud.cql, cfg.cassandra, metrics)
    const q = insertStatements(cloud.keyspace)
    const t0Us = (Date.now() - HOUR_MS) * 1000
    const rows = Array.from({ length: 60 }, (_, i) => toRows(decodeChecked(Buffer.from(encodeEnvelope({
      schemaVersion: SCHEMA_VERSION, hubId: 'hub-big', hubSeq: i + 1, subject: 'p-big', subjectKind: 1, keyEpoch: 'e1', bedId: 'b', hubTimeMs: Date.now(),
      waveform: { code: 131329, rateHz: 500, t0Us: t0Us + i * 2_000_000, samplesUv: Array.from({ length: 1000 }, (_, k) => k * 1001), hubTimeMs: Date.now(), deviceSeq: i, quality: 0, device: 'd' },
    }))), q)).flat()
    const requests = toRequests(rows, cfg.cassandra.batch_max_bytes)
    assert.ok(requests.length <= 8, `${requests.length} batches for 60 rows`)
    assert.ok(Math.max(...requests.map((r) => r.bytes)) > 40 * 1024, 'batches close to the bound')
    const result = await sink.write(requests, { isRunning: () => true, heartbeat: async () => undefined })
    assert.equal(result.kind, 'ok', result.kind === 'retry' ? result.cause.message : '')
    const n = await cloud.cql.execute(`SELECT COUNT(*) AS n FROM ${cloud.keyspace}.waveforms_by_patient WHERE subject = 'p-big' AND day IN ?`, [daysAround()], { prepare: true })
    assert.equal(Number(n.rows[0]!.n), 60)
  })

  test('cloud: /metrics has per-partition lag and write latency; /healthz and /readyz answer 200', async () => {
    const text = await (await fetch(`${http}/metrics`)).text()
    assert.match(text, new RegExp(`bedside_cloud_consumer_lag\\{topic="${cloud.agentTopics.raw_vitals}",partition="\\d"\\} 0`))
    assert.ok((await metricValue(http, 'bedside_cloud_write_latency_seconds_count')) > 0)
    assert.ok((await metricValue(http, 'bedside_cloud_event_age_seconds_count')) > 0)
    const ready = await fetch(`${http}/readyz`)
    assert.equal(ready.status, 200)
    assert.equal(((await ready.json()) as { phase: string }).phase, 'joined')
    assert.equal((await fetch(`${http}/healthz`)).status, 200)
  })

  test('cloud: the documented queries: last hour of a patient, alarms of a ward yesterday', async () => {
    const nowMs = Date.now()
    const startOfToday = Math.floor(nowMs / DAY_MS) * DAY_MS
    const yesterday = new Date(startOfToday - DAY_MS).toISOString().slice(0, 10)
    // Patient p-q: 2 hours of readings 1 s apart (hub_seq 1..7200), 3600 of them in the last hour.
    const obs = observationRecords('hub-q', 7200, 1, nowMs - 2 * HOUR_MS - 1000, 1, 'p-q-')
    await produceRecords(producer, cloud.agentTopics.raw_vitals, obs)
    const alarms = [
      alarmRecord('ward-q', 1, 'p-q', startOfToday - DAY_MS + 1000, 'high', 'q-01'),
      alarmRecord('ward-q', 2, 'p-r', startOfToday - 1000, 'medium', 'q-02'),
      alarmRecord('ward-q', 3, 'p-q', startOfToday + 1000, 'low', 'q-01'), // today: not yesterday
      alarmRecord('ward-other', 1, 'p-s', startOfToday - HOUR_MS, 'high', 'o-01'), // another ward
    ]
    await produceRecords(producer, cloud.agentTopics.alert_events, alarms)
    await waitFor('p-q rows', async () => (await vitalsOf('p-q-0')) === 7200, 60_000, 500)
    await waitFor('alarms', async () => (await countRows(cloud.cql, `${cloud.keyspace}.alerts_by_hub_day`)) >= 5, 30_000, 250)

    // docs/analytics.md, query 1 (the hour may span two UTC days: ask both partitions).
    const sinceMs = nowMs - HOUR_MS
    const days = [...new Set([new Date(sinceMs).toISOString().slice(0, 10), new Date(nowMs).toISOString().slice(0, 10)])]
    const lastHour = await cloud.cql.execute(`SELECT ts, code, value, unit, quality, hub_id, hub_seq FROM ${cloud.keyspace}.vitals_by_patient WHERE subject = ? AND day IN ? AND ts >= ? AND ts < ?`, ['p-q-0', days, new Date(sinceMs), new Date(nowMs)], { prepare: true, fetchSize: 10_000 })
    assert.equal(lastHour.rows.length, 3600, 'readings 3601..7200 fall in the last hour')
    assert.deepEqual([...new Set(lastHour.rows.map((r) => r.hub_id))], ['hub-q'])
    // docs/analytics.md, query 2.
    const ward = await cloud.cql.execute(`SELECT ts, bed_id, subject, priority, state, message FROM ${cloud.keyspace}.alerts_by_hub_day WHERE hub_id = ? AND day = ?`, ['ward-q', yesterday], { prepare: true })
    assert.deepEqual(ward.rows.map((r) => `${r.bed_id}/${r.priority}`), ['q-02/medium', 'q-01/high'], 'newest first, only ward-q, only yesterday')
  })
})

function daysAround(): string[] {
  const now = Date.now()
  return [-2, -1, 0].map((d) => new Date(now + d * DAY_MS).toISOString().slice(0, 10))
}

