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

/** A row: its first hub_seq, its last (a run row covers seq .. last), its bytes. */
interface Candidate { seq: number; last: number; bytes: number }
/** n rows from lo to hi (first hub_seqs); last: the last hub_seq they cover. */
interface Pick { n: number; lo: number; hi: number; last: number }

/** The shortest oldest-first prefix of `rows` worth at least `bytes` (all of them if less). */
function take(rows: readonly Candidate[], bytes: number): Pick {
  let sum = 0
  let n = 0
  while (n < rows.length && sum < bytes) sum += rows[n++]!.bytes
  return n === 0 ? { n: 0, lo: 0, hi: 0, last: 0 } : { n, lo: rows[0]!.seq, hi: rows[n - 1]!.seq, last: rows[n - 1]!.last }
}

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
  private readonly synced: Statement<[number, number], Candidate>
  private readonly deleteSynced: Statement<[number, number]>
  private readonly waves: Statement<[number, number, number], Candidate>
  private readonly deleteWaves: Statement<[number, number]>
  private readonly maxSeq: Statement<[], { m: number | null }>
  /** No unsynced waveform at or below this hub_seq: later passes start above it instead of rescanning millions of numerics. */
  private noWavesUpTo = 0

  constructor(private readonly db: Db, private readonly outbox: Outbox, private readonly quotaBytes: number, private readonly hooks: QuotaHooks, private readonly resumeFraction = 0.9) {
    this.meta = new Meta(db)
    this.pageCount = db.prepare('SELECT page_count AS n FROM pragma_page_count()')
    this.freePages = db.prepare('SELECT freelist_count AS n FROM pragma_freelist_count()')
    this.pageSize = db.pragma('page_size', { simple: true }) as number
    // Row cost ≈ its blobs (a run row's packed items too) + ~64 bytes of columns and b-tree
    // overhead: enough to pick how many to delete. The cursor is always a row's last hub_seq
    // (outbox.ts), so a run row at or below it is acknowledged whole.
    this.synced = db.prepare('SELECT hub_seq AS seq, hub_seq + n - 1 AS last, COALESCE(length(body), 0) + COALESCE(length(items), 0) + 64 AS bytes FROM records WHERE hub_seq <= ? ORDER BY hub_seq LIMIT ?')
    this.deleteSynced = db.prepare('DELETE FROM records WHERE hub_seq BETWEEN ? AND ?')
    this.waves = db.prepare(`SELECT hub_seq AS seq, hub_seq AS last, COALESCE(length(body), 0) + 64 AS bytes FROM records WHERE hub_seq > ? AND hub_seq <= ? AND kind = ${RecordKind.WAVEFORM} ORDER BY hub_seq LIMIT ?`)
    this.deleteWaves = db.prepare(`DELETE FROM records WHERE hub_seq > ? AND hub_seq <= ? AND kind = ${RecordKind.WAVEFORM}`)
    this.maxSeq = db.prepare('SELECT MAX(hub_seq) AS m FROM records')
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
    // Acknowledged records are safe in the cloud: free down to the resume mark, so the alarm can end.
    const low = this.quotaBytes * this.resumeFraction
    while (pass.usedBytes > low && this.deleteSyncedChunk(pass.usedBytes - low)) {
      pass.deletedSynced++
      pass.usedBytes = this.usedBytes()
    }
    let lo = 0
    let hi = 0
    while (pass.usedBytes > this.quotaBytes) {
      const r = this.shedChunk(pass.usedBytes - this.quotaBytes)
      if (r.n === 0) break
      if (lo === 0) lo = r.lo
      hi = r.hi
      pass.shed += r.n
      pass.usedBytes = this.usedBytes()
    }
    if (pass.shed > 0) this.hooks.shed(pass.shed, lo, hi, pass.usedBytes)
    if (pass.shed > 0 || pass.usedBytes > this.quotaBytes) this.beginCondition(pass)
    this.refusingNow = pass.usedBytes > this.quotaBytes
    pass.refusing = this.refusingNow
    return pass
  }

  /** Deletes the oldest acknowledged records worth about `overBytes`; the hub_seq floor keeps hub_seq from being reused. */
  private deleteSyncedChunk(overBytes: number): boolean {
    return this.db.transaction(() => {
      const pick = take(this.synced.all(this.outbox.cursor, CHUNK), overBytes)
      if (pick.n === 0) return false
      this.deleteSynced.run(pick.lo, pick.hi)
      // The last hub_seq of the last row deleted: a run's end, so none of its hub_seqs is given again.
      this.meta.raise(MetaKey.HUB_SEQ_FLOOR, pick.last)
      return true
    })()
  }

  /** Sheds the oldest unsynced waveform chunks worth about `overBytes`, never one already on its way to Kafka. */
  private shedChunk(overBytes: number): Pick {
    const pick = this.shedTx(overBytes)
    this.outbox.forget(pick.n) // after the commit: a rolled-back pass sheds nothing
    return pick
  }

  private shedTx(overBytes: number): Pick {
    return this.db.transaction(() => {
      const after = Math.max(this.outbox.sentUpTo, this.noWavesUpTo)
      // The marker may only grow over a range scanned from its start: not past a batch in flight,
      // whose waveforms become sheddable again if its send fails.
      const contiguous = this.outbox.sentUpTo <= Math.max(this.outbox.cursor, this.noWavesUpTo)
      // Half the estimate per step: a chunk may free a whole page of its own, and the loop re-measures.
      // Only fsynced rows (outbox.durableSeq): a batch still syncing is not yet counted as unsynced.
      const durable = this.outbox.durableSeq
      const pick = take(this.waves.all(after, durable, CHUNK), overBytes / 2)
      if (pick.n === 0) {
        if (contiguous) this.noWavesUpTo = Math.min(this.maxSeq.get()!.m ?? 0, durable)
        return pick
      }
      if (contiguous) this.noWavesUpTo = pick.hi
      this.deleteWaves.run(after, pick.hi)
      this.meta.raise(MetaKey.HUB_SEQ_FLOOR, pick.hi)
      this.meta.add(MetaKey.SHED_WAVEFORMS, pick.n)
      this.meta.set(MetaKey.LAST_SHED, JSON.stringify({ atMs: Date.now(), count: pick.n, fromSeq: pick.lo, toSeq: pick.hi }))
      return pick
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
