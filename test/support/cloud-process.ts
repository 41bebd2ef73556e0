/**
 * The cloud tier for integration tests: per-test topic names and keyspace (so tests never see each
 * other's rows), `cloud migrate`, and the writer as a real child process.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import cassandra from 'cassandra-driver'
import YAML from 'yaml'
import { spawnCli, tempDir, type ChildHandle } from './agent-process.js'
import { cassandraContact, kafkaBrokers } from './services.js'

export interface CloudSetup {
  readonly keyspace: string
  /** Topic names, in the agent's `cloud.kafka.topics` shape. */
  readonly agentTopics: Record<'raw_vitals' | 'waveforms' | 'alert_events' | 'audit_log' | 'dead_letter', string>
  readonly configFile: string
  readonly cql: cassandra.Client
  startWriter(): ChildHandle
  close(): Promise<void>
}

export async function setupCloud(name: string, partitions = 3): Promise<CloudSetup> {
  const id = `${name}-${Date.now().toString(36)}`.toLowerCase().replace(/[^a-z0-9-]/g, '-')
  const topic = (t: string) => `${id}-${t}`
  const agentTopics = { raw_vitals: topic('raw-vitals'), waveforms: topic('waveforms'), alert_events: topic('alert-events'), audit_log: topic('audit-log'), dead_letter: topic('dead-letter') }
  const doc = {
    kafka: {
      brokers: kafkaBrokers(),
      group_id: `writer-${id}`,
      partitions,
      topics: { raw_vitals: { name: agentTopics.raw_vitals }, waveforms: { name: agentTopics.waveforms }, alert_events: { name: agentTopics.alert_events }, audit_log: { name: agentTopics.audit_log }, dead_letter: { name: agentTopics.dead_letter } },
    },
    cassandra: { contact_points: [cassandraContact()], keyspace: `t_${id.replace(/-/g, '_')}`.slice(0, 48) },
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
    startWriter() {
      const w = spawnCli(['cloud', 'run', '--config', configFile])
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
