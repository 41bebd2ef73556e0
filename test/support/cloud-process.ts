/**
 * The cloud tier for integration tests: per-test topic names and keyspace (so tests never see each
 * other's rows), `cloud migrate`, and the writer as a real child process (several may share one
 * group: each gets its own /metrics port). Also: produce Envelopes straight to Kafka, read the
 * dead-letter topic with its headers, and ask a writer's /metrics and /readyz.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import cassandra from 'cassandra-driver'
import YAML from 'yaml'
import { spawnCli, tempDir, waitFor, type ChildHandle } from './agent-process.js'
import { Kafka, logLevel, type IHeaders, type Producer } from 'kafkajs'
import { consumeFromStart } from './kafka-scan.js'
import { cassandraContact, kafkaBrokers } from './services.js'

export interface CloudSetup {
  readonly keyspace: string
  /** Topic names, in the agent's `cloud.kafka.topics` shape. */
  readonly agentTopics: Record<'raw_vitals' | 'waveforms' | 'alert_events' | 'audit_log' | 'dead_letter', string>
  readonly configFile: string
  readonly cql: cassandra.Client
  readonly groupId: string
  /** Starts `bedside-hub cloud run`; with `httpPort`, its /metrics and /readyz listen there. */
  startWriter(opts?: { httpPort?: number }): ChildHandle
  close(): Promise<void>
}

/** `overrides` are merged into the writer config's `kafka` and `cassandra` sections. */
export async function setupCloud(name: string, partitions = 3, overrides: { kafka?: Record<string, unknown>; cassandra?: Record<string, unknown> } = {}): Promise<CloudSetup> {
  const id = `${name}-${Date.now().toString(36)}`.toLowerCase().replace(/[^a-z0-9-]/g, '-')
  const topic = (t: string) => `${id}-${t}`
  const agentTopics = { raw_vitals: topic('raw-vitals'), waveforms: topic('waveforms'), alert_events: topic('alert-events'), audit_log: topic('audit-log'), dead_letter: topic('dead-letter') }
  const doc = {
    kafka: {
      brokers: kafkaBrokers(),
      group_id: `writer-${id}`,
      partitions,
      // The broker's minimum (group.min.session.timeout.ms): a killed writer's partitions move in ~6 s.
      session_timeout_ms: 6000,
      heartbeat_interval_ms: 1000,
      topics: { raw_vitals: { name: agentTopics.raw_vitals }, waveforms: { name: agentTopics.waveforms }, alert_events: { name: agentTopics.alert_events }, audit_log: { name: agentTopics.audit_log }, dead_letter: { name: agentTopics.dead_letter } },
      ...overrides.kafka,
    },
    cassandra: { contact_points: [cassandraContact()], keyspace: `t_${id.replace(/-/g, '_')}`.slice(0, 48), ...overrides.cassandra },
    http: { listen: '127.0.0.1:0' },
    log: { level: 'warn' },
  }
  const configFile = join(tempDir('cloud'), 'cloud.yaml')
  writeFileSync(configFile, YAML.stringify(doc))
  const migrate = spawnCli(['cloud', 'migrate', '--config', configFile])
  const code = await migrate.exited
  if (code !== 0) throw new Error(`cloud migrate failed (${code}):\n${migrate.output()}`)
  const cql = new cassandra.Client({ contactPoints: [cassandraContact()], localDataCenter: 'datacenter1', socketOptions: { readTimeout: 60_000 } })
  await cql.connect()
  const writers: ChildHandle[] = []
  return {
    keyspace: doc.cassandra.keyspace,
    agentTopics,
    configFile,
    cql,
    groupId: doc.kafka.group_id,
    startWriter(opts = {}) {
      const http = opts.httpPort ? ['--http', `127.0.0.1:${opts.httpPort}`] : []
      const w = spawnCli(['cloud', 'run', '--config', configFile, ...http])
      writers.push(w)
      return w
    },
    async close() {
      for (const w of writers) {
        if (w.proc.exitCode === null) w.proc.kill('SIGTERM')
        await w.exited
      }
      await cql.shutdown()
    },
  }
}

export async function countRows(cql: cassandra.Client, table: string): Promise<number> {
  const r = await cql.execute(`SELECT COUNT(*) AS n FROM ${table}`, [], { readTimeout: 60_000 })
  return Number(r.rows[0]!.n)
}

export function testKafka(clientId = 'test-cloud'): Kafka {
  return new Kafka({ clientId, brokers: kafkaBrokers(), logLevel: logLevel.NOTHING })
}

export interface RawRecord { readonly key: string; readonly value: Buffer | Uint8Array }

/** Sends records in batches of `chunk` (acks=all); keys decide the partition, as the agent's do. */
export async function produceRecords(producer: Producer, topic: string, records: readonly RawRecord[], chunk = 2000): Promise<void> {
  for (let i = 0; i < records.length; i += chunk) {
    await producer.send({ topic, acks: -1, messages: records.slice(i, i + chunk).map((r) => ({ key: r.key, value: Buffer.from(r.value) })) })
  }
}

export interface DeadLetterRecord { readonly key: string | null; readonly value: Buffer | null; readonly headers: Record<string, string> }

/** Every message of a dead-letter topic, once at least `expected` are there. */
export async function readDeadLetter(kafka: Kafka, topic: string, expected: number, timeoutMs = 30_000): Promise<DeadLetterRecord[]> {
  const headersOf = (h: IHeaders | undefined) => Object.fromEntries(Object.entries(h ?? {}).map(([k, v]) => [k, String(Array.isArray(v) ? v[0] : v)]))
  return (await consumeFromStart(kafka, [topic], expected, timeoutMs)).map(({ message }) => ({ key: message.key?.toString() ?? null, value: message.value, headers: headersOf(message.headers) }))
}

/** Committed offset minus high watermark, summed over the group's partitions of `topics`. */
export async function groupLag(kafka: Kafka, groupId: string, topics: readonly string[]): Promise<number> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    let lag = 0
    const committed = await admin.fetchOffsets({ groupId, topics: [...topics] })
    for (const t of committed) {
      const high = new Map((await admin.fetchTopicOffsets(t.topic)).map((p) => [p.partition, Number(p.high)]))
      for (const p of t.partitions) lag += (high.get(p.partition) ?? 0) - Math.max(0, Number(p.offset))
    }
    return lag
  } finally {
    await admin.disconnect()
  }
}

/** Sets the group's committed offsets back to the earliest, once the group has no members. */
export async function resetGroupToEarliest(kafka: Kafka, groupId: string, topics: readonly string[]): Promise<void> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    await waitFor(`group ${groupId} empty`, async () => (await admin.describeGroups([groupId])).groups[0]?.state === 'Empty', 30_000, 250)
    for (const topic of topics) await admin.resetOffsets({ groupId, topic, earliest: true })
  } finally {
    await admin.disconnect()
  }
}
