/**
 * Kafka topics of the cloud tier, created by `migrate` when missing, with retention long enough
 * for a 30-day replay for audit and model training (DESIGN.md, Kafka).
 */
import type { Admin } from 'kafkajs'

export interface TopicSpec { readonly name: string; readonly retentionMs: number }

const DAY_MS = 86_400_000
export const DEFAULT_TOPICS = {
  rawVitals: { name: 'raw-vitals', retentionMs: 30 * DAY_MS },
  waveforms: { name: 'waveforms', retentionMs: 7 * DAY_MS },
  alertEvents: { name: 'alert-events', retentionMs: 7 * DAY_MS },
  auditLog: { name: 'audit-log', retentionMs: 365 * DAY_MS },
  deadLetter: { name: 'dead-letter', retentionMs: 30 * DAY_MS },
} as const satisfies Record<string, TopicSpec>

export type TopicKey = keyof typeof DEFAULT_TOPICS

/** Creates the missing topics; existing ones are left as they are. Returns the names created. */
export async function ensureTopics(admin: Admin, specs: readonly TopicSpec[], partitions: number, replicationFactor: number, minInsyncReplicas?: number): Promise<string[]> {
  const existing = new Set(await admin.listTopics())
  const missing = specs.filter((s) => !existing.has(s.name))
  if (missing.length === 0) return []
  await admin.createTopics({
    waitForLeaders: true,
    topics: missing.map((s) => ({
      topic: s.name,
      numPartitions: partitions,
      replicationFactor,
      configEntries: [
        { name: 'retention.ms', value: String(s.retentionMs) },
        { name: 'compression.type', value: 'producer' },
        ...(minInsyncReplicas === undefined ? [] : [{ name: 'min.insync.replicas', value: String(minInsyncReplicas) }]),
      ],
    })),
  })
  return missing.map((s) => s.name)
}
