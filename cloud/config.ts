/**
 * The cloud writer's configuration (its own YAML file, or flags for local runs). Same rules as the
 * agent's: declared once, unknown keys rejected, every error with its path.
 */
import { readFileSync } from 'node:fs'
import YAML from 'yaml'
import { z } from 'zod'
import { DEFAULT_SCHEMA } from './schema.js'
import { DEFAULT_TOPICS } from './topics.js'

const topic = (name: string, retentionDays: number) => z.object({ name: z.string().default(name), retention_days: z.number().positive().default(retentionDays) }).strict().default({})

export const cloudConfigSchema = z.object({
  kafka: z.object({
    brokers: z.array(z.string()).min(1),
    client_id: z.string().default('bedside-cloud-writer'),
    group_id: z.string().default('bedside-cloud-writer'),
    partitions: z.number().int().min(1).default(6),
    replication_factor: z.number().int().min(1).default(1),
    /**
     * Per-topic min.insync.replicas for the topics migrate creates (absent: the broker's default).
     * With replication_factor 3 use 2: the agent produces with acks=all, so a write is
     * acknowledged only once two replicas have it, and one broker may be down without stopping
     * the wards' sync (docs/cluster.md).
     */
    min_insync_replicas: z.number().int().min(1).optional(),
    /** A writer that stops heartbeating loses its partitions after this long (takeover time). */
    session_timeout_ms: z.number().int().min(6000).max(300_000).default(30_000),
    heartbeat_interval_ms: z.number().int().min(100).max(60_000).default(3000),
    /** Partitions whose batches one writer processes at once. */
    partitions_consumed_concurrently: z.number().int().min(1).max(64).default(3),
    /** Where a new group starts: earliest keeps a fresh writer from skipping history. */
    from_beginning: z.boolean().default(true),
    /** How often the per-partition lag on /metrics is refreshed from the broker. */
    lag_interval_ms: z.number().int().min(100).max(600_000).default(5000),
    topics: z.object({
      raw_vitals: topic(DEFAULT_TOPICS.rawVitals.name, 30),
      waveforms: topic(DEFAULT_TOPICS.waveforms.name, 7),
      alert_events: topic(DEFAULT_TOPICS.alertEvents.name, 7),
      audit_log: topic(DEFAULT_TOPICS.auditLog.name, 365),
      dead_letter: topic(DEFAULT_TOPICS.deadLetter.name, 30),
    }).strict().default({}),
  }).strict(),
  cassandra: z.object({
    contact_points: z.array(z.string()).min(1),
    local_datacenter: z.string().default('datacenter1'),
    keyspace: z.string().regex(/^[a-z][a-z0-9_]{0,47}$/).default(DEFAULT_SCHEMA.keyspace),
    /** CQL replication map as text; absent: `datacenters`, else SimpleStrategy RF 1 (single node). */
    replication: z.string().optional(),
    /**
     * Replicas per data centre, e.g. {datacenter1: 3}: the keyspace gets NetworkTopologyStrategy
     * with these factors (valid on ScyllaDB and Cassandra). Exclusive with `replication`.
     */
    datacenters: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/), z.number().int().min(1).max(9)).optional(),
    /**
     * Write consistency. LOCAL_QUORUM (2 of 3 replicas in the local DC) keeps writing with one
     * replica down or hung and, with reads at LOCAL_QUORUM, reads what was written; ONE would
     * acknowledge a write that lives on a single node until hints or repair copy it.
     */
    consistency: z.enum(['one', 'local_one', 'quorum', 'local_quorum', 'each_quorum', 'all']).default('local_quorum'),
    /**
     * Speculative execution: after this delay without an answer, the same write goes to the next
     * replica too (at most `speculative_executions` extra). Safe only because every write is
     * idempotent (fixed primary key ending in (hub_id, hub_seq), USING TIMESTAMP from the event);
     * it turns a hung replica-coordinator (GC pause, SIGSTOP) into a delay instead of a timeout.
     * 0 turns it off.
     */
    speculative_delay_ms: z.number().int().min(0).max(60_000).default(500),
    speculative_executions: z.number().int().min(1).max(4).default(1),
    ttl_raw_days: z.number().positive().default(30),
    ttl_alerts_days: z.number().positive().default(365),
    ttl_audit_days: z.number().positive().default(6 * 365),
    /** CQL requests (single rows or batches) in flight per writer process, over all partitions. */
    concurrency: z.number().int().min(1).max(1024).default(64),
    /**
     * Upper bound of one single-partition UNLOGGED batch, estimated from the bound values. Kept
     * under batch_size_fail_threshold (50 KiB, SERVICES.md) so the same config is safe on any
     * server. Cassandra 5.0 applies its batch size warn/fail thresholds to multi-partition batches
     * only: no warning was logged here for 16–48 KiB single-partition batches.
     */
    batch_max_bytes: z.number().int().min(256).max(48 * 1024).default(16 * 1024),
    request_timeout_ms: z.number().int().min(100).max(120_000).default(12_000),
    /** Attempts of one write before the partition is paused (exponential backoff in between). */
    write_attempts: z.number().int().min(1).max(100).default(5),
    retry_initial_ms: z.number().int().min(1).max(60_000).default(200),
    retry_max_ms: z.number().int().min(1).max(600_000).default(5000),
    /** How long a partition whose writes keep failing stays paused before it is tried again. */
    pause_ms: z.number().int().min(10).max(3_600_000).default(10_000),
  }).strict().refine((c) => !(c.replication !== undefined && c.datacenters !== undefined), { message: 'set either replication or datacenters, not both', path: ['datacenters'] })
    .refine((c) => new Set(c.contact_points.map(cqlPortOf)).size === 1, { message: 'every contact point must use the same CQL port (the driver reaches the nodes it discovers on one port)', path: ['contact_points'] }),
  /** /metrics, /healthz (liveness), /readyz (readiness). Port 0 picks a free port. */
  http: z.object({ listen: z.string().regex(/^[^:]+:\d+$/).default('127.0.0.1:9464') }).strict().default({}),
  log: z.object({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info') }).strict().default({}),
}).strict()

export type CloudConfig = z.infer<typeof cloudConfigSchema>

/** The keyspace's replication map: `datacenters` as NetworkTopologyStrategy, else `replication`. */
export function replicationOf(c: CloudConfig['cassandra']): string {
  if (c.datacenters) return `{'class': 'NetworkTopologyStrategy', ${Object.entries(c.datacenters).map(([dc, rf]) => `'${dc}': ${rf}`).join(', ')}}`
  return c.replication ?? DEFAULT_SCHEMA.replication
}

export function parseCloudConfig(doc: unknown, source: string): CloudConfig {
  const r = cloudConfigSchema.safeParse(doc ?? {})
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  - ${i.path.join('.') || '(root)'}: ${i.code === 'unrecognized_keys' ? `unknown key(s) ${i.keys.map((k) => `"${k}"`).join(', ')}` : i.message}`)
    throw new Error(`invalid cloud config ${source}:\n${lines.join('\n')}`)
  }
  return r.data
}

export function loadCloudConfig(file: string): CloudConfig {
  return parseCloudConfig(YAML.parse(readFileSync(file, 'utf8')), file)
}

/**
 * The CQL port of a contact point ("host", "host:port", "[v6]:port"); undefined: the driver's
 * default. cassandra-driver 4.10 contacts every node it discovers through system.peers at ONE port,
 * `protocolOptions.port` (default 9042), not at the contact point's: so the port a contact point
 * names must become that option, or a cluster on another port is reached through one node only.
 */
export function cqlPortOf(contactPoint: string): number | undefined {
  const m = /^(?:\[[^\]]*\]|[^:]*):(\d{1,5})$/.exec(contactPoint)
  return m ? Number(m[1]) : undefined
}
