/**
 * Cloud tier benchmarks (issue 8), against the real Kafka and Cassandra of scripts/services:
 * - cloud.write_rate: envelopes already in Kafka → rows in one local Cassandra node, by one
 *   in-process writer (the catch-up rate after an outage; default config: 64 requests in flight,
 *   16 KiB single-partition batches).
 * - cloud.e2e: a real agent (dist/agent/cli.js) ← MQTT QoS 1 publishes at a steady rate; latency
 *   from the device's publish (its `ts`) to the row written by the writer (LOCAL_QUORUM on one node:
 *   visible to any reader from then on).
 * Needs KAFKA_BROKERS and CASSANDRA_CONTACT (eval "$(scripts/services/services.sh env)") and a
 * build (npm run bench builds). Reproduce: npm run bench -- cloud
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Partitioners } from 'kafkajs'
import mqtt from 'mqtt'
import { pino } from 'pino'
import YAML from 'yaml'
import { parseCloudConfig, type CloudConfig } from '../cloud/config.js'
import { createWriterKafka } from '../cloud/kafka.js'
import { migrateCql, migrateTopics, schemaOptions } from '../cloud/migrate.js'
import { createCqlClient } from '../cloud/sink.js'
import { CloudWriter } from '../cloud/writer.js'
import { encodeEnvelope, observationEvents, SCHEMA_VERSION, type EnvelopeMsg } from '../proto/codec.js'
import { deployedAgentRuntime, freePort } from '../scripts/testkit/runtime.js'
import type { BenchFigure } from './harness.js'

const WRITE_ROWS = 200_000
const SUBJECTS = 64
const E2E_DEVICES = 4
const E2E_RATE_HZ = 10 // messages per device per second, one observation each
const E2E_SECONDS = 20
const CLI = fileURLToPath(new URL('../dist/agent/cli.js', import.meta.url))

function benchConfig(id: string, cassandra: Record<string, unknown> = {}): CloudConfig {
  const t = (n: string) => ({ name: `${id}-${n}` })
  return parseCloudConfig({
    kafka: { brokers: process.env.KAFKA_BROKERS!.split(','), group_id: `bench-${id}`, partitions: 6, topics: { raw_vitals: t('raw-vitals'), waveforms: t('waveforms'), alert_events: t('alert-events'), audit_log: t('audit-log'), dead_letter: t('dead-letter') } },
    cassandra: { contact_points: [process.env.CASSANDRA_CONTACT!], keyspace: `bench_${id.replace(/-/g, '_')}`, ...cassandra },
    http: { listen: '127.0.0.1:0' },
    log: { level: 'warn' },
  }, 'bench')
}

async function prepare(cfg: CloudConfig) {
  const log = pino({ level: 'warn' })
  const kafka = createWriterKafka(cfg.kafka.brokers, 'bench', log)
  const cql = createCqlClient(cfg)
  await migrateCql(cql, schemaOptions(cfg))
  await migrateTopics(kafka, cfg)
  return { log, kafka, cql }
}

function observation(seq: number, t: number): { key: string; value: Buffer } {
  const subject = `p-bench-${seq % SUBJECTS}`
  const e: EnvelopeMsg = { schemaVersion: SCHEMA_VERSION, hubId: 'hub-bench', hubSeq: seq, subject, subjectKind: 1, keyEpoch: 'e1', bedId: `b-${seq % SUBJECTS}`, hubTimeMs: t, observation: { code: 147842, value: 72, unit: '/min', deviceTimeMs: t, hubTimeMs: t, deviceSeq: seq, quality: 128, device: 'd' } }
  return { key: subject, value: Buffer.from(encodeEnvelope(e)) }
}

/** Drain rate of WRITE_ROWS queued observations, from the first written batch to the last. */
async function writeRate(name: string, cassandra: Record<string, unknown>, what: string): Promise<BenchFigure> {
  const cfg = benchConfig(`wr-${Date.now().toString(36)}`, cassandra)
  const { log, kafka, cql } = await prepare(cfg)
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  const t0 = Date.now() - 3_600_000
  for (let i = 0; i < WRITE_ROWS; i += 5000) {
    const messages = Array.from({ length: 5000 }, (_, k) => observation(i + k + 1, t0 + (i + k) * 10))
    await producer.send({ topic: cfg.kafka.topics.raw_vitals.name, acks: -1, messages })
  }
  await producer.disconnect()
  let written = 0
  let first = { rows: 0, atNs: 0n }
  let done: () => void = () => undefined
  const all = new Promise<void>((r) => (done = r))
  const onWritten = (envs: readonly EnvelopeMsg[]) => {
    written += envs.length
    if (first.rows === 0) first = { rows: written, atNs: process.hrtime.bigint() }
    if (written >= WRITE_ROWS) done()
  }
  const writer = new CloudWriter(kafka, cql, cfg, log, undefined, { onWritten })
  await writer.start()
  await all
  const seconds = Number(process.hrtime.bigint() - first.atNs) / 1e9
  const latency = await writer.metrics.writeLatency.get()
  await writer.stop()
  const count = Number((await cql.execute(`SELECT COUNT(*) AS n FROM ${cfg.cassandra.keyspace}.vitals_by_patient`, [], { readTimeout: 120_000 })).rows[0]!.n)
  await cql.shutdown()
  const requests = latency.values.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0
  if (count !== WRITE_ROWS) throw new Error(`${name}: ${count} rows for ${WRITE_ROWS} messages`)
  return { name, value: (WRITE_ROWS - first.rows) / seconds, unit: 'rows/s', note: `${WRITE_ROWS} queued observations over ${SUBJECTS} patients, 6 partitions, one in-process writer, one local Cassandra node; ${what}; ${requests} CQL requests; ${seconds.toFixed(1)} s from first to last batch; exact count checked` }
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!
}

async function startAgent(cfg: CloudConfig): Promise<{ stop(): Promise<void>; mqttUrl: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'bedside-bench-cloud-'))
  const mqttPort = await freePort()
  const httpPort = await freePort()
  const t = cfg.kafka.topics
  const doc = {
    hub: { id: 'hub-e2e', site: 'bench', data_dir: join(dir, 'data') },
    http: { listen: `127.0.0.1:${httpPort}`, tokens: [{ token: 'bench-token-0123456789', role: 'nurse' }] },
    mqtt: { listen: `127.0.0.1:${mqttPort}` },
    beds: Array.from({ length: E2E_DEVICES }, (_, i) => ({ id: `bed-${i}`, devices: [{ id: `mon-${i}`, type: 'mqtt', secret: `secret-${i}` }] })),
    cloud: { kafka: { brokers: cfg.kafka.brokers, topics: { raw_vitals: t.raw_vitals.name, waveforms: t.waveforms.name, alert_events: t.alert_events.name, audit_log: t.audit_log.name, dead_letter: t.dead_letter.name } } },
    log: { level: 'warn' },
  }
  writeFileSync(join(dir, 'config.yaml'), YAML.stringify(doc))
  const runtime = deployedAgentRuntime()
  const proc = spawn(process.execPath, [...runtime.nodeFlags, CLI, 'run', '--config', join(dir, 'config.yaml')], { env: { ...process.env, ...runtime.env }, stdio: 'ignore' })
  const exited = new Promise<void>((r) => proc.once('exit', () => r()))
  let healthy = false
  for (let i = 0; i < 150 && !healthy && proc.exitCode === null; i++) {
    healthy = await fetch(`http://127.0.0.1:${httpPort}/healthz`).then((r) => r.ok, () => false)
    if (!healthy) await new Promise((r) => setTimeout(r, 200))
  }
  if (!healthy) {
    proc.kill('SIGKILL')
    throw new Error(`agent ${CLI} did not become healthy (exit code ${proc.exitCode}); is dist/ built?`)
  }
  return { mqttUrl: `mqtt://127.0.0.1:${mqttPort}`, stop: async () => { proc.kill('SIGTERM'); await exited } }
}

async function endToEnd(): Promise<BenchFigure[]> {
  const cfg = benchConfig(`e2e-${Date.now().toString(36)}`)
  const { log, kafka, cql } = await prepare(cfg)
  const latenciesMs: number[] = []
  const writer = new CloudWriter(kafka, cql, cfg, log, undefined, {
    // Every observation of an Envelope, version 1 (one) or 2 (a run): the agent sends runs by default.
    onWritten: (envs, atMs) => { for (const e of envs) for (const o of observationEvents(e)) latenciesMs.push(atMs - o.observation.deviceTimeMs) },
  })
  await writer.start()
  const agent = await startAgent(cfg)
  try {
    const clients = await Promise.all(Array.from({ length: E2E_DEVICES }, (_, i) => mqtt.connectAsync(agent.mqttUrl, { username: `mon-${i}`, password: `secret-${i}`, reconnectPeriod: 0 })))
    const total = E2E_DEVICES * E2E_RATE_HZ * E2E_SECONDS
    for (let k = 0; k < E2E_RATE_HZ * E2E_SECONDS; k++) {
      const tick = Date.now()
      await Promise.all(clients.map((c, i) => c.publishAsync(`bedside/v1/devices/mon-${i}/obs`, JSON.stringify({ ts: Date.now(), seq: k + 1, obs: [{ code: 'MDC_ECG_HEART_RATE', value: 72, unit: '/min' }] }), { qos: 1 })))
      await new Promise((r) => setTimeout(r, Math.max(0, 1000 / E2E_RATE_HZ - (Date.now() - tick))))
    }
    for (let i = 0; i < 100 && latenciesMs.length < total; i++) await new Promise((r) => setTimeout(r, 100))
    await Promise.all(clients.map((c) => c.endAsync()))
    if (latenciesMs.length === 0) throw new Error(`no observation of the ${total} sent reached Cassandra`)
    const sorted = [...latenciesMs].sort((a, b) => a - b)
    const note = `${sorted.length}/${total} observations, ${E2E_DEVICES} devices × ${E2E_RATE_HZ} msg/s for ${E2E_SECONDS} s; MQTT QoS 1 → agent commit → Kafka → writer → Cassandra`
    return [
      { name: 'cloud.e2e_latency_p50', value: percentile(sorted, 0.5), unit: 'ms', note },
      { name: 'cloud.e2e_latency_p99', value: percentile(sorted, 0.99), unit: 'ms', note },
    ]
  } finally {
    await agent.stop()
    await writer.stop()
    await cql.shutdown()
  }
}

export default async function cloudBench(): Promise<BenchFigure[]> {
  if (!process.env.KAFKA_BROKERS || !process.env.CASSANDRA_CONTACT) {
    throw new Error('cloud bench needs the real services: scripts/services/services.sh start all && eval "$(scripts/services/services.sh env)"')
  }
  return [
    await writeRate('cloud.write_rate', {}, 'default: 16 KiB single-partition unlogged batches, 64 in flight'),
    await writeRate('cloud.write_rate_unbatched', { batch_max_bytes: 256 }, 'batch_max_bytes 256: one row per request, 64 in flight'),
    ...(await endToEnd()),
  ]
}
