/**
 * The walking skeleton end to end on real components: real MQTT clients → agent (aedes, SQLite) →
 * real Kafka (KRaft) → cloud writer → real Cassandra. Counts are exact: nothing lost, nothing doubled.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { metricValue, startAgentProcess, waitFor, type AgentHandle } from '../support/agent-process.js'
import { countRows, setupCloud, type CloudSetup } from '../support/cloud-process.js'
import { decodeEnvelope, observationEvents } from '../../proto/codec.js'
import { readAllMessages } from '../support/kafka-scan.js'
import { kafkaBrokers, startKafka, stopKafka } from '../support/services.js'
import { admitAll, connectDevice, planted, publishObservations, wardBeds } from '../support/ward.js'

const DEVICES = 8
const TOTAL = 10_000
const PER_DEVICE = TOTAL / DEVICES
const PER_MESSAGE = 5

function startWard(cloud: CloudSetup): Promise<AgentHandle> {
  return startAgentProcess({ beds: wardBeds(DEVICES), cloud: { kafka: { brokers: kafkaBrokers(), topics: cloud.agentTopics } } })
}

async function waitForExactCount(cloud: CloudSetup, want: number, timeoutMs: number): Promise<number> {
  const table = `${cloud.keyspace}.vitals_by_patient`
  await waitFor(`${want} rows in ${table}`, async () => (await countRows(cloud.cql, table)) >= want, timeoutMs, 1000)
  await new Promise((r) => setTimeout(r, 3000)) // late duplicates would show up now
  return countRows(cloud.cql, table)
}

describe('skeleton: MQTT → SQLite → Kafka → Cassandra', () => {
  let cloud: CloudSetup
  let agent: AgentHandle

  before(async () => {
    cloud = await setupCloud('skeleton')
    cloud.startWriter()
    agent = await startWard(cloud)
    await admitAll(agent.http, DEVICES)
  })
  after(async () => {
    await agent?.stop()
    await cloud?.close()
  })

  test('skeleton: 10,000 observations from 8 devices over QoS 1 land as exactly 10,000 rows', async () => {
    const t0 = Date.now()
    const startMs = Date.now() - 3_600_000
    await Promise.all(Array.from({ length: DEVICES }, async (_, i) => {
      const c = await connectDevice(agent.mqtt, i)
      await publishObservations(c, i, PER_DEVICE, { firstSeq: 1, perMessage: PER_MESSAGE, startMs })
      await c.endAsync()
    }))
    const acked = Date.now()
    assert.equal(await metricValue(agent.http, 'bedside_observations_ingested_total'), TOTAL)
    const rows = await waitForExactCount(cloud, TOTAL, 180_000)
    console.log(`# skeleton: ${TOTAL} observations acknowledged in ${acked - t0} ms; ${rows} rows in Cassandra after ${Date.now() - t0} ms`)
    assert.equal(rows, TOTAL)
    await waitFor('outbox drained', async () => (await metricValue(agent.http, 'bedside_outbox_depth')) === 0, 30_000, 500)
  })

  test('skeleton: malformed payloads are refused and counted, and valid traffic around them lands', async () => {
    const c = await connectDevice(agent.mqtt, 0)
    const topic = 'bedside/v1/devices/mon-0/obs'
    const good = (seq: number) => JSON.stringify({ ts: Date.now() - 1000, seq, obs: [{ code: 'MDC_ECG_HEART_RATE', value: 80, unit: '/min' }] })
    await c.publishAsync(topic, good(90_001), { qos: 1 })
    await c.publishAsync(topic, 'not json at all', { qos: 1 })
    await c.publishAsync(topic, JSON.stringify({ ts: 'yesterday', seq: 1, obs: [{ code: 'MDC_ECG_HEART_RATE', value: 80 }] }), { qos: 1 })
    await c.publishAsync(topic, JSON.stringify({ ts: Date.now(), seq: 2, obs: [{ code: 'MDC_ECG_HEART_RATE', value: '80' }] }), { qos: 1 })
    await c.publishAsync(topic, JSON.stringify({ ts: Date.now(), seq: 3, obs: [{ code: 'MDC_NOT_A_CODE', value: 1, unit: '/min' }] }), { qos: 1 })
    await c.publishAsync(topic, good(90_002), { qos: 1 })
    // A device publishing under another device's prefix is disconnected without a PUBACK.
    const intruder = await connectDevice(agent.mqtt, 1)
    const closed = new Promise<void>((r) => intruder.once('close', () => r()))
    const refused = intruder.publishAsync('bedside/v1/devices/mon-2/obs', good(1), { qos: 1 }).then(() => 'acked', () => 'refused')
    await closed
    assert.notEqual(await Promise.race([refused, new Promise((r) => setTimeout(() => r('no ack'), 1000))]), 'acked')
    intruder.end(true)
    await c.endAsync()

    assert.ok((await metricValue(agent.http, 'bedside_ingest_rejected_total', 'reason="not-json"')) >= 1, 'not-json counted')
    assert.ok((await metricValue(agent.http, 'bedside_ingest_rejected_total', 'reason="bad-time"')) >= 1, 'wrong type of ts counted')
    assert.ok((await metricValue(agent.http, 'bedside_ingest_rejected_total', 'reason="bad-field"')) >= 1, 'wrong type of value counted')
    assert.ok((await metricValue(agent.http, 'bedside_ingest_rejected_total', 'reason="unknown-code"')) >= 1, 'unknown code counted')
    assert.ok((await metricValue(agent.http, 'bedside_ingest_rejected_total', 'reason="mqtt-topic-not-allowed"')) >= 1, 'cross-prefix publish counted')
    // Exactly the two valid observations arrive on top of the 10,000.
    const rows = await waitForExactCount(cloud, TOTAL + 2, 60_000)
    assert.equal(rows, TOTAL + 2)
  })

  test('skeleton: waveform chunks that abut to the microsecond keep their exact t0_us from the device to Cassandra', async () => {
    // 73 samples at 130 Hz (a Polar H10 frame) last 561,538.46 µs: each chunk starts where the last
    // ended, to the microsecond, never on a whole millisecond.
    const base = Date.now() - 5000
    const t0Ms = [base + 0.123, base + 561.661, base + 1123.199]
    const c = await connectDevice(agent.mqtt, 3)
    for (const [k, t0] of t0Ms.entries()) {
      await c.publishAsync('bedside/v1/devices/mon-3/wave', JSON.stringify({ code: 'MDC_ECG_ELEC_POTL_II', rate: 130, t0, seq: 70_000 + k, samples: Array.from({ length: 73 }, (_, i) => 500 * Math.sin(i / 5)) }), { qos: 1 })
    }
    await c.endAsync()
    const want = t0Ms.map((t) => Math.round(t * 1000))
    const rows = await waitFor('the three chunks in Cassandra', async () => {
      const r = await cloud.cql.execute(`SELECT t0_us, device_seq FROM ${cloud.keyspace}.waveforms_by_patient`, [], { prepare: true })
      const mine = r.rows.filter((x) => Number(x.device_seq) >= 70_000)
      return mine.length >= 3 ? mine : undefined
    }, 60_000, 500)
    const got = rows.map((x) => Number(x.t0_us)).sort((a, b) => a - b)
    console.log(`# waveform t0_us in Cassandra: ${got.join(', ')} (sent ${want.join(', ')})`)
    assert.deepEqual(got, want)
  })

  test('skeleton: no MRN, patient name or device serial appears in any byte of any Kafka topic', async () => {
    const topics = Object.values(cloud.agentTopics).filter((t) => !t.endsWith('dead-letter'))
    const messages = await readAllMessages(topics)
    // Observations travel in runs (schema_version 2): count the events inside the envelopes.
    const events = messages.reduce((n, m) => n + Math.max(1, observationEvents(decodeEnvelope(m.value!)).length), 0)
    assert.ok(events >= TOTAL + 2, `read ${events} events in ${messages.length} messages`)
    const needles = Array.from({ length: DEVICES }, (_, i) => [planted.mrn(i), planted.name(i), planted.birthDate(i), planted.serial(i)]).flat()
    for (const m of messages) {
      const blobs = [m.key, m.value, ...m.headers].filter((b): b is Buffer => b !== null)
      for (const b of blobs) for (const n of needles) assert.equal(b.includes(n), false, `"${n}" found in ${m.topic}`)
    }
    // The patient pseudonym is the key: one patient's events share one key (and so one partition).
    const keys = new Set(messages.filter((m) => m.topic === cloud.agentTopics.raw_vitals).map((m) => m.key?.toString()))
    assert.equal(keys.size, DEVICES)
  })
})

describe('skeleton: Kafka outage', () => {
  let cloud: CloudSetup
  let agent: AgentHandle

  before(async () => {
    cloud = await setupCloud('outage')
    cloud.startWriter()
    agent = await startWard(cloud)
    await admitAll(agent.http, DEVICES)
  })
  after(async () => {
    await startKafka() // never leave the suite without its broker
    await agent?.stop()
    await cloud?.close()
  })

  test('skeleton: with Kafka stopped for part of the run the agent queues, and the count is still exact', async () => {
    const startMs = Date.now() - 3_600_000
    const third = Math.floor(PER_DEVICE / 3)
    const clients = await Promise.all(Array.from({ length: DEVICES }, (_, i) => connectDevice(agent.mqtt, i)))
    const seqs = await Promise.all(clients.map((c, i) => publishObservations(c, i, third, { firstSeq: 1, perMessage: PER_MESSAGE, startMs })))
    await stopKafka()
    const seqs2 = await Promise.all(clients.map((c, i) => publishObservations(c, i, third, { firstSeq: seqs[i]!, perMessage: PER_MESSAGE, startMs })))
    await waitFor('sync to report failure', async () => (await metricValue(agent.http, 'bedside_sync_up')) === 0, 60_000, 500)
    // The gauge refreshes every 2 s: wait for it rather than read a value from before the outage.
    let queued = 0
    await waitFor('records queued on disk', async () => (queued = await metricValue(agent.http, 'bedside_outbox_depth')) > 0, 10_000, 250)
    console.log(`# outage: ${queued} records queued on disk while Kafka was down`)
    assert.ok(queued > 0, 'records are queued while Kafka is down')
    await startKafka()
    await Promise.all(clients.map((c, i) => publishObservations(c, i, PER_DEVICE - 2 * third, { firstSeq: seqs2[i]!, perMessage: PER_MESSAGE, startMs })))
    await Promise.all(clients.map((c) => c.endAsync()))
    const rows = await waitForExactCount(cloud, TOTAL, 240_000)
    assert.equal(rows, TOTAL)
  })
})
