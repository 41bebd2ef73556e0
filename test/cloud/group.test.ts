/**
 * Two writer processes in one consumer group on the real Kafka and Cassandra: one is SIGKILLed
 * mid-stream and the survivor takes over after the session timeout; every record is a row exactly
 * once. Then a graceful stop commits everything, and a replay from the earliest offsets changes
 * no row (not even its writetime).
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { Kafka, Producer } from 'kafkajs'
import { freePort, metricValue, waitFor, type ChildHandle } from '../support/agent-process.js'
import { countRows, groupLag, produceRecords, resetGroupToEarliest, setupCloud, testKafka, type CloudSetup } from '../support/cloud-process.js'
import { observationRecords } from './envelopes.js'

/** `npm test` starts the services; `npm run test:unit` has none and skips this file. */
const NEEDS_SERVICES = process.env.KAFKA_BROKERS && process.env.CASSANDRA_CONTACT ? false : 'needs KAFKA_BROKERS and CASSANDRA_CONTACT (scripts/services/services.sh)'

const TOTAL = 20_000
const SUBJECTS = 24
const EXTRA = 5000

async function startReadyWriter(cloud: CloudSetup): Promise<{ w: ChildHandle; http: string }> {
  const port = await freePort()
  const w = cloud.startWriter({ httpPort: port })
  const http = `http://127.0.0.1:${port}`
  await waitFor('writer /readyz', async () => (await fetch(`${http}/readyz`)).ok, 60_000, 250)
  return { w, http }
}

async function snapshot(cloud: CloudSetup): Promise<string[]> {
  const r = await cloud.cql.execute(`SELECT subject, day, ts, hub_id, hub_seq, value, device_seq, writetime(value) AS wt FROM ${cloud.keyspace}.vitals_by_patient`, [], { fetchSize: 50_000, readTimeout: 60_000 })
  return r.rows.map((x) => `${x.subject}|${x.day}|${x.ts.getTime()}|${x.hub_id}|${x.hub_seq}|${x.value}|${x.device_seq}|${x.wt}`).sort()
}

describe('cloud: writer group over real Kafka and Cassandra', { skip: NEEDS_SERVICES }, () => {
  let cloud: CloudSetup
  let kafka: Kafka
  let producer: Producer
  const sourceTopics = () => [cloud.agentTopics.raw_vitals, cloud.agentTopics.alert_events, cloud.agentTopics.waveforms, cloud.agentTopics.audit_log]

  before(async () => {
    cloud = await setupCloud('cloud-group', 4)
    kafka = testKafka()
    producer = kafka.producer()
    await producer.connect()
  })
  after(async () => {
    await producer?.disconnect()
    await cloud?.close()
  })

  test('cloud: two writers share the group; one SIGKILLed mid-stream, every record is written exactly once', async () => {
    const a = await startReadyWriter(cloud)
    const b = await startReadyWriter(cloud)
    await waitFor('both writers hold partitions', async () => (await metricValue(a.http, 'bedside_cloud_partitions_assigned')) > 0 && (await metricValue(b.http, 'bedside_cloud_partitions_assigned')) > 0, 30_000, 250)
    const records = observationRecords('hub-g', TOTAL, SUBJECTS, Date.now() - 6 * 3_600_000)
    const third = TOTAL / 4
    await produceRecords(producer, cloud.agentTopics.raw_vitals, records.slice(0, third))
    await waitFor('writer A to write rows', async () => (await metricValue(a.http, 'bedside_cloud_rows_written_total')) > 0, 30_000, 100)
    // Keep producing while A dies, so A's partitions hold unwritten and uncommitted records.
    const producing = produceRecords(producer, cloud.agentTopics.raw_vitals, records.slice(third), 500)
    const writtenByA = await metricValue(a.http, 'bedside_cloud_rows_written_total')
    a.w.proc.kill('SIGKILL')
    await a.w.exited
    await producing
    await waitFor(`${TOTAL} rows`, async () => (await countRows(cloud.cql, `${cloud.keyspace}.vitals_by_patient`)) >= TOTAL, 120_000, 1000)
    await new Promise((r) => setTimeout(r, 2000)) // a late duplicate would show up now
    assert.equal(await countRows(cloud.cql, `${cloud.keyspace}.vitals_by_patient`), TOTAL)
    assert.equal(await metricValue(b.http, 'bedside_cloud_partitions_assigned'), 16, 'the survivor owns all 4×4 partitions')
    const writtenByB = await metricValue(b.http, 'bedside_cloud_rows_written_total')
    console.log(`# cloud group: A wrote ${writtenByA}+ rows before SIGKILL, B wrote ${writtenByB}; table holds exactly ${TOTAL}`)
    assert.ok(writtenByA > 0 && writtenByA < TOTAL)
    b.w.proc.kill('SIGTERM')
    assert.equal(await b.w.exited, 0)
  })

  test('cloud: SIGTERM mid-stream exits 0 and commits only offsets whose rows are written', async () => {
    const records = observationRecords('hub-g', EXTRA, SUBJECTS, Date.now() - 6 * 3_600_000, TOTAL + 1)
    const c = await startReadyWriter(cloud)
    // SIGTERM while records are still arriving, so that batches are in flight when it lands.
    const producing = produceRecords(producer, cloud.agentTopics.raw_vitals, records, 100)
    await waitFor('some of the new rows written', async () => (await metricValue(c.http, 'bedside_cloud_rows_written_total')) > 0, 60_000, 20)
    c.w.proc.kill('SIGTERM')
    assert.equal(await c.w.exited, 0)
    await producing
    const committed = EXTRA - (await groupLag(kafka, cloud.groupId, sourceTopics()))
    const rows = (await countRows(cloud.cql, `${cloud.keyspace}.vitals_by_patient`)) - TOTAL
    console.log(`# cloud graceful stop: ${committed} of ${EXTRA} new records committed, ${rows} rows written`)
    assert.ok(committed > 0, 'the writer committed before it left')
    assert.ok(rows >= committed, `${rows} rows cover ${committed} committed offsets`)
    const d = await startReadyWriter(cloud)
    await waitFor('lag 0', async () => (await groupLag(kafka, cloud.groupId, sourceTopics())) === 0, 60_000, 500)
    d.w.proc.kill('SIGTERM')
    assert.equal(await d.w.exited, 0)
    assert.equal(await countRows(cloud.cql, `${cloud.keyspace}.vitals_by_patient`), TOTAL + EXTRA)
  })

  test('cloud: a replay from the earliest offsets changes no row', async () => {
    await cloud.close() // every writer stopped (SIGTERM) and gone: the group is empty
    cloud = await reopen(cloud)
    const before = await snapshot(cloud)
    assert.equal(before.length, TOTAL + EXTRA)
    await resetGroupToEarliest(kafka, cloud.groupId, sourceTopics())
    assert.equal(await groupLag(kafka, cloud.groupId, sourceTopics()), TOTAL + EXTRA)
    const c = await startReadyWriter(cloud)
    await waitFor('replay consumed', async () => (await groupLag(kafka, cloud.groupId, sourceTopics())) === 0, 120_000, 500)
    assert.ok((await metricValue(c.http, 'bedside_cloud_rows_written_total')) >= TOTAL + EXTRA, 'every record was written again')
    assert.deepEqual(await snapshot(cloud), before)
  })
})

/** The same keyspace, topics and group, with a fresh CQL session (close() shut the old one). */
async function reopen(old: CloudSetup): Promise<CloudSetup> {
  const { default: cassandra } = await import('cassandra-driver')
  const { cassandraContact } = await import('../support/services.js')
  const { spawnCli } = await import('../support/agent-process.js')
  const cql = new cassandra.Client({ contactPoints: [cassandraContact()], localDataCenter: 'datacenter1', socketOptions: { readTimeout: 60_000 } })
  await cql.connect()
  const writers: ChildHandle[] = []
  return {
    ...old,
    cql,
    startWriter(opts = {}) {
      const w = spawnCli(['cloud', 'run', '--config', old.configFile, ...(opts.httpPort ? ['--http', `127.0.0.1:${opts.httpPort}`] : [])])
      writers.push(w)
      return w
    },
    async close() {
      for (const w of writers) if (w.proc.exitCode === null) w.proc.kill('SIGTERM')
      await Promise.all(writers.map((w) => w.exited))
      await cql.shutdown()
    },
  }
}
