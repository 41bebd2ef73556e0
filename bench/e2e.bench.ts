/**
 * e2e: the workload of issue 23 end to end, MQTT in and Kafka out, on the agent as it runs on a
 * gateway: the built CLI (`dist/agent/cli.js run`) as a child process with the deployed node flags,
 * a real Kafka, and the publisher process of bench/mqtt.bench.ts (8 QoS 1 clients, 64 messages in
 * flight each, the agent's JSON format). Two workloads: 100 observations per message and 1.
 *
 * - e2e.*: observations acknowledged by Kafka (acks=all) per second, from the publisher's start to
 *   the moment the agent's `bedside_synced_total` for raw-vitals reaches the total (polled every
 *   POLL_MS once the publisher is done, every INGEST_POLL_MS before). Then the topic is read from the start and the observations inside its Envelopes
 *   counted: the figure is only reported if Kafka holds every one of them (none lost).
 * - mqtt-acked: observations whose PUBACK arrived, per second (a PUBACK follows the durable commit).
 * - cpu: the child's user + system CPU seconds (/proc/PID/stat) over the same interval, per
 *   million observations; peak RSS: the child's VmHWM at the end.
 *
 * Needs KAFKA_BROKERS (scripts/services/services.sh start kafka; eval "$(… env)"); skipped without.
 * BENCH_E2E_CLI runs another build of the agent (a `dist/agent/cli.js` of the commit to compare);
 * BENCH_E2E_NODE_FLAGS adds node flags to the child (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`);
 * BENCH_AGENT_ENV adds to the agent's environment, space-separated K=V (as in ward.bench.ts: e.g. another malloc);
 * BENCH_E2E_WORKLOADS picks workloads by observations per message (default `100,1`);
 * BENCH_E2E_KAFKA, JSON, is merged into the agent's `cloud.kafka` (e.g. `{"observations_per_record":1}`);
 * BENCH_E2E_STORE, JSON, into its `store` (e.g. `{"observation_runs":"per-message"}`, issue 23: run rows;
 * leave it unset for a build that predates the key, which its strict config would refuse).
 * BENCH_E2E_MEM=1 preloads bench/e2e-mem.ts into the agent and adds a `.peak-memory` figure: where
 * the resident memory was at the RSS peak (V8 heap, ArrayBuffers, glibc's arena, the binary).
 * BENCH_E2E_BUFFERS=1 preloads bench/e2e-buffers.ts and adds a `.buffers` figure: the MB of Buffers
 * allocated per million observations, and where (it slows the agent: read no speed beside it).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { Kafka, logLevel, type Consumer } from 'kafkajs'
import YAML from 'yaml'
import { decodeEnvelope, observationEvents } from '../proto/codec.js'
import { benchAgentEnv, deployedAgentRuntime, freePort, TEST_VIEWER, VIEWER_AUTH, waitFor } from '../scripts/testkit/runtime.js'
import type { BufferSites } from './e2e-buffers.js'
import type { PeakSample } from './e2e-mem.js'
import type { BenchFigure } from './harness.js'

const run = promisify(execFile)
const DEVICES = 8
const WINDOW = 64
const POLL_MS = 100
const INGEST_POLL_MS = 1000
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
/** Partitions of the bench topics: `bedside-hub cloud migrate`'s default. */
const PARTITIONS = 6
/** Clock ticks per second of /proc/PID/stat (USER_HZ, 100 on Linux). */
const USER_HZ = 100

interface Workload {
  readonly obsPerMessage: number
  readonly messagesPerDevice: number
}

/** 1M observations at 100 per message (as mqtt.ingest); 200k messages at 1 per message. */
const WORKLOADS: readonly Workload[] = [
  { obsPerMessage: 100, messagesPerDevice: 1250 },
  { obsPerMessage: 1, messagesPerDevice: 25_000 },
]

interface E2eRun {
  readonly total: number
  readonly mqttMs: number
  readonly e2eMs: number
  readonly cpuS: number
  readonly peakRssMb: number
  readonly kafkaRecords: number
  /** CPU seconds of the publisher process (its whole life, start-up included). */
  readonly publisherCpuS: number
  /** Group commits, and their mean wall time (transaction + fsync). */
  readonly commits: number
  readonly commitMs: number
  /** BENCH_E2E_MEM=1: the agent's memory at its RSS peak. */
  readonly peakMemory?: PeakSample
  /** BENCH_E2E_BUFFERS=1: the Buffers the agent allocated, by call site. */
  readonly buffers?: BufferSites
}

/**
 * The harness's own Kafka calls (topic creation, the read-back), retried: on the loaded single-node
 * bench broker they fail now and then with UNKNOWN_TOPIC_OR_PARTITION right after a create or while
 * earlier bench topics are being deleted. The agent's own sends are never retried here.
 */
async function retrying<T>(what: string, fn: () => Promise<T>, attempts = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn()
    } catch (err) {
      if (i >= attempts) throw new Error(`${what}: ${(err as Error).message}`, { cause: err })
      console.log(`# e2e: ${what} failed (${(err as Error).message}), retrying`)
      await new Promise((r) => setTimeout(r, 1000))
    }
  }
}

function cpuSeconds(pid: number): number {
  // Fields after the command name (which may hold spaces): utime is the 14th field, stime the 15th.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12])) / USER_HZ
}

function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) / 1024 : Number.NaN
}

async function createTopics(brokers: string[], id: string): Promise<Record<string, string>> {
  const topics = { raw_vitals: `${id}-raw-vitals`, waveforms: `${id}-waveforms`, alert_events: `${id}-alert-events`, audit_log: `${id}-audit-log`, dead_letter: `${id}-dead-letter` }
  const admin = new Kafka({ clientId: 'bench-e2e', brokers, logLevel: logLevel.NOTHING }).admin()
  await admin.connect()
  // Without kafkajs' waitForLeaders: its wait fails now and then with UNKNOWN_TOPIC_OR_PARTITION
  // on a topic just created; poll the metadata until every partition has a leader instead.
  await admin.createTopics({ topics: Object.values(topics).map((topic) => ({ topic, numPartitions: PARTITIONS })) })
  await waitFor('bench topics with leaders', async () => {
    const md = await admin.fetchTopicMetadata({ topics: Object.values(topics) }).catch(() => null)
    return md !== null && md.topics.every((t) => t.partitions.length === PARTITIONS && t.partitions.every((p) => p.leader >= 0))
  }, 30_000)
  await admin.disconnect()
  return topics
}

async function deleteTopics(brokers: string[], topics: Record<string, string>): Promise<void> {
  const admin = new Kafka({ clientId: 'bench-e2e', brokers, logLevel: logLevel.NOTHING }).admin()
  await admin.connect()
  await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined)
  await admin.disconnect()
}

/** Kafka records in `topic` and the observations inside them (an Envelope carries one or a run). */
async function countInKafka(brokers: string[], topic: string): Promise<{ records: number; observations: number }> {
  const kafka = new Kafka({ clientId: 'bench-e2e', brokers, logLevel: logLevel.NOTHING })
  const admin = kafka.admin()
  await admin.connect()
  let records = 0
  for (const p of await admin.fetchTopicOffsets(topic)) records += Number(p.high) - Number(p.low)
  await admin.disconnect()
  let read = 0
  let observations = 0
  const consumer = kafka.consumer({ groupId: `bench-e2e-count-${Date.now()}` })
  await consumer.connect()
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await readUntil(consumer, records, (n, obs) => {
      read += n
      observations += obs
      return read >= records
    })
  } finally {
    await consumer.disconnect()
  }
  return { records, observations }
}

/** Runs `consumer` until `add(messages, observations)` of its batches says everything arrived. */
function readUntil(consumer: Consumer, records: number, add: (messages: number, observations: number) => boolean): Promise<void> {
  let read = 0
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`read ${read} of ${records} records`)), 300_000)
    consumer.run({
      eachBatch: async ({ batch }) => {
        let obs = 0
        for (const m of batch.messages) obs += observationsIn(m.value!)
        read += batch.messages.length
        if (add(batch.messages.length, obs)) {
          clearTimeout(timer)
          resolve()
        }
      },
    }).catch(reject)
  })
}

function observationsIn(value: Buffer): number {
  return observationEvents(decodeEnvelope(value)).length
}

function metric(text: string, name: string, label = ''): number {
  let sum = 0
  for (const line of text.split('\n')) if (line.startsWith(name) && line.includes(label)) sum += Number(line.slice(line.lastIndexOf(' ') + 1))
  return sum
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return
  const exited = new Promise((r) => child.once('exit', r))
  child.kill('SIGTERM')
  await exited
}

async function runOnce(brokers: string[], w: Workload, cli: string): Promise<E2eRun> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-e2e-'))
  const id = `bench-e2e-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`
  const topics = await retrying('creating the bench topics', () => createTopics(brokers, id))
  const [httpPort, mqttPort] = [await freePort(), await freePort()]
  const beds = Array.from({ length: DEVICES }, (_, i) => ({ id: `bed-${i}`, devices: [{ id: `mon-${i}`, type: 'mqtt', secret: `secret-of-mon-${i}` }] }))
  const config = { hub: { id: 'bench-e2e', site: 's', data_dir: join(dir, 'data') }, http: { listen: `127.0.0.1:${httpPort}`, tokens: [TEST_VIEWER] }, mqtt: { listen: `127.0.0.1:${mqttPort}` }, log: { level: 'warn' }, beds, ...(process.env.BENCH_E2E_STORE ? { store: JSON.parse(process.env.BENCH_E2E_STORE) as object } : {}), cloud: { kafka: { brokers, topics, ...(JSON.parse(process.env.BENCH_E2E_KAFKA ?? '{}') as object) } } }
  writeFileSync(join(dir, 'config.yaml'), YAML.stringify(config), { mode: 0o600 })
  const runtime = deployedAgentRuntime()
  const extra = (process.env.BENCH_E2E_NODE_FLAGS ?? '').split(' ').filter(Boolean)
  const memFile = join(dir, 'peak-memory.json')
  const probe = process.env.BENCH_E2E_MEM === '1' ? ['--import', fileURLToPath(new URL('./e2e-mem.ts', import.meta.url))] : []
  const bufFile = join(dir, 'buffers.json')
  const bufProbe = process.env.BENCH_E2E_BUFFERS === '1' ? ['--import', fileURLToPath(new URL('./e2e-buffers.ts', import.meta.url))] : []
  const { MALLOC_ARENA_MAX: _, ...env } = process.env
  const probeEnv = { ...(probe.length ? { E2E_MEM_OUT: memFile } : {}), ...(bufProbe.length ? { E2E_BUF_OUT: bufFile } : {}) }
  const extraEnv = benchAgentEnv()
  const child = spawn(process.execPath, [...runtime.nodeFlags, ...probe, ...bufProbe, ...extra, cli, 'run', '--config', join(dir, 'config.yaml')], { env: { ...env, ...runtime.env, ...extraEnv, ...probeEnv }, stdio: ['ignore', 'ignore', 'inherit'] })
  const total = DEVICES * w.messagesPerDevice * w.obsPerMessage
  const http = `http://127.0.0.1:${httpPort}`
  try {
    await waitFor('agent /healthz', async () => (await fetch(`${http}/healthz`)).ok, 30_000)
    const publisher = fileURLToPath(new URL('./mqtt-publisher.ts', import.meta.url))
    const cpu0 = cpuSeconds(child.pid!)
    const published = run(process.execPath, ['--import', 'tsx', publisher, `mqtt://127.0.0.1:${mqttPort}`, String(DEVICES), String(w.messagesPerDevice), String(w.obsPerMessage), String(WINDOW)])
    let synced = 0
    let publisherDone = false
    const publisherExit = published.then(() => { publisherDone = true }, () => { publisherDone = true })
    while (synced < total) {
      // While the publisher runs, /metrics is scraped only every INGEST_POLL_MS: a scrape costs the
      // agent CPU (3 % of the 1-obs profile at 100 ms) that Prometheus every 15 s would not, and
      // the end cannot come before the last PUBACK anyway. Then every POLL_MS, for the end time.
      await (publisherDone ? sleep(POLL_MS) : Promise.race([sleep(INGEST_POLL_MS), publisherExit]))
      if (child.exitCode !== null) throw new Error(`agent exited with ${child.exitCode}`)
      synced = metric(await (await fetch(`${http}/metrics`, VIEWER_AUTH)).text(), 'bedside_synced_total', `topic="${topics.raw_vitals}"`)
    }
    const doneAt = Date.now()
    const cpuS = cpuSeconds(child.pid!) - cpu0
    const text = await (await fetch(`${http}/metrics`, VIEWER_AUTH)).text()
    const commits = metric(text, 'bedside_commit_latency_seconds_count')
    const commitMs = (metric(text, 'bedside_commit_latency_seconds_sum') / commits) * 1000
    const [mqttMs, startAt, publisherCpuMs] = (await published).stdout.trim().split(' ').map(Number) as [number, number, number]
    const peak = peakRssMb(child.pid!)
    await stopChild(child)
    const peakMemory = probe.length ? (JSON.parse(readFileSync(memFile, 'utf8')) as PeakSample) : undefined
    const buffers = bufProbe.length ? (JSON.parse(readFileSync(bufFile, 'utf8')) as BufferSites) : undefined
    const inKafka = await retrying('reading the topic back', () => countInKafka(brokers, topics.raw_vitals))
    if (inKafka.observations !== total) throw new Error(`Kafka holds ${inKafka.observations} observations of ${total}`)
    return { total, mqttMs, e2eMs: doneAt - startAt, cpuS, peakRssMb: peak, kafkaRecords: inKafka.records, publisherCpuS: publisherCpuMs / 1000, commits, commitMs, ...(peakMemory ? { peakMemory } : {}), ...(buffers ? { buffers } : {}) }
  } finally {
    await stopChild(child)
    await deleteTopics(brokers, topics)
    rmSync(dir, { recursive: true, force: true })
  }
}

function figures(w: Workload, r: E2eRun, cli: string): BenchFigure[] {
  const name = `e2e.obs${w.obsPerMessage}`
  const how = `${DEVICES} QoS 1 clients, ${WINDOW} in flight each, ${w.obsPerMessage} obs/message, ${r.total.toLocaleString('en-US')} obs; agent ${cli.includes('/dist/agent/cli.js') && !process.env.BENCH_E2E_CLI ? 'this build' : cli}`
  return [
    { name, value: (r.total / r.e2eMs) * 1000, unit: 'observations/s', note: `MQTT in → acks=all in Kafka in ${(r.e2eMs / 1000).toFixed(1)} s; ${r.kafkaRecords.toLocaleString('en-US')} Kafka records, every observation counted in them; ${how}` },
    { name: `${name}.mqtt-acked`, value: (r.total / r.mqttMs) * 1000, unit: 'observations/s', note: `every PUBACK (durable commit) in ${(r.mqttMs / 1000).toFixed(1)} s; ${r.commits.toLocaleString('en-US')} group commits of ${r.commitMs.toFixed(1)} ms on average; the publisher process used ${r.publisherCpuS.toFixed(1)} CPU s` },
    { name: `${name}.cpu`, value: r.cpuS / (r.total / 1e6), unit: 'CPU s per million observations', note: `agent process user+system, ${r.cpuS.toFixed(1)} s` },
    { name: `${name}.peak-rss`, value: r.peakRssMb, unit: 'MB', note: 'agent process VmHWM' },
    ...(r.peakMemory ? [peakMemoryFigure(name, r.peakMemory)] : []),
    ...(r.buffers ? [buffersFigure(name, r.total, r.buffers)] : []),
  ]
}

/** Where the resident memory was at the RSS peak; the value is V8's committed heap. */
function peakMemoryFigure(name: string, m: PeakSample): BenchFigure {
  const mappings = Object.entries(m.residentMiB).slice(0, 5).map(([k, v]) => `${k} ${v}`).join(', ')
  return { name: `${name}.peak-memory`, value: m.heapTotalMb, unit: 'MB V8 heap committed', note: `at the RSS peak (${m.rssMb} MB, ${(m.atMs / 1000).toFixed(1)} s after start): V8 heap used ${m.heapUsedMb} MB, external ${m.externalMb} MB (ArrayBuffers ${m.arrayBuffersMb}); resident MiB by mapping: ${mappings}` }
}

/** The MB of Buffers allocated per million observations; the note names the largest call sites. */
function buffersFigure(name: string, total: number, b: BufferSites): BenchFigure {
  const perM = (bytes: number) => bytes / 1e6 / (total / 1e6)
  const top = b.sites.slice(0, 6).map((s) => `${perM(s.bytes).toFixed(1)} MB ${s.site.slice(0, 120)}`).join('; ')
  return { name: `${name}.buffers`, value: perM(b.totalBytes), unit: 'MB of Buffers ≥ 256 B allocated per million observations', note: top }
}

export default async function bench(): Promise<BenchFigure[]> {
  const brokers = process.env.KAFKA_BROKERS?.split(',').filter(Boolean)
  if (!brokers?.length) {
    console.log('# e2e: KAFKA_BROKERS not set, skipped (start scripts/services/services.sh and eval its env)')
    return []
  }
  const cli = process.env.BENCH_E2E_CLI ?? fileURLToPath(new URL('../dist/agent/cli.js', import.meta.url))
  const wanted = (process.env.BENCH_E2E_WORKLOADS ?? '100,1').split(',').map(Number)
  const out: BenchFigure[] = []
  for (const w of WORKLOADS.filter((x) => wanted.includes(x.obsPerMessage))) out.push(...figures(w, await runOnce(brokers, w, cli), cli))
  return out
}
