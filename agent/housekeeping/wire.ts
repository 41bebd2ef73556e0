/**
 * Wiring of the durability parts into the agent (kept here so agent.ts only calls build/start/stop):
 * quota with its shed audit and technical alarm, retention, key rotation, and their /metrics.
 */
import { statfsSync } from 'node:fs'
import client from 'prom-client'
import type { Logger } from 'pino'
import type { AuditAction } from '../audit-actions.js'
import type { Config } from '../config.js'
import type { AlarmChange, RuleEngine } from '../rules/index.js'
import type { Metrics } from '../serve/metrics.js'
import type { Db } from '../store/db.js'
import { Meta, MetaKey } from '../store/meta.js'
import type { Outbox } from '../store/outbox.js'
import { StoreQuota, storeUsedBytes } from '../store/quota.js'
import { Retention } from '../store/retention.js'
import { rotateDataKey } from '../store/rekey.js'
import type { CloudSync } from '../sync/sync.js'
import type { Pseudonymizer } from '../sync/pseudonym.js'
import { TOPIC_OF_KIND } from '../sync/envelope.js'
import { Housekeeping } from './housekeeping.js'
import { SelfTest } from './self-test.js'
import { KeyCommandAudit } from './key-commands.js'

export interface DurabilityHost {
  readonly cfg: Readonly<Config>
  readonly db: Db
  readonly outbox: Outbox
  readonly pseudonyms: Pseudonymizer
  readonly metrics: Metrics
  readonly log: Logger
  readonly engine: RuleEngine
  /** Cloud sync when configured (it starts after housekeeping is built). */
  readonly sync: () => CloudSync | null
  /** The pipeline's audit and alarm paths (constructed after the quota, hence functions). */
  audit(action: AuditAction, detail: string): number
  handleAlarms(changes: readonly AlarmChange[]): void
  /** Calls back once everything appended so far is durable (the self-test's read-back). */
  whenCommitted(cb: (err: Error | null) => void): void
}

/** Default quota: half of what the data directory could hold now (free space + the store itself). */
export function defaultQuotaBytes(dataDir: string, usedBytes: number): number {
  const fs = statfsSync(dataDir)
  return Math.floor(0.5 * (fs.bavail * fs.bsize + usedBytes))
}

export class Durability {
  readonly quota: StoreQuota
  readonly housekeeping: Housekeeping
  readonly selfTest: SelfTest
  private readonly meta: Meta
  /** Shedding passes since the last shed audit: one audit per minute at most, so audits cannot fill the quota themselves. */
  private pendingShed: { count: number; fromSeq: number; toSeq: number; usedBytes: number } | null = null
  private lastShedAuditMs = 0

  constructor(private readonly host: DurabilityHost) {
    const { cfg, db, outbox, log } = host
    this.meta = new Meta(db)
    const shed = new client.Counter({ name: 'bedside_store_shed_total', help: 'Unsynced waveform chunks shed to stay under the store quota', labelNames: ['kind'] as const, registers: [host.metrics.registry] })
    const quotaBytes = cfg.store.quota_mb !== undefined ? cfg.store.quota_mb * 1048576 : defaultQuotaBytes(cfg.hub.data_dir, storeUsedBytes(db))
    this.quota = new StoreQuota(db, outbox, quotaBytes, {
      shed: (count, fromSeq, toSeq, usedBytes) => {
        shed.inc({ kind: 'waveform' }, count)
        this.noteShed(count, fromSeq, toSeq, usedBytes)
      },
      condition: (active, detail) => this.quotaCondition(active, detail),
    })
    const hk = cfg.housekeeping
    this.selfTest = new SelfTest({
      db, log,
      audit: (action, detail) => host.audit(action, detail),
      whenCommitted: (cb) => host.whenCommitted(cb),
      condition: (active, detail) => this.hubCondition('self-test-failed', active, detail),
    })
    this.housekeeping = new Housekeeping(
      { quotaCheckMs: hk.quota_check_ms, retentionMs: cfg.store.retention_days * 86_400_000, retentionCron: hk.retention_cron, checkpointCron: hk.checkpoint_cron, keyRotationCron: hk.key_rotation_cron, selfTestCron: hk.self_test_cron },
      {
        quota: this.quota, retention: new Retention(db, outbox), outbox, pseudonyms: host.pseudonyms, selfTest: this.selfTest, rotateDataKey: (nowMs) => rotateDataKey(db, nowMs),
        keyCommands: new KeyCommandAudit(cfg.hub.data_dir, this.meta, (action, detail) => host.audit(action, detail)),
      },
      { audit: (action, detail) => host.audit(action, detail), flush: () => this.flushShedAudit() },
      log.child({ component: 'housekeeping' }),
    )
    this.registerGauges()
  }

  private noteShed(count: number, fromSeq: number, toSeq: number, usedBytes: number): void {
    const p = this.pendingShed
    this.pendingShed = p ? { count: p.count + count, fromSeq: p.fromSeq, toSeq, usedBytes } : { count, fromSeq, toSeq, usedBytes }
    if (Date.now() - this.lastShedAuditMs >= 60_000) this.flushShedAudit()
  }

  /** Audits (and logs) the waveform chunks shed since the last audit; each is also counted in meta and /metrics. */
  flushShedAudit(): void {
    const p = this.pendingShed
    if (!p) return
    this.pendingShed = null
    this.lastShedAuditMs = Date.now()
    const detail = `shed ${p.count} unsynced waveform chunks (hub_seq ${p.fromSeq}..${p.toSeq}, oldest first) to stay under the store quota of ${(this.quota.limitBytes / 1048576).toFixed(1)} MB; store ${(p.usedBytes / 1048576).toFixed(1)} MB`
    this.host.audit('store.shed', detail)
    this.host.log.warn({ event: 'store_shed', count: p.count, fromSeq: p.fromSeq, toSeq: p.toSeq }, detail)
  }

  /** The queue-over-quota technical alarm at every bed: the whole ward's data is at stake. */
  private quotaCondition(active: boolean, detail: string): void {
    if (!active) this.flushShedAudit()
    const now = Date.now()
    for (const bed of this.host.cfg.beds) this.host.handleAlarms(this.host.engine.technical(bed.id, 'store', 'queue-over-quota', active, now, detail))
    if (active) this.host.log.error({ event: 'store_over_quota', detail }, detail)
    else this.host.log.info({ event: 'store_under_quota', detail }, detail)
  }

  /** A hub-level technical condition raised at every bed: the whole ward depends on the gateway. */
  private hubCondition(condition: 'self-test-failed', active: boolean, detail: string): void {
    const now = Date.now()
    for (const bed of this.host.cfg.beds) this.host.handleAlarms(this.host.engine.technical(bed.id, 'gateway', condition, active, now, detail))
  }

  /** Remembers the last sync error for `bedside-hub queue` (rare: once per failed send). */
  syncError(e: { atMs: number; message: string }): void {
    this.meta.set(MetaKey.LAST_SYNC_ERROR, JSON.stringify(e))
  }

  private registerGauges(): void {
    const r = [this.host.metrics.registry]
    const quota = this.quota
    const outbox = this.host.outbox
    const host = this.host
    const byTopic = { atMs: 0 }
    new client.Gauge({ name: 'bedside_store_used_bytes', help: 'Live pages of the store (what the quota counts)', registers: r, collect() { this.set(quota.usedBytes()) } })
    new client.Gauge({ name: 'bedside_store_quota_bytes', help: 'Disk quota of the store', registers: r, collect() { this.set(quota.limitBytes) } })
    new client.Gauge({ name: 'bedside_store_refusing', help: '1 while non-alarm input is refused because numerics, alarms and audit alone fill the quota', registers: r, collect() { this.set(quota.refusing ? 1 : 0) } })
    new client.Gauge({ name: 'bedside_sync_rate_records_per_second', help: 'Records acknowledged by Kafka per second over the last 10 s', registers: r, collect() { const sync = host.sync(); this.set(sync ? sync.rate.perSecond(Date.now()) : 0) } })
    new client.Gauge({ name: 'bedside_sync_batch_records', help: 'Records per sendBatch now (adapts to the acknowledgement latency)', registers: r, collect() { const sync = host.sync(); this.set(sync ? sync.batchRecords : 0) } })
    new client.Gauge({
      name: 'bedside_outbox_depth_by_topic', help: 'Committed records not yet acknowledged by Kafka, by topic', labelNames: ['topic'] as const, registers: r,
      collect() {
        // A GROUP BY over every unsynced row: after hours of outage that is millions, so at most every 30 s.
        const now = Date.now()
        if (now - byTopic.atMs < 30_000) return
        byTopic.atMs = now
        this.reset()
        for (const k of outbox.depthByKind()) this.set({ topic: TOPIC_OF_KIND[k.kind] ?? String(k.kind) }, k.n)
      },
    })
  }
}
