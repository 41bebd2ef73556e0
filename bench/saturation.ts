/**
 * The cloud tier driven to saturation on the cluster (issue 22's capacity model, docs/capacity.md):
 * the fleet only ever ran the cluster at a ward fleet's rate, where every process's fixed cost
 * (heartbeats, metadata, gossip, compaction) hides the marginal cost of a record. Here each stage
 * gets more work than it can take, and its CPU seconds are divided by the work done:
 *
 * 1. broker: one producer sends a backlog of Envelopes as fast as acks=all allows into a fresh
 *    topic (6 partitions, RF 3, min.insync.replicas 2) → records/s and the 3 brokers' CPU per
 *    record (the leader and both followers' copies together);
 * 2. writer: W writer processes (`bedside-hub cloud run`, one consumer group) drain that backlog
 *    into Cassandra (RF 3, LOCAL_QUORUM) → rows/s, the writers' CPU per row, the 3 Cassandra nodes'
 *    CPU per row; the rows are then counted in Cassandra (exactly the records sent, or it fails).
 *
 * CPU comes from /proc/PID/stat, so it is the processes' own work however busy the machine is; the
 * rates are what 2 shared cores gave, and say so. Records are observations of 64 patients, one per
 * Envelope (schema v1) or in runs of `--run` (schema v2, as the agent sends a device message).
 *
 * Run: `npm run build && node --import tsx bench/saturation.ts [--records 200000] [--run 1]
 * [--writers 1]` with the cluster up (`scripts/services/services.sh start cluster; eval
 * "$(scripts/services/services.sh env cluster)"`).
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import cassandra from 'cassandra-driver'
import { Kafka, logLevel, Partitioners } from 'kafkajs'
import YAML from 'yaml'
import { encodeEnvelope, SCHEMA_VERSION, SCHEMA_VERSION_RUN, type EnvelopeMsg, type ObservationMsg } from '../proto/codec.js'
import { spawnCli, tempDir, waitFor, freePort, type ChildHandle } from '../test/support/agent-process.js'
import { clusterCloudConfig, clusterFromEnv, clusterJvms, cpuSeconds, TOPIC_KEYS } from './fleet.js'

const SUBJECTS = 64
/** Observations per producer send (about 100 KB of records, under the broker's 1 MB request limit). */
const BATCH_OBSERVATIONS = 2_000
const IN_FLIGHT = 4

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0)

function envelope(first: number, run: number, t: number): { key: string; value: Buffer } {
  const subject = `p-sat-${first % SUBJECTS}`
  const obs = (seq: number): ObservationMsg => ({ code: 147842, value: 60 + (seq % 40), unit: '/min', deviceTimeMs: t, hubTimeMs: t, deviceSeq: seq, quality: 128, device: 'mon' })
  const base = { hubId: 'hub-sat', hubSeq: first, subject, subjectKind: 1, keyEpoch: 'e1', bedId: `b-${first % SUBJECTS}`, hubTimeMs: t }
  const e: EnvelopeMsg = run === 1
    ? { schemaVersion: SCHEMA_VERSION, ...base, observation: obs(first) }
    : { schemaVersion: SCHEMA_VERSION_RUN, ...base, observations: { items: Array.from({ length: run }, (_, i) => obs(first + i)), hubSeq: Array.from({ length: run }, (_, i) => first + i) } }
  return { key: subject, value: Buffer.from(encodeEnvelope(e)) }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { records: { type: 'string', default: '200000' }, run: { type: 'string', default: '1' }, writers: { type: 'string', default: '1' } } })
  const cluster = clusterFromEnv()
  if (!cluster) throw new Error('CLUSTER_KAFKA_BROKERS and CLUSTER_CASSANDRA_CONTACT are not set: scripts/services/services.sh start cluster; eval "$(scripts/services/services.sh env cluster)"')
  const observations = Number(values.records)
  const run = Number(values.run)
  const writerCount = Number(values.writers)
  const id = `sat-${Date.now().toString(36)}`
  const topics = Object.fromEntries(TOPIC_KEYS.map((k) => [k, `${id}-${k.replace('_', '-')}`])) as Record<(typeof TOPIC_KEYS)[number], string>
  const keyspace = id.replace(/-/g, '_')
  const config = join(tempDir('saturation'), 'cloud.yaml')
  writeFileSync(config, YAML.stringify(clusterCloudConfig(cluster, `writer-${id}`, topics, keyspace)))
  const m = spawnCli(['cloud', 'migrate', '--config', config])
  if ((await m.exited) !== 0) throw new Error(`cloud migrate failed:\n${m.output()}`)

  const jvms = clusterJvms()
  if (jvms.length !== 6) throw new Error(`expected the 6 cluster JVMs, found ${jvms.map(([n]) => n).join(', ')} (CLUSTER_STATE_DIR)`)
  const brokers = jvms.filter(([n]) => n.includes('kafka'))
  const nodes = jvms.filter(([n]) => n.includes('cassandra'))
  const cpuOf = (procs: readonly (readonly [string, number])[]) => sum(procs.map(([, pid]) => cpuSeconds(pid)))
  console.log(`saturation ${id}: ${observations} observations, ${run === 1 ? 'one per Envelope' : `runs of ${run}`}, ${writerCount} writer(s); load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`)

  // 1. The broker stage: as fast as acks=all (2 of 3 in sync) allows.
  const kafka = new Kafka({ clientId: id, brokers: [...cluster.brokers], logLevel: logLevel.NOTHING })
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, idempotent: true, maxInFlightRequests: 1 })
  await producer.connect()
  const records = Math.ceil(observations / run)
  const t0 = Date.now() - 3_600_000
  let next = 0
  const b0 = cpuOf(brokers)
  const p0 = process.cpuUsage()
  const tp0 = process.hrtime.bigint()
  const sendBatch = async (): Promise<void> => {
    while (next < records) {
      const from = next
      next = Math.min(records, next + Math.max(1, Math.floor(BATCH_OBSERVATIONS / run)))
      const messages = []
      for (let r = from; r < next; r++) messages.push(envelope(r * run + 1, Math.min(run, observations - r * run), t0 + r))
      await producer.send({ topic: topics.raw_vitals, acks: -1, messages })
    }
  }
  await Promise.all(Array.from({ length: IN_FLIGHT }, sendBatch))
  const produceS = Number(process.hrtime.bigint() - tp0) / 1e9
  const brokerCpu = cpuOf(brokers) - b0
  const pu = process.cpuUsage(p0)
  const producerCpu = (pu.user + pu.system) / 1e6
  await producer.disconnect()
  const bytes = sum(Array.from({ length: 100 }, (_, i) => envelope(i * run + 1, run, t0).value.length)) / 100
  console.log(`broker: ${records} records (${bytes.toFixed(0)} B each) in ${produceS.toFixed(1)} s = ${(records / produceS).toFixed(0)} records/s, ${(observations / produceS).toFixed(0)} obs/s; 3 brokers ${brokerCpu.toFixed(1)} CPU s = ${(brokerCpu / records * 1e6).toFixed(1)} µs per record (${(brokerCpu / (records * bytes / 1e6)).toFixed(3)} s per MB), producer ${producerCpu.toFixed(1)} CPU s`)

  // 2. The writer stage: the backlog drained by the group.
  const c0 = cpuOf(nodes)
  const writers: (ChildHandle & { port: number })[] = []
  for (let w = 0; w < writerCount; w++) {
    const port = await freePort()
    writers.push(Object.assign(spawnCli(['cloud', 'run', '--config', config, '--http', `127.0.0.1:${port}`]), { port }))
  }
  const rowsNow = async () => sum(await Promise.all(writers.map(async (w) => {
    const text = await fetch(`http://127.0.0.1:${w.port}/metrics`).then((r) => r.text(), () => '')
    return sum([...text.matchAll(/^bedside_cloud_rows_written_total\{[^}]*\} (\d+)/gm)].map((x) => Number(x[1])))
  })))
  const writerCpu = () => sum(writers.map((w) => cpuSeconds(w.proc.pid!)))
  try {
    await waitFor('first rows written', async () => (await rowsNow()) > 0, 120_000, 100)
    const w0 = writerCpu()
    const r0 = await rowsNow()
    const tw0 = Date.now()
    const c1 = cpuOf(nodes)
    await waitFor('every observation written', async () => (await rowsNow()) >= observations, 1_800_000, 250)
    const drainS = (Date.now() - tw0) / 1000
    const rows = (await rowsNow()) - r0
    const wCpu = writerCpu() - w0
    const cCpu = cpuOf(nodes) - c1
    console.log(`writer: ${rows} rows in ${drainS.toFixed(1)} s = ${(rows / drainS).toFixed(0)} rows/s; writers ${wCpu.toFixed(1)} CPU s = ${(wCpu / rows * 1e6).toFixed(1)} µs per row; 3 Cassandra nodes ${cCpu.toFixed(1)} CPU s = ${(cCpu / rows * 1e6).toFixed(1)} µs per row at RF 3 (${(cCpu / rows / 3 * 1e6).toFixed(1)} per replica write; ${(c1 - c0).toFixed(1)} s before the first row)`)
  } finally {
    for (const w of writers) w.proc.kill('SIGTERM')
    await Promise.all(writers.map((w) => w.exited))
  }
  const cql = new cassandra.Client({ contactPoints: [...cluster.cassandra], localDataCenter: 'datacenter1', socketOptions: { readTimeout: 120_000 }, queryOptions: { consistency: cassandra.types.consistencies.quorum } })
  const counted = Number((await cql.execute(`SELECT COUNT(*) AS n FROM ${keyspace}.vitals_by_patient`, [], { readTimeout: 120_000 })).rows[0]!.n)
  await cql.execute(`DROP KEYSPACE ${keyspace}`)
  await cql.shutdown()
  const admin = kafka.admin()
  await admin.connect()
  await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined)
  await admin.disconnect()
  console.log(`counted ${counted} rows in vitals_by_patient for ${observations} observations; load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`)
  if (counted !== observations) process.exit(1)
}

main().catch((err: Error) => {
  console.error(err.stack ?? err.message)
  process.exit(1)
})
