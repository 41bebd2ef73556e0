/**
 * Runs of observations (schema_version 2, issue 23) through the real Kafka and Cassandra: the
 * agent's sync sends a store's observations as runs, keeping each key's order; a topic that holds
 * version 1 records (an agent from before) and runs, plus a run batch sent twice (a crash between
 * Kafka's acknowledgement and the cursor update), is written by the writer as exactly one row per
 * observation, each with the values it was stored with.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { pino } from 'pino'
import { parseConfig } from '../../agent/config.js'
import { DeviceRegistry } from '../../agent/pipeline/devices.js'
import { createMetrics } from '../../agent/serve/metrics.js'
import { Admissions } from '../../agent/store/admissions.js'
import { GroupCommitter, RecordKind } from '../../agent/store/commit.js'
import { openDatabase, type Db } from '../../agent/store/db.js'
import { Col, Outbox } from '../../agent/store/outbox.js'
import { EnvelopeEncoder } from '../../agent/sync/envelope.js'
import { createKafka } from '../../agent/sync/kafka.js'
import { Pseudonymizer } from '../../agent/sync/pseudonym.js'
import { CloudSync } from '../../agent/sync/sync.js'
import { alarmBody } from '../../agent/store/bodies.js'
import { decodeEnvelope, observationEvents } from '../../proto/codec.js'
import { tempDir, waitFor } from '../support/agent-process.js'
import { countRows, produceRecords, setupCloud, testKafka, type CloudSetup } from '../support/cloud-process.js'
import { readAllMessages } from '../support/kafka-scan.js'
import { kafkaBrokers } from '../support/services.js'

const NEEDS_SERVICES = process.env.KAFKA_BROKERS && process.env.CASSANDRA_CONTACT ? false : 'needs KAFKA_BROKERS and CASSANDRA_CONTACT (scripts/services/services.sh)'
const DEVICES = 4
const OBSERVATIONS = 600
/** Observations with hub_seq up to here went out as version 1 records, the rest as runs. */
const V1_UP_TO = 200

describe('cloud: runs of observations through Kafka and Cassandra', { skip: NEEDS_SERVICES }, () => {
  let cloud: CloudSetup
  let db: Db
  let encoder: EnvelopeEncoder
  const stored = new Map<number, { value: number; deviceSeq: number }>()

  before(async () => {
    cloud = await setupCloud('runs', 3)
    const dir = tempDir('runs')
    db = openDatabase(dir)
    const cfg = parseConfig({ hub: { id: 'hub-runs', site: 's', data_dir: dir }, beds: Array.from({ length: DEVICES }, (_, i) => ({ id: `bed-${i}`, devices: [{ id: `mon-${i}`, type: 'mqtt', secret: 'secret-secret', serial: `SN-${i}` }] })) })
    const admissions = new Admissions(db)
    const adm = admissions.admit('bed-0', 'MRN-0', null, null, Date.now()).id
    const committer = new GroupCommitter(db, { intervalMs: 1000, maxRecords: 10_000 })
    const t = Date.now() - 3_600_000
    // Devices interleave, an alarm and a waveform come in between: none of them breaks a run.
    for (let i = 0; i < OBSERVATIONS; i++) {
      const d = i % DEVICES
      committer.appendRecord(RecordKind.OBSERVATION, `bed-${d}`, `mon-${d}`, d === 0 ? adm : null, 150456, 90 + (i % 10), '%', t + i * 10, t + i * 10 + 3, i, 0, null)
      if (i === 301) committer.append({ kind: RecordKind.ALARM, bedId: 'bed-1', deviceId: null, admissionId: null, code: null, value: null, unit: null, deviceTimeMs: t, hubTimeMs: t + i * 10, deviceSeq: null, quality: null, body: alarmBody({ alarmId: 'a-1', bedId: 'bed-1', ruleId: 'spo2-low', state: 'raised', priority: 'medium', category: 'physiological', code: 'MDC_PULS_OXIM_SAT_O2', value: 88, message: 'SpO2 low', conditionSinceMs: t, atMs: t + i * 10, latching: false, ackBy: '' }) })
      if (i === 302) committer.append({ kind: RecordKind.WAVEFORM, bedId: 'bed-2', deviceId: 'mon-2', admissionId: null, code: 131330, value: 250, unit: 'uV', deviceTimeMs: t + i * 10, hubTimeMs: t + i * 10, deviceSeq: i, quality: 0, body: Buffer.from(new Int32Array([1, 2, 3]).buffer), t0Us: (t + i * 10) * 1000 })
    }
    committer.close()
    encoder = new EnvelopeEncoder('hub-runs', admissions, new DeviceRegistry(cfg.beds), Pseudonymizer.open(dir, 's', t - 10_000))
    for (const r of new Outbox(db).read(10_000)) if (r[Col.KIND] === RecordKind.OBSERVATION) stored.set(r[Col.HUB_SEQ], { value: r[Col.VALUE]!, deviceSeq: r[Col.DEVICE_SEQ]! })
  })
  after(async () => {
    await cloud?.close()
    db?.close()
  })

  test('cloud: a topic of version 1 records and runs, with a run batch sent twice, becomes exactly one row per observation', async () => {
    const outbox = new Outbox(db)
    const kafka = testKafka()
    const producer = kafka.producer()
    await producer.connect()
    // An agent from before issue 23 sent the first observations one per record...
    const early = outbox.read(10_000).filter((r) => r[Col.HUB_SEQ] <= V1_UP_TO)
    await produceRecords(producer, cloud.agentTopics.raw_vitals, early.filter((r) => r[Col.KIND] === RecordKind.OBSERVATION).map((r) => encoder.encode(r)))
    outbox.advance(V1_UP_TO)
    // ...and this one sends the rest as runs.
    const log = pino({ level: 'silent' })
    const sync = new CloudSync(createKafka({ brokers: kafkaBrokers(), clientId: 'test-runs', log }), outbox, encoder, { topics: cloud.agentTopics, maxBatchRecords: 150, minBatchRecords: 150, observationsPerRecord: 40 }, createMetrics(), log)
    sync.start()
    await waitFor('outbox drained', async () => outbox.depth() === 0 || undefined, 60_000, 50)
    await sync.stop()

    const sent = (await readAllMessages([cloud.agentTopics.raw_vitals])).map((m) => ({ key: m.key!.toString(), e: decodeEnvelope(m.value!) }))
    const runs = sent.filter((m) => m.e.observations)
    assert.equal(sent.length - runs.length, early.filter((r) => r[Col.KIND] === RecordKind.OBSERVATION).length)
    assert.ok(runs.length >= DEVICES && runs.length < 40, `${runs.length} runs for ${OBSERVATIONS - V1_UP_TO} observations`)
    assert.ok(runs.every((m) => m.key === m.e.subject && m.e.observations!.items.length <= 40))
    // Per key (so per partition), every event in hub_seq order, as the hub committed them.
    const byKey = new Map<string, number[]>()
    for (const m of sent) for (const o of observationEvents(m.e)) byKey.set(m.key, [...(byKey.get(m.key) ?? []), o.hubSeq])
    assert.equal(byKey.size, DEVICES)
    for (const [key, seqs] of byKey) assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), `key ${key} in order`)
    assert.equal([...byKey.values()].flat().length, OBSERVATIONS, 'every observation once')

    // The sync's last batch sent again, as after a crash before its cursor update.
    const last = runs.slice(-5).map((m) => ({ key: m.key, value: Buffer.from(encoder.encodeRun(m.e.observations!.items.map((o, i) => ({ hubSeq: m.e.observations!.hubSeq[i]!, subject: m.e.subject, subjectKind: m.e.subjectKind, keyEpoch: m.e.keyEpoch, bedId: m.e.bedId, hubTimeMs: o.hubTimeMs, observation: o })))) }))
    await produceRecords(producer, cloud.agentTopics.raw_vitals, [...last, ...early.slice(0, 10).map((r) => encoder.encode(r))])
    await producer.disconnect()

    cloud.startWriter()
    const table = `${cloud.keyspace}.vitals_by_patient`
    await waitFor(`${OBSERVATIONS} rows`, async () => (await countRows(cloud.cql, table)) >= OBSERVATIONS, 90_000, 500)
    await new Promise((r) => setTimeout(r, 2000)) // late duplicates would show up now
    const rows = (await cloud.cql.execute(`SELECT hub_id, hub_seq, value, device_seq FROM ${table}`, [], { prepare: true, fetchSize: 10_000 })).rows
    assert.equal(rows.length, OBSERVATIONS)
    for (const r of rows) {
      const want = stored.get(Number(r.hub_seq))
      assert.ok(want, `row ${r.hub_seq} is a stored observation`)
      assert.equal(r.hub_id, 'hub-runs')
      assert.deepEqual([Number(r.value), Number(r.device_seq)], [want.value, want.deviceSeq])
    }
  })
})
