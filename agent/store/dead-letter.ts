/**
 * The local dead-letter: records the sync path can never turn into an Envelope (a body that does
 * not parse, an unknown kind). Without it one such row would stop replication for ever: the loop
 * would re-read the same cursor and fail again. Instead the row is set aside here (it stays in
 * `records` for audit), counted, audited, shown by `bedside-hub queue`, and the cursor moves on.
 * The group commit sets aside here too (reason `store-rejected`, commit.ts): a record the store
 * refused, which is not in `records`; its detail holds every column of it.
 */
import type { Db } from './db.js'

export interface DeadLetterEntry {
  readonly hubSeq: number
  readonly kind: number
  readonly reason: string
  readonly detail: string
}

export class LocalDeadLetter {
  private readonly insert
  private readonly countAll

  constructor(db: Db) {
    this.insert = db.prepare('INSERT OR IGNORE INTO dead_letter (hub_seq, kind, reason, detail, at_ms) VALUES (?, ?, ?, ?, ?)')
    this.countAll = db.prepare('SELECT COUNT(*) AS n FROM dead_letter')
  }

  /** Records set-aside rows; true for each that was not there already (a re-read after a crash). */
  add(entries: readonly DeadLetterEntry[], atMs: number): DeadLetterEntry[] {
    const fresh: DeadLetterEntry[] = []
    for (const e of entries) if (this.insert.run(e.hubSeq, e.kind, e.reason, e.detail.slice(0, 500), atMs).changes > 0) fresh.push(e)
    return fresh
  }

  get count(): number {
    return (this.countAll.get() as { n: number }).n
  }
}

/** Per reason, with the newest entry: for `bedside-hub queue`. */
export function deadLetterReport(db: Db): { reason: string; n: number; lastHubSeq: number; lastAtMs: number }[] {
  return db.prepare('SELECT reason, COUNT(*) AS n, MAX(hub_seq) AS lastHubSeq, MAX(at_ms) AS lastAtMs FROM dead_letter GROUP BY reason ORDER BY reason').all() as { reason: string; n: number; lastHubSeq: number; lastAtMs: number }[]
}
