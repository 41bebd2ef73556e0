/**
 * The disk quota of the store (DESIGN.md, Delivery semantics). Over the quota, in this order:
 *  1. records Kafka already acknowledged are deleted, oldest first (retention brought forward:
 *     they are safe in the cloud);
 *  2. unsynced waveform chunks are shed, oldest first; each is counted (meta + /metrics), and each
 *     pass is audited and raises the queue-over-quota technical alarm;
 *  3. if numerics, alarms and audit events alone exceed the quota, nothing of them is shed: new
 *     non-alarm input is refused (`refusing`) and alarming continues.
 * The alarm clears, and refusal stops, once usage is back under `resumeFraction` of the quota.
 *
 * Usage is the database's live pages ((page_count − freelist_count) × page_size): deleted rows free
 * pages that new records reuse, so the file stays near its high-water mark but does not grow past
 * the quota. The WAL is excluded: it is bounded by wal_autocheckpoint and the periodic checkpoint.
 */
import type { Statement } from 'better-sqlite3'
import type { Db } from './db.js'
import { RecordKind } from './commit.js'
import { Meta, MetaKey } from './meta.js'
import type { Outbox } from './outbox.js'

export interface QuotaHooks {
  /** A pass shed `count` waveform chunks with hub_seq in [fromSeq, toSeq]. */
  shed(count: number, fromSeq: number, toSeq: number, usedBytes: number): void
  /** The quota condition began (true) or ended (false); `detail` says why. */
  condition(active: boolean, detail: string): void
}

export interface QuotaPass { usedBytes: number; deletedSynced: number; shed: number; refusing: boolean }

const CHUNK = 2000

/** Bytes of the database's live pages (what the quota counts). */
export function storeUsedBytes(db: Db): number {
  const pages = db.pragma('page_count', { simple: true }) as number
  const free = db.pragma('freelist_count', { simple: true }) as number
  return (pages - free) * (db.pragma('page_size', { simple: true }) as number)
}

export class StoreQuota {
  private refusingNow = false
  private over = false
  private readonly meta: Meta
  private readonly pageCount: Statement<[], { n: number }>
  private readonly freePages: Statement<[], { n: number }>
  private readonly pageSize: number
  private readonly syncedRange: Statement<[number, number], { lo: number | null; hi: number | null; n: number }>
  private readonly deleteRange: Statement<[number, number]>
  private readonly shedRange: Statement<[number, number], { lo: number | null; hi: number | null; n: number }>
  private readonly deleteWaves: Statement<[number, number]>

  constructor(private readonly db: Db, private readonly outbox: Outbox, private readonly quotaBytes: number, private readonly hooks: QuotaHooks, private readonly resumeFraction = 0.9) {
    this.meta = new Meta(db)
    this.pageCount = db.prepare('SELECT page_count AS n FROM pragma_page_count()')
    this.freePages = db.prepare('SELECT freelist_count AS n FROM pragma_freelist_count()')
    this.pageSize = db.pragma('page_size', { simple: true }) as number
    this.syncedRange = db.prepare('SELECT MIN(hub_seq) AS lo, MAX(hub_seq) AS hi, COUNT(*) AS n FROM (SELECT hub_seq FROM records WHERE hub_seq <= ? ORDER BY hub_seq LIMIT ?)')
    this.deleteRange = db.prepare('DELETE FROM records WHERE hub_seq BETWEEN ? AND ?')
    const waves = `SELECT hub_seq FROM records WHERE hub_seq > ? AND kind = ${RecordKind.WAVEFORM} ORDER BY hub_seq LIMIT ?`
    this.shedRange = db.prepare(`SELECT MIN(hub_seq) AS lo, MAX(hub_seq) AS hi, COUNT(*) AS n FROM (${waves})`)
    this.deleteWaves = db.prepare(`DELETE FROM records WHERE hub_seq IN (${waves})`)
  }

  get limitBytes(): number {
    return this.quotaBytes
  }

  /** True while new non-alarm input must be refused (step 3). Read on the ingest path. */
  get refusing(): boolean {
    return this.refusingNow
  }

  usedBytes(): number {
    return (this.pageCount.get()!.n - this.freePages.get()!.n) * this.pageSize
  }

  /** One pass of the policy above; cheap when under the quota (two pragmas). */
  enforce(): QuotaPass {
    const pass: QuotaPass = { usedBytes: this.usedBytes(), deletedSynced: 0, shed: 0, refusing: this.refusingNow }
    if (pass.usedBytes <= this.quotaBytes) {
      if (this.over && pass.usedBytes < this.quotaBytes * this.resumeFraction) this.endCondition(pass.usedBytes)
      return pass
    }
    while (pass.usedBytes > this.quotaBytes && this.deleteSyncedChunk()) {
      pass.deletedSynced++
      pass.usedBytes = this.usedBytes()
    }
    let lo = 0
    let hi = 0
    while (pass.usedBytes > this.quotaBytes) {
      const r = this.shedChunk()
      if (r.n === 0) break
      if (lo === 0) lo = r.lo!
      hi = r.hi!
      pass.shed += r.n
      pass.usedBytes = this.usedBytes()
    }
    if (pass.shed > 0) this.hooks.shed(pass.shed, lo, hi, pass.usedBytes)
    if (pass.shed > 0 || pass.usedBytes > this.quotaBytes) this.beginCondition(pass)
    this.refusingNow = pass.usedBytes > this.quotaBytes
    pass.refusing = this.refusingNow
    return pass
  }

  /** Deletes up to CHUNK acknowledged records; the hub_seq floor keeps hub_seq from being reused. */
  private deleteSyncedChunk(): boolean {
    return this.db.transaction(() => {
      const r = this.syncedRange.get(this.outbox.cursor, CHUNK)!
      if (r.n === 0) return false
      this.deleteRange.run(r.lo!, r.hi!)
      this.meta.raise(MetaKey.HUB_SEQ_FLOOR, r.hi!)
      return true
    })()
  }

  /** Sheds up to CHUNK unsynced waveform chunks that are not already on their way to Kafka. */
  private shedChunk(): { lo: number | null; hi: number | null; n: number } {
    return this.db.transaction(() => {
      const after = this.outbox.sentUpTo
      const r = this.shedRange.get(after, CHUNK)!
      if (r.n === 0) return r
      this.deleteWaves.run(after, CHUNK)
      this.meta.raise(MetaKey.HUB_SEQ_FLOOR, r.hi!)
      this.meta.add(MetaKey.SHED_WAVEFORMS, r.n)
      this.meta.set(MetaKey.LAST_SHED, JSON.stringify({ atMs: Date.now(), count: r.n, fromSeq: r.lo, toSeq: r.hi }))
      return r
    })()
  }

  private beginCondition(pass: QuotaPass): void {
    const mb = (b: number) => (b / 1048576).toFixed(1)
    const detail = pass.usedBytes > this.quotaBytes
      ? `store ${mb(pass.usedBytes)} MB over quota ${mb(this.quotaBytes)} MB with only numerics, alarms and audit left: non-alarm input refused`
      : `store at quota ${mb(this.quotaBytes)} MB: shedding oldest unsynced waveforms`
    if (!this.over || pass.usedBytes > this.quotaBytes !== this.refusingNow) this.hooks.condition(true, detail)
    this.over = true
  }

  private endCondition(usedBytes: number): void {
    this.over = false
    this.refusingNow = false
    this.hooks.condition(false, `store back under quota (${(usedBytes / 1048576).toFixed(1)} MB)`)
  }
}
