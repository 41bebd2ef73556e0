/**
 * Retention and checkpointing of the store. Only records Kafka has acknowledged (hub_seq ≤ cursor)
 * are ever deleted here; unsynced records stay however old they are (quota.ts decides what goes
 * when the disk is short). Deletion is chunked so that one pass never holds the write lock long
 * enough to delay a group commit noticeably.
 */
import type { Statement } from 'better-sqlite3'
import type { Db } from './db.js'
import { Meta, MetaKey } from './meta.js'
import type { Outbox } from './outbox.js'

const CHUNK = 5000

export class Retention {
  private readonly meta: Meta
  private readonly range: Statement<[number, number, number], { lo: number | null; hi: number | null; last: number | null; n: number; records: number | null }>
  private readonly del: Statement<[number, number, number]>

  constructor(private readonly db: Db, private readonly outbox: Outbox) {
    this.meta = new Meta(db)
    // A run row below the cursor is acknowledged whole (the cursor is a row's last hub_seq, outbox.ts).
    this.range = db.prepare('SELECT MIN(hub_seq) AS lo, MAX(hub_seq) AS hi, MAX(hub_seq + n - 1) AS last, COUNT(*) AS n, SUM(n) AS records FROM (SELECT hub_seq, n FROM records WHERE hub_seq <= ? AND hub_time_ms < ? ORDER BY hub_seq LIMIT ?)')
    this.del = db.prepare('DELETE FROM records WHERE hub_seq BETWEEN ? AND ? AND hub_time_ms < ?')
  }

  /** Deletes acknowledged records received before `beforeMs`; returns how many (a run row counts its n). */
  purge(beforeMs: number): number {
    let total = 0
    for (;;) {
      const r = this.db.transaction(() => {
        const r = this.range.get(this.outbox.cursor, beforeMs, CHUNK)!
        if (r.n === 0) return r
        // Exactly the selected rows: [lo, hi] may hold a newer row after a clock step.
        this.del.run(r.lo!, r.hi!, beforeMs)
        // The last hub_seq the rows covered (a run's end), so none of them is given again.
        this.meta.raise(MetaKey.HUB_SEQ_FLOOR, r.last!)
        return r
      })()
      total += r.records ?? 0
      if (r.n < CHUNK) return total
    }
  }

  /** Copies the WAL into the database and truncates it; returns false if a reader kept it busy. */
  checkpoint(): { busy: boolean; walPages: number } {
    const r = this.db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number; log: number; checkpointed: number }[]
    return { busy: r[0]!.busy !== 0, walPages: r[0]!.log }
  }
}
