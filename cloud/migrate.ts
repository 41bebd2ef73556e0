/**
 * `bedside-hub cloud migrate`: creates the keyspace, applies pending CQL migrations in order
 * (recorded in <keyspace>.schema_migrations, so a second run changes nothing), and creates the
 * missing Kafka topics with their retention.
 */
import type cassandra from 'cassandra-driver'
import type { Kafka } from 'kafkajs'
import { replicationOf, type CloudConfig } from './config.js'
import { MIGRATIONS, type SchemaOptions } from './schema.js'
import { ensureTopics } from './topics.js'

const DAY_S = 86_400

export function schemaOptions(cfg: CloudConfig): SchemaOptions {
  const c = cfg.cassandra
  return { keyspace: c.keyspace, replication: replicationOf(c), ttlRawS: Math.round(c.ttl_raw_days * DAY_S), ttlAlertsS: Math.round(c.ttl_alerts_days * DAY_S), ttlAuditS: Math.round(c.ttl_audit_days * DAY_S) }
}

export async function migrateCql(client: cassandra.Client, o: SchemaOptions): Promise<number[]> {
  await client.execute(`CREATE KEYSPACE IF NOT EXISTS ${o.keyspace} WITH replication = ${o.replication}`)
  await client.execute(`CREATE TABLE IF NOT EXISTS ${o.keyspace}.schema_migrations (version int PRIMARY KEY, description text, applied_at timestamp)`)
  const done = new Set((await client.execute(`SELECT version FROM ${o.keyspace}.schema_migrations`)).rows.map((r) => r.version as number))
  const applied: number[] = []
  for (const m of MIGRATIONS) {
    if (done.has(m.version)) continue
    for (const stmt of m.statements(o)) await client.execute(stmt)
    await client.execute(`INSERT INTO ${o.keyspace}.schema_migrations (version, description, applied_at) VALUES (?, ?, ?)`, [m.version, m.description, new Date()], { prepare: true })
    applied.push(m.version)
  }
  return applied
}

export async function migrateTopics(kafka: Kafka, cfg: CloudConfig): Promise<string[]> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    const t = cfg.kafka.topics
    const specs = [t.raw_vitals, t.waveforms, t.alert_events, t.audit_log, t.dead_letter].map((s) => ({ name: s.name, retentionMs: Math.round(s.retention_days * DAY_S * 1000) }))
    const k = cfg.kafka
    if (k.min_insync_replicas !== undefined && k.min_insync_replicas > k.replication_factor) throw new Error(`kafka.min_insync_replicas (${k.min_insync_replicas}) exceeds kafka.replication_factor (${k.replication_factor}): no acks=all write could ever succeed`)
    const brokers = (await admin.describeCluster()).brokers.length
    if (k.replication_factor > brokers) throw new Error(`kafka.replication_factor ${k.replication_factor} needs at least that many brokers; the cluster has ${brokers}`)
    return await ensureTopics(admin, specs, k.partitions, k.replication_factor, k.min_insync_replicas)
  } finally {
    await admin.disconnect()
  }
}
