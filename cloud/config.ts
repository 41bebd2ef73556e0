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
    replication: z.string().default(DEFAULT_SCHEMA.replication),
    ttl_raw_days: z.number().positive().default(30),
    ttl_alerts_days: z.number().positive().default(365),
    ttl_audit_days: z.number().positive().default(6 * 365),
    /** Concurrent CQL writes per batch of messages. */
    concurrency: z.number().int().min(1).max(1024).default(64),
  }).strict(),
  http: z.object({ listen: z.string().default('127.0.0.1:9464') }).strict().default({}),
  log: z.object({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info') }).strict().default({}),
}).strict()

export type CloudConfig = z.infer<typeof cloudConfigSchema>

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
