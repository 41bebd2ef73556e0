/**
 * Broker faults on real components: Kafka stopped and restarted 5 times while the ward publishes and
 * the agent syncs, then one outage long enough to queue ~300,000 records on disk. Nothing lost,
 * nothing duplicated (exact count in Cassandra), the agent's RSS bounded while the queue grows, and
 * the catch-up rate reported.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { metricValue, startAgentProcess, waitFor, type AgentHandle } from '../support/agent-process.js'
import { countRows, setupCloud, type CloudSetup } from '../support/cloud-process.js'
import { kafkaBrokers, startKafka, stopKafka } from '../support/services.js'
import { admitAll, wardBeds } from '../support/ward.js'
import { WardLoad, needsServices, rssBytes, sleep } from './load.js'
import { checkExactlyOnce, waitDrained } from './verify.js'

const BEDS = 16
const RESTARTS = 5
const OUTAGE_RECORDS = 300_000
const PER_MESSAGE = 50

let cloud: CloudSetup
let agent: AgentHandle

before(async () => {
  if (needsServices) return
  cloud = await setupCloud('broker')
  cloud.startWriter()
  agent = await startAgentProcess({ beds: wardBeds(BEDS), cloud: { kafka: { brokers: kafkaBrokers(), topics: cloud.agentTopics } } })
  await admitAll(agent.http, BEDS)
})
after(async () => {
  if (needsServices) return
  if (agent && agent.proc.exitCode !== null) console.log(`# agent exited with ${agent.proc.exitCode}:\n${agent.output().slice(-3000)}`)
  await startKafka() // never leave the suite without its broker
  await agent?.stop()
  await cloud?.close()
})

test(`durability: Kafka restarted ${RESTARTS} times during sync, then a ${OUTAGE_RECORDS}-record outage: exact count, bounded RSS`, { skip: needsServices }, async () => {
  // A ward's worth during the restarts (16 beds × 2 msg/s × 10 obs); the outage burst uses PER_MESSAGE.
  const steady = new WardLoad({ devices: BEDS, rateHz: 2, perMessage: 10, window: 4 })
  await steady.start(agent.mqtt)
  for (let r = 0; r < RESTARTS; r++) {
    await sleep(1500)
    await stopKafka()
    await sleep(1000)
    await startKafka()
  }
  await sleep(1500)
  await steady.stop()
  const afterRestarts = steady.ackedObservations
  assert.equal(steady.published * steady.perMessage, afterRestarts, 'the agent acknowledged every message while Kafka came and went')
  const syncErrors = await metricValue(agent.http, 'bedside_sync_errors_total')

  // The long outage: the queue grows on disk, the agent's memory must not follow it.
  await waitDrained(agent.http, cloud, 120_000)
  const steadyRows = await countRows(cloud.cql, `${cloud.keyspace}.vitals_by_patient`)
  const steadyCheck = await checkExactlyOnce(cloud.cql, cloud.keyspace, steady)
  assert.deepEqual({ rows: steadyRows, missing: steadyCheck.missing, doubled: steadyCheck.doubled }, { rows: afterRestarts, missing: 0, doubled: 0 }, 'exact after the restarts')
  await stopKafka()
  const load = new WardLoad({ devices: BEDS, rateHz: 1, perMessage: PER_MESSAGE, window: 32 })
  await load.connect(agent.mqtt)
  const pid = agent.proc.pid!
  const rssBefore = await rssBytes(pid)
  let rssMax = rssBefore
  const sampler = setInterval(() => void rssBytes(pid).then((b) => (rssMax = Math.max(rssMax, b))), 200)
  const f0 = Date.now()
  const perDevice = OUTAGE_RECORDS / PER_MESSAGE / BEDS
  await load.burst(perDevice / 3)
  const rssThird = await rssBytes(pid)
  await load.burst(perDevice - perDevice / 3)
  const fillS = (Date.now() - f0) / 1000
  await sleep(1000)
  clearInterval(sampler)
  const rssEnd = await rssBytes(pid)
  await load.stop()
  // The depth gauge refreshes every 2 s.
  const queued = await waitFor('the whole burst queued', async () => {
    const d = await metricValue(agent.http, 'bedside_outbox_depth')
    return d >= OUTAGE_RECORDS ? d : undefined
  }, 10_000, 250)
  const oldestS = await metricValue(agent.http, 'bedside_oldest_unsynced_age_seconds')

  const k0 = Date.now()
  await startKafka()
  const c0 = Date.now()
  const brokerStartS = (c0 - k0) / 1000
  await waitFor('outbox drained after the outage', async () => (await metricValue(agent.http, 'bedside_outbox_depth')) === 0, 300_000, 250)
  const catchUpS = (Date.now() - c0) / 1000
  await waitDrained(agent.http, cloud, 300_000)
  const cassandraS = (Date.now() - c0) / 1000
  const rows = await countRows(cloud.cql, `${cloud.keyspace}.vitals_by_patient`)
  const MB = (b: number) => (b / 1048576).toFixed(0)
  console.log(`# broker faults: ${RESTARTS} restarts during sync (${syncErrors} failed sends retried), ${afterRestarts} observations acknowledged meanwhile`)
  console.log(`# outage: ${queued} records queued in ${fillS.toFixed(1)} s (oldest ${oldestS.toFixed(0)} s); agent RSS ${MB(rssBefore)} MB before, ${MB(rssThird)} MB at a third, ${MB(rssEnd)} MB at the end, max ${MB(rssMax)} MB`)
  console.log(`# catch-up: broker restart ${brokerStartS.toFixed(1)} s, then Kafka ready → outbox empty in ${catchUpS.toFixed(1)} s (${(queued / catchUpS).toFixed(0)} records/s, acks=all, idempotent); writer done in ${cassandraS.toFixed(1)} s; ${rows} rows in Cassandra for ${afterRestarts + load.ackedObservations} acknowledged`)
  assert.equal(rows, afterRestarts + load.ackedObservations, 'exact: nothing lost, nothing duplicated')
  // Bounded: the last two thirds of the queue (~200,000 records) add no more than 64 MB of RSS.
  assert.ok(rssMax - rssThird < 64 * 1048576, `RSS grew ${MB(rssMax - rssThird)} MB while the queue grew from a third to full`)
})
