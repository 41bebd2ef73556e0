/**
 * Periodic care of the gateway's store and keys (issue 7):
 * - quota: enforced every `quotaCheckMs` (store/quota.ts);
 * - retention of acknowledged records and a WAL checkpoint, on node-cron schedules;
 * - pseudonym keys: under policy gateway a new key on a node-cron schedule; under policy site the
 *   bundle's epochs, checked every minute so the switch is audited when it happens (issue 24);
 *   what `bedside-hub keys` did beside the agent is audited within a minute (key-commands.ts);
 *   both audited as `key-rotation`; keys whose epoch ended before the
 *   retention horizon (and before the oldest unsynced record) are forgotten; the store's data key
 *   rotates with it (issue 18: every sealed field re-encrypted, the old data key then dropped);
 * - a daily self-test that writes and reads back a record (self-test.ts).
 * Every job catches and logs its own failure: a failed pass is retried at the next tick.
 */
import cron, { type ScheduledTask } from 'node-cron'
import type { Logger } from 'pino'
import type { StoreQuota } from '../store/quota.js'
import type { Retention } from '../store/retention.js'
import type { Outbox } from '../store/outbox.js'
import type { DataKeyRotation } from '../store/rekey.js'
import type { Pseudonymizer } from '../sync/pseudonym.js'
import type { SelfTest } from './self-test.js'
import { AuditAction } from '../audit-actions.js'

export interface HousekeepingOptions {
  readonly quotaCheckMs: number
  readonly retentionMs: number
  readonly retentionCron: string
  readonly checkpointCron: string
  readonly keyRotationCron: string
  readonly selfTestCron: string
}

export interface HousekeepingHooks {
  /** Appends an audit event to the durable log (never shed). */
  audit(action: AuditAction, detail: string): void
  /** Writes what is pending (coalesced shed audits) before the store closes. */
  flush(): void
}

export class Housekeeping {
  private readonly tasks: ScheduledTask[] = []
  private quotaTimer: NodeJS.Timeout | null = null
  private keyTimer: NodeJS.Timeout | null = null
  /** The pseudonym epoch last audited as in force. */
  private epochInForce = ''

  constructor(
    private readonly opts: HousekeepingOptions,
    private readonly parts: { quota: StoreQuota; retention: Retention; outbox: Outbox; pseudonyms: Pseudonymizer; selfTest: SelfTest; rotateDataKey?: (nowMs: number) => DataKeyRotation; keyCommands?: { poll(): number } },
    private readonly hooks: HousekeepingHooks,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.quotaTimer = setInterval(() => this.guard('quota', () => this.parts.quota.enforce()), this.opts.quotaCheckMs)
    this.parts.quota.enforce() // a store over its quota at start refuses at once
    this.schedule('retention', this.opts.retentionCron, () => this.purge())
    this.schedule('checkpoint', this.opts.checkpointCron, () => this.checkpoint())
    this.schedule('key-rotation', this.opts.keyRotationCron, () => this.rotateKeys(Date.now()))
    this.schedule('self-test', this.opts.selfTestCron, () => this.parts.selfTest.run())
    const p = this.parts.pseudonyms
    // Site epochs merged at start from pseudonyms.key_file (configuration management placed a new bundle).
    if (p.imported.length > 0) this.hooks.audit(AuditAction.KEY_IMPORT, `site key bundle merged from pseudonyms.key_file: epochs ${p.imported.join(', ')}`)
    this.epochInForce = p.currentEpoch.id
    this.guard('key-commands', () => this.parts.keyCommands?.poll())
    this.keyTimer = setInterval(() => {
      if (this.parts.pseudonyms.policy === 'site') this.guard('key-epoch', () => this.checkSiteEpoch(Date.now()))
      this.guard('key-commands', () => this.parts.keyCommands?.poll()) // `bedside-hub keys` run beside the agent
    }, 60_000)
  }

  /**
   * Policy site: audits the bundle's next epoch once it is in force (every gateway of the site
   * switches at the same instant; this notes it within a minute). Returns the epoch id when it changed.
   */
  checkSiteEpoch(nowMs: number): string | null {
    const p = this.parts.pseudonyms
    p.advance(nowMs)
    const e = p.epochAt(nowMs)
    if (e.id === this.epochInForce) return null
    const previous = this.epochInForce
    this.epochInForce = e.id
    this.hooks.audit(AuditAction.KEY_ROTATION, `pseudonym key epoch ${previous} → ${e.id} (site policy, in force since ${new Date(e.createdMs).toISOString()})`)
    this.log.info({ event: 'key_rotated', epoch: e.id, previous, policy: 'site' }, `pseudonym key epoch ${e.id} in force (site policy)`)
    return e.id
  }

  async stop(): Promise<void> {
    if (this.quotaTimer) clearInterval(this.quotaTimer)
    if (this.keyTimer) clearInterval(this.keyTimer)
    for (const t of this.tasks) await t.destroy()
    this.guard('flush', () => this.hooks.flush())
  }

  purge(): number {
    const n = this.parts.retention.purge(Date.now() - this.opts.retentionMs)
    if (n > 0) this.log.info({ event: 'retention', deleted: n }, `retention: deleted ${n} synced records older than ${Math.round(this.opts.retentionMs / 86_400_000)} d`)
    return n
  }

  checkpoint(): void {
    const r = this.parts.retention.checkpoint()
    if (r.busy) this.log.warn({ event: 'checkpoint_busy', walPages: r.walPages }, 'WAL checkpoint could not complete: a reader held it; retried at the next tick')
  }

  /**
   * The weekly key care: under policy gateway a new epoch key from now on; under policy site the
   * bundle's epochs (no gateway of a site rotates on its own). Then keys past retention (and past
   * the oldest unsynced record) are forgotten, and the data key rotates. Audited with the epoch
   * ids, never with key material.
   */
  rotateKeys(nowMs: number): void {
    const p = this.parts.pseudonyms
    if (p.policy === 'gateway') {
      const previous = p.currentEpoch.id
      const e = p.rotate(nowMs)
      this.epochInForce = e.id
      this.hooks.audit(AuditAction.KEY_ROTATION, `pseudonym key epoch ${previous} → ${e.id} (gateway policy)`)
      this.log.info({ event: 'key_rotated', epoch: e.id, previous, policy: 'gateway' }, `pseudonym key rotated: epoch ${e.id}`)
    } else {
      this.checkSiteEpoch(nowMs)
    }
    const oldestUnsynced = this.parts.outbox.oldestUnsyncedMs() ?? nowMs
    const dropped = p.prune(Math.min(nowMs - this.opts.retentionMs, oldestUnsynced))
    if (dropped.length > 0) {
      this.hooks.audit(AuditAction.KEY_ROTATION, `forgot pseudonym keys past retention: ${dropped.join(', ')}`)
      this.log.info({ event: 'keys_pruned', dropped }, `pseudonym keys past retention forgotten: ${dropped.join(', ')}`)
    }
    this.rotateDataKey(nowMs)
  }

  /** Issue 18: new data key, every sealed field re-encrypted under it, old keys dropped; audited by key ids only. */
  rotateDataKey(nowMs: number): void {
    if (!this.parts.rotateDataKey) return
    const r = this.parts.rotateDataKey(nowMs)
    const detail = `data key ${r.keyId}: ${r.resealedFields} fields re-encrypted${r.droppedKeyIds.length ? `; dropped data keys ${r.droppedKeyIds.join(', ')}` : ''}`
    this.hooks.audit(AuditAction.DATA_KEY_ROTATION, detail)
    this.log.info({ event: 'data_key_rotated', keyId: r.keyId, resealed: r.resealedFields, dropped: r.droppedKeyIds }, detail)
  }

  private schedule(name: string, expression: string, job: () => unknown): void {
    this.tasks.push(cron.schedule(expression, () => this.guard(name, job), { name: `bedside-${name}`, noOverlap: true }))
  }

  private guard(name: string, job: () => unknown): void {
    try {
      job()
    } catch (err) {
      this.log.error({ event: 'housekeeping_failed', job: name, err: (err as Error).message }, `housekeeping ${name} failed: ${(err as Error).message}`)
    }
  }
}
