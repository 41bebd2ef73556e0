/**
 * A fleet of wards against the cluster (issue 22): N agents, each its own process, store and
 * hub.id, every bed's monitor sending numerics each second and a few ECG patches sending a chunk
 * each second, over MQTT QoS 1 (bench/fleet-publisher.ts); W cloud writers in one consumer group;
 * topics (RF 3, min.insync.replicas 2) and keyspace (NetworkTopologyStrategy RF 3) made by
 * `bedside-hub cloud migrate`, fresh per run.
 *
 * check(): per hub, every acknowledged device message is in the agent's store, and every record of
 * the store (its hub_seqs) is in Cassandra exactly once, by (hub_id, hub_seq) over the four tables.
 *
 * Run alone: `npm run build && node --import tsx bench/fleet.ts [--agents 16] [--beds 8]
 * [--patches 2] [--writers 3] [--seconds 60]` with the cluster up
 * (`scripts/services/services.sh start cluster; eval "$(scripts/services/services.sh env cluster)"`).
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import Database from 'better-sqlite3'
import cassandra from 'cassandra-driver'
import { Kafka, logLevel } from 'kafkajs'
import YAML from 'yaml'
import { freePort, metricValue, spawnCli, startAgentProcess, tempDir, waitFor, type AgentHandle, type ChildHandle } from '../test/support/agent-process.js'
import { DevicePublisher } from './fleet-publisher.js'
import { openRecordView } from '../test/support/records.js'
import { unframeEnvelope } from '../cloud/wire-format.js'
import { decodeEnvelope } from '../proto/codec.js'

export interface FleetOptions {
  readonly agents: number
  readonly beds: number
  readonly patches: number
  readonly writers: number
  readonly brokers: readonly string[]
  readonly cassandra: readonly string[]
}

export interface HubCheck { hub: string; acked: number; notStored: number; stored: number; inCassandra: number; missing: number; duplicate: number; /** The first missing records: hub_seq, kind, and its run's first hub_seq and size. */ missingSample: string[] }
export interface FleetCheck { acked: number; stored: number; missing: number; duplicate: number; notStored: number; hubs: HubCheck[] }

const TABLES = ['vitals_by_patient', 'waveforms_by_patient', 'alerts_by_patient', 'audit_by_day'] as const
export const TOPIC_KEYS = ['raw_vitals', 'waveforms', 'alert_events', 'audit_log', 'dead_letter'] as const

export const clusterFromEnv = (): { brokers: string[]; cassandra: string[] } | null => {
  const b = process.env.CLUSTER_KAFKA_BROKERS
  const c = process.env.CLUSTER_CASSANDRA_CONTACT
  return b && c ? { brokers: b.split(','), cassandra: c.split(',') } : null
}

/**
 * The writers' config for the cluster: RF 3 topics with min.insync.replicas 2, a keyspace at RF 3
 * (NetworkTopologyStrategy), fast group membership so a dead writer's partitions move in ~10 s.
 */
export function clusterCloudConfig(o: { brokers: readonly string[]; cassandra: readonly string[] }, groupId: string, topics: Record<(typeof TOPIC_KEYS)[number], string>, keyspace: string): Record<string, unknown> {
  return {
    kafka: {
      brokers: o.brokers,
      group_id: groupId,
      partitions: 6,
      replication_factor: Math.min(3, o.brokers.length),
      min_insync_replicas: Math.min(2, o.brokers.length),
      session_timeout_ms: 10_000,
      heartbeat_interval_ms: 1000,
      lag_interval_ms: 1000,
      topics: Object.fromEntries(TOPIC_KEYS.map((k) => [k, { name: topics[k] }])),
    },
    cassandra: { contact_points: o.cassandra, keyspace, datacenters: { datacenter1: Math.min(3, o.cassandra.length) } },
    http: { listen: '127.0.0.1:0' },
    log: { level: 'warn' },
  }
}

interface Ward { agent: AgentHandle; hub: string; devices: DevicePublisher[]; dataDir: string }

export class Fleet {
  readonly id = `fleet-${Date.now().toString(36)}`
  readonly keyspace = this.id.replace(/-/g, '_')
  readonly groupId = `writer-${this.id}`
  readonly topics = Object.fromEntries(TOPIC_KEYS.map((k) => [k, `${this.id}-${k.replace('_', '-')}`])) as Record<(typeof TOPIC_KEYS)[number], string>
  readonly wards: Ward[] = []
  readonly writers: (ChildHandle & { httpPort: number })[] = []
  cloudConfig = ''
  cql!: cassandra.Client
  readonly kafka: Kafka

  constructor(readonly o: FleetOptions) {
    this.kafka = new Kafka({ clientId: 'fleet', brokers: [...o.brokers], logLevel: logLevel.NOTHING, retry: { retries: 10 } })
  }

  /** migrate, the writers, then the agents and their devices. */
  async start(): Promise<void> {
    const dir = tempDir('fleet-cloud')
    this.cloudConfig = join(dir, 'cloud.yaml')
    writeFileSync(this.cloudConfig, YAML.stringify(clusterCloudConfig(this.o, this.groupId, this.topics, this.keyspace)))
    const m = spawnCli(['cloud', 'migrate', '--config', this.cloudConfig])
    if ((await m.exited) !== 0) throw new Error(`cloud migrate failed:\n${m.output()}`)
    this.cql = new cassandra.Client({ contactPoints: [...this.o.cassandra], localDataCenter: 'datacenter1', socketOptions: { readTimeout: 60_000 }, queryOptions: { consistency: cassandra.types.consistencies.quorum } })
    await this.cql.connect()
    for (let w = 0; w < this.o.writers; w++) await this.startWriter()
    for (let a = 0; a < this.o.agents; a++) this.wards.push(await this.startWard(a))
    await Promise.all(this.wards.flatMap((w) => w.devices.map((d) => d.start())))
  }

  async startWriter(): Promise<ChildHandle & { httpPort: number }> {
    const httpPort = await freePort()
    const w = Object.assign(spawnCli(['cloud', 'run', '--config', this.cloudConfig, '--http', `127.0.0.1:${httpPort}`]), { httpPort })
    this.writers.push(w)
    await waitFor(`writer on ${httpPort} up`, async () => (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).ok, 60_000, 500).catch((err: Error) => {
      throw new Error(`${err.message}\n${w.output()}`)
    })
    return w
  }

  private async startWard(a: number): Promise<Ward> {
    const hub = `ward-${String(a).padStart(3, '0')}`
    const dataDir = join(tempDir(hub), 'data')
    const secret = (id: string) => `secret-of-${id}`
    const beds = Array.from({ length: this.o.beds }, (_, b) => ({
      id: `${hub}-bed-${b}`,
      devices: [
        { id: `${hub}-mon-${b}`, type: 'mqtt', secret: secret(`${hub}-mon-${b}`) },
        ...(b < this.o.patches ? [{ id: `${hub}-ecg-${b}`, type: 'mqtt', secret: secret(`${hub}-ecg-${b}`) }] : []),
      ],
    }))
    const agent = await startAgentProcess({
      hub: { id: hub, site: 'fleet-site', data_dir: dataDir },
      beds,
      cloud: { kafka: { brokers: this.o.brokers, client_id: `bedside-hub-${hub}`, topics: this.topics } },
      // FLEET_STORE_RUNS=off: the agents keep a row per observation (store.observation_runs, issue 23).
      ...(process.env.FLEET_STORE_RUNS ? { store: { observation_runs: process.env.FLEET_STORE_RUNS } } : {}),
    })
    const devices = beds.flatMap((b) => b.devices.map((d) => new DevicePublisher(agent.mqtt, d.id, d.secret, d.id.includes('-ecg-') ? 'patch' : 'monitor')))
    return { agent, hub, devices, dataDir }
  }

  /** Device messages per second the fleet sends. */
  get messageRate(): number {
    return this.wards.reduce((n, w) => n + w.devices.length, 0)
  }

  pause(): void {
    for (const w of this.wards) for (const d of w.devices) d.pause()
  }

  resume(): void {
    for (const w of this.wards) for (const d of w.devices) d.resume()
  }

  get acked(): number {
    return this.wards.reduce((n, w) => n + w.devices.reduce((m, d) => m + d.acked.size, 0), 0)
  }

  /** Sum of the agents' outboxes (records committed, not yet acknowledged by Kafka). */
  async outboxDepth(): Promise<number> {
    const depths = await Promise.all(this.wards.map((w) => metricValue(w.agent.http, 'bedside_outbox_depth').catch(() => Number.NaN)))
    return depths.reduce((a, b) => a + b, 0)
  }

  /** Each live writer's Cassandra connections (`cqlHosts` of /readyz: hosts with an open pool). */
  async writerCqlHosts(): Promise<number[]> {
    const live = this.writers.filter((w) => w.proc.exitCode === null && w.proc.signalCode === null)
    return Promise.all(live.map(async (w) => {
      const body = await (await fetch(`http://127.0.0.1:${w.httpPort}/readyz`)).json() as { cqlHosts?: number }
      return body.cqlHosts ?? -1
    }))
  }

  /** The group's lag over the source topics (high watermark − committed, never-committed = all). */
  async groupLag(): Promise<number> {
    const admin = this.kafka.admin()
    await admin.connect()
    try {
      const topics = [this.topics.raw_vitals, this.topics.waveforms, this.topics.alert_events, this.topics.audit_log]
      let lag = 0
      for (const t of await admin.fetchOffsets({ groupId: this.groupId, topics })) {
        const high = new Map((await admin.fetchTopicOffsets(t.topic)).map((p) => [p.partition, Number(p.high)]))
        for (const p of t.partitions) lag += (high.get(p.partition) ?? 0) - Math.max(0, Number(p.offset))
      }
      return lag
    } finally {
      await admin.disconnect()
    }
  }

  /** Waits until no device holds an unacknowledged message, every outbox is empty and the group lag is 0. */
  async drain(timeoutMs: number): Promise<number> {
    const t0 = Date.now()
    await waitFor('devices acknowledged', async () => this.wards.every((w) => w.devices.every((d) => d.pending === 0)), timeoutMs, 250)
    await waitFor('outboxes empty', async () => (await this.outboxDepth()) === 0, timeoutMs, 500)
    await waitFor('group lag 0', async () => (await this.groupLag().catch(() => -1)) === 0, timeoutMs, 500)
    return Date.now() - t0
  }

  /**
   * Exactly once, per hub: acknowledged ⊆ store, and store hub_seqs = Cassandra hub_seqs, each once.
   * Call after `drain`. A paused fleet is not a silent one: 30 s after its last reading each bed
   * raises its no-data technical alarm (rules/defaults.ts), a record committed after the drain. So
   * the check takes each store's highest hub_seq, drains again (that record reaches Cassandra too)
   * and judges only records up to that mark; what a store commits later is the next check's.
   */
  async check(): Promise<FleetCheck> {
    const marks = new Map<string, number>()
    for (const w of this.wards) marks.set(w.hub, highestHubSeq(join(w.dataDir, 'bedside.db')))
    await this.drain(600_000)
    const inCql = new Map<string, Map<number, number>>()
    for (const table of TABLES) {
      const rows = this.cql.stream(`SELECT hub_id, hub_seq FROM ${this.keyspace}.${table}`, [], { prepare: true, fetchSize: 5000, readTimeout: 120_000, consistency: cassandra.types.consistencies.quorum }) as unknown as AsyncIterable<cassandra.types.Row>
      for await (const r of rows) {
        const hub = r.hub_id as string
        let m = inCql.get(hub)
        if (!m) inCql.set(hub, (m = new Map()))
        const seq = Number(r.hub_seq)
        m.set(seq, (m.get(seq) ?? 0) + 1)
      }
    }
    const hubs: HubCheck[] = []
    for (const w of this.wards) {
      // record_view: one row per hub_seq, a run row (store.observation_runs) read as its records.
      const db = openRecordView(join(w.dataDir, 'bedside.db'), { readonly: true, fileMustExist: true })
      try {
        const seen = new Set<string>()
        for (const [dev, seq] of db.prepare('SELECT DISTINCT device_id, device_seq FROM record_view WHERE kind IN (1, 2) AND device_seq IS NOT NULL').raw().iterate() as IterableIterator<[string, number]>) seen.add(`${dev}/${seq}`)
        let acked = 0
        let notStored = 0
        for (const d of w.devices) {
          for (const seq of d.acked) {
            acked++
            if (!seen.has(`${d.deviceId}/${seq}`)) notStored++
          }
        }
        const dead = new Set((db.prepare('SELECT hub_seq FROM dead_letter').raw().all() as [number][]).map(([s]) => s))
        const cql = inCql.get(w.hub) ?? new Map<number, number>()
        let stored = 0
        let missing = 0
        const missingSample: string[] = []
        for (const [seq, kind] of db.prepare('SELECT hub_seq, kind FROM record_view WHERE hub_seq <= ?').raw().iterate(marks.get(w.hub)!) as IterableIterator<[number, number]>) {
          if (dead.has(seq)) continue
          stored++
          if (cql.has(seq)) continue
          missing++
          if (missingSample.length < 10) missingSample.push(`${seq} kind ${kind}`)
        }
        for (let i = 0; i < missingSample.length; i++) {
          const seq = Number(missingSample[i]!.split(' ')[0])
          const row = db.prepare('SELECT hub_seq, n FROM records WHERE hub_seq <= ? ORDER BY hub_seq DESC LIMIT 1').get(seq) as { hub_seq: number; n: number } | undefined
          if (row) missingSample[i] += ` (row ${row.hub_seq} of ${row.n})`
        }
        let duplicate = 0
        for (const n of cql.values()) if (n > 1) duplicate += n - 1
        hubs.push({ hub: w.hub, acked, notStored, stored, inCassandra: cql.size, missing, duplicate, missingSample })
      } finally {
        db.close()
      }
    }
    if (hubs.some((h) => h.missing > 0)) await this.locateMissing(hubs)
    const sum = (k: keyof Omit<HubCheck, 'hub' | 'missingSample'>) => hubs.reduce((n, h) => n + h[k], 0)
    return { acked: sum('acked'), stored: sum('stored'), missing: sum('missing'), duplicate: sum('duplicate'), notStored: sum('notStored'), hubs }
  }

  /**
   * For each missing sample, where it got to: the topic, partition and offset holding its hub_seq,
   * or "in no topic" (lost between the agent and Kafka, not between Kafka and Cassandra).
   */
  private async locateMissing(hubs: HubCheck[]): Promise<void> {
    const wanted = new Set<string>() // `${hub}/${seq}`
    for (const h of hubs) for (const s of h.missingSample) wanted.add(`${h.hub}/${Number(s.split(' ')[0])}`)
    const found = new Map<string, string>()
    const admin = this.kafka.admin()
    await admin.connect()
    const ends = new Map<string, number>()
    const topics = [this.topics.raw_vitals, this.topics.waveforms, this.topics.alert_events, this.topics.audit_log]
    for (const t of topics) for (const p of await admin.fetchTopicOffsets(t)) ends.set(`${t}/${p.partition}`, Number(p.high))
    await admin.disconnect()
    const consumer = this.kafka.consumer({ groupId: `locate-${this.id}-${Date.now()}` })
    await consumer.connect()
    for (const t of topics) await consumer.subscribe({ topic: t, fromBeginning: true })
    const done = new Set<string>()
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 120_000)
      void consumer.run({
        eachMessage: async ({ topic, partition, message }) => {
          try {
            const e = decodeEnvelope(unframeEnvelope(message.value!))
            const seqs = e.observations ? e.observations.hubSeq : [e.hubSeq]
            for (const s of seqs) {
              const k = `${e.hubId}/${s}`
              if (wanted.has(k)) found.set(k, `${topic} p${partition} @${message.offset}${e.observations ? ` (run of ${seqs.length})` : ''}`)
            }
          } catch { /* not ours to judge here */ }
          if (Number(message.offset) + 1 >= (ends.get(`${topic}/${partition}`) ?? 0)) done.add(`${topic}/${partition}`)
          if ([...ends].every(([k, end]) => end === 0 || done.has(k))) { clearTimeout(timer); resolve() }
        },
      })
    })
    await consumer.disconnect()
    for (const h of hubs) {
      h.missingSample = h.missingSample.map((s) => `${s}: ${found.get(`${h.hub}/${Number(s.split(' ')[0])}`) ?? 'in no topic'}`)
    }
  }

  /** Last figures read from each writer: a killed writer's counters still count (they were written). */
  private readonly lastSeen = new Map<ChildHandle, { rows: number; buckets: Map<number, number> }>()

  /** Reads every running writer's /metrics; returns the figures of all writers ever started. */
  async writerTotals(): Promise<{ rows: number; buckets: Map<number, number> }> {
    for (const w of this.writers) {
      if (w.proc.exitCode !== null || w.proc.signalCode !== null) continue
      const text = await fetch(`http://127.0.0.1:${w.httpPort}/metrics`).then((r) => r.text(), () => null)
      if (text === null) continue
      const buckets = new Map<number, number>()
      let rows = 0
      for (const line of text.split('\n')) {
        const m = /^bedside_cloud_event_age_seconds_bucket\{le="([^"]+)"\} (\d+)/.exec(line)
        if (m) buckets.set(m[1] === '+Inf' ? Infinity : Number(m[1]), Number(m[2]))
        const r = /^bedside_cloud_rows_written_total\{[^}]*\} (\d+)/.exec(line)
        if (r) rows += Number(r[1])
      }
      this.lastSeen.set(w, { rows, buckets })
    }
    const buckets = new Map<number, number>()
    let rows = 0
    for (const seen of this.lastSeen.values()) {
      rows += seen.rows
      for (const [le, n] of seen.buckets) buckets.set(le, (buckets.get(le) ?? 0) + n)
    }
    return { rows, buckets }
  }

  /** Summed event-age histogram of every writer (to take differences between two moments). */
  async eventAgeBuckets(): Promise<Map<number, number>> {
    return (await this.writerTotals()).buckets
  }

  async stop(): Promise<void> {
    await Promise.all(this.wards.flatMap((w) => w.devices.map((d) => d.stop())))
    await Promise.all(this.wards.map((w) => w.agent.stop()))
    for (const w of this.writers) {
      if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill('SIGTERM')
      await w.exited
    }
    await this.cql?.shutdown()
  }

  /** Drops this run's topics and keyspace (they hold only this run's synthetic data). */
  async cleanup(): Promise<void> {
    const admin = this.kafka.admin()
    await admin.connect()
    await admin.deleteTopics({ topics: Object.values(this.topics) }).catch(() => undefined)
    await admin.disconnect()
    const c = new cassandra.Client({ contactPoints: [...this.o.cassandra], localDataCenter: 'datacenter1', socketOptions: { readTimeout: 60_000 } })
    await c.connect()
    await c.execute(`DROP KEYSPACE IF EXISTS ${this.keyspace}`).catch(() => undefined)
    await c.shutdown()
  }
}

/** The highest hub_seq a store holds (a run row's last), 0 for none. */
function highestHubSeq(path: string): number {
  const db = new Database(path, { readonly: true, fileMustExist: true })
  try {
    return (db.prepare('SELECT COALESCE(MAX(hub_seq + n - 1), 0) AS m FROM records').get() as { m: number }).m
  } finally {
    db.close()
  }
}

/** The upper bound of the bucket where the cumulative count reaches q of the total. */
export function quantileOf(cumulative: Map<number, number>, q: number): number {
  const les = [...cumulative.keys()].sort((a, b) => a - b)
  const total = cumulative.get(Infinity) ?? 0
  if (total === 0) return Number.NaN
  for (const le of les) if ((cumulative.get(le) ?? 0) >= q * total) return le
  return Infinity
}

export function bucketDiff(after: Map<number, number>, before: Map<number, number>): Map<number, number> {
  return new Map([...after].map(([le, n]) => [le, n - (before.get(le) ?? 0)]))
}

/** Resident set size of a process in MB (Linux /proc). */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) / 1024 : 0
}

/** CPU seconds (user + system) of a process so far. */
export function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(f[11]) + Number(f[12])) / 100
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { agents: { type: 'string', default: '16' }, beds: { type: 'string', default: '8' }, patches: { type: 'string', default: '2' }, writers: { type: 'string', default: '3' }, seconds: { type: 'string', default: '60' } } })
  const cluster = clusterFromEnv()
  if (!cluster) throw new Error('CLUSTER_KAFKA_BROKERS and CLUSTER_CASSANDRA_CONTACT are not set: scripts/services/services.sh start cluster; eval "$(scripts/services/services.sh env cluster)"')
  const fleet = new Fleet({ agents: Number(values.agents), beds: Number(values.beds), patches: Number(values.patches), writers: Number(values.writers), ...cluster })
  const t0 = Date.now()
  await fleet.start()
  console.log(`fleet ${fleet.id}: ${fleet.wards.length} agents, ${fleet.messageRate} device messages/s, ${fleet.writers.length} writers; started in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
  const seconds = Number(values.seconds)
  const pids = () => [...fleet.wards.map((w) => w.agent.proc.pid!), ...fleet.writers.map((w) => w.proc.pid!)]
  const jvms = clusterJvms()
  const cpu0 = pids().map(cpuSeconds)
  const jvm0 = jvms.map(([, pid]) => cpuSeconds(pid))
  const rows0 = await rowsWritten(fleet)
  const b0 = await fleet.eventAgeBuckets()
  const tRun = Date.now()
  await new Promise((r) => setTimeout(r, seconds * 1000))
  const elapsed = (Date.now() - tRun) / 1000
  const rows1 = await rowsWritten(fleet)
  const cpu1 = pids().map(cpuSeconds)
  const jvm1 = jvms.map(([, pid]) => cpuSeconds(pid))
  const b1 = await fleet.eventAgeBuckets()
  const agentsCpu = cpu1.slice(0, fleet.wards.length).reduce((a, c, i) => a + c - cpu0[i]!, 0)
  const writersCpu = cpu1.slice(fleet.wards.length).reduce((a, c, i) => a + c - cpu0[fleet.wards.length + i]!, 0)
  const d = bucketDiff(b1, b0)
  console.log(`rows written ${((rows1 - rows0) / elapsed).toFixed(0)}/s over ${elapsed.toFixed(0)} s; event age (hub → row) p50 ≤ ${quantileOf(d, 0.5)} s, p99 ≤ ${quantileOf(d, 0.99)} s`)
  console.log(`cpu: agents ${(agentsCpu / elapsed).toFixed(3)} cores (${((agentsCpu / elapsed) / fleet.wards.length).toFixed(4)} per agent), writers ${(writersCpu / elapsed).toFixed(3)} cores`)
  if (jvms.length > 0) console.log(`cpu: ${jvms.map(([name], i) => `${name} ${((jvm1[i]! - jvm0[i]!) / elapsed).toFixed(3)}`).join(', ')} cores`)
  console.log(`load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`)
  console.log(`agent RSS MB: ${fleet.wards.map((w) => rssMb(w.agent.proc.pid!).toFixed(0)).join(' ')}`)
  fleet.pause()
  const drainMs = await fleet.drain(180_000)
  const c = await fleet.check()
  console.log(`drained in ${(drainMs / 1000).toFixed(1)} s; acked ${c.acked} messages (not stored ${c.notStored}); records stored ${c.stored}, missing ${c.missing}, duplicate ${c.duplicate}`)
  await fleet.stop()
  await fleet.cleanup()
  process.exit(c.missing + c.duplicate + c.notStored === 0 ? 0 : 1)
}

/** [node, pid] of the running cluster JVMs (CLUSTER_STATE_DIR from `services.sh env cluster`). */
export function clusterJvms(): [string, number][] {
  const state = process.env.CLUSTER_STATE_DIR
  if (!state) return []
  const out: [string, number][] = []
  for (const node of ['cluster-kafka-1', 'cluster-kafka-2', 'cluster-kafka-3', 'cluster-cassandra-1', 'cluster-cassandra-2', 'cluster-cassandra-3']) {
    try {
      const pid = Number(readFileSync(join(state, node, `${node}.pid`), 'utf8').trim())
      cpuSeconds(pid)
      out.push([node, pid])
    } catch {
      // not running
    }
  }
  return out
}

/** Rows the writers wrote so far (all tables, killed writers' last figures included). */
export async function rowsWritten(fleet: Fleet): Promise<number> {
  return (await fleet.writerTotals()).rows
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: Error) => {
    console.error(err.stack ?? err.message)
    process.exit(1)
  })
}
