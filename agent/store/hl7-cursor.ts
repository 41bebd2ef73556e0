/**
 * Where each HL7 output stands in `records` (table hl7_cursor, schema v7) and what its receivers
 * rejected (hl7_dead_letter). One cursor per destination: 'alarms', 'results/<bed>'. A cursor moves
 * only after the receiver answered AA (or AR, with the message set aside here), in the same
 * statement that makes it durable: a crash before the move re-sends the same message (the same
 * MSH-10), never skips one.
 */
import type { Db } from './db.js'

export class Hl7Cursors {
  private readonly getOne
  private readonly insertOne
  private readonly setOne
  private readonly deadInsert
  private readonly deadCount
  private readonly maxSeq

  constructor(private readonly db: Db) {
    this.getOne = db.prepare<[string], { hub_seq: number }>('SELECT hub_seq FROM hl7_cursor WHERE dest = ?')
    this.insertOne = db.prepare('INSERT OR IGNORE INTO hl7_cursor (dest, hub_seq) VALUES (?, ?)')
    this.setOne = db.prepare('UPDATE hl7_cursor SET hub_seq = ? WHERE dest = ? AND hub_seq < ?')
    this.deadInsert = db.prepare('INSERT OR IGNORE INTO hl7_dead_letter (dest, control_id, from_seq, to_seq, reason, at_ms) VALUES (?, ?, ?, ?, ?, ?)')
    this.deadCount = db.prepare<[string, string], { n: number }>('SELECT COUNT(*) AS n FROM hl7_dead_letter WHERE dest = ? OR dest LIKE ?')
    // The newest record's hub_seq: a run row's last (never a cursor inside a run).
    this.maxSeq = db.prepare<[], { s: number | null }>('SELECT hub_seq + n - 1 AS s FROM records ORDER BY hub_seq DESC LIMIT 1')
  }

  /**
   * The destination's cursor. A destination seen for the first time starts at the newest record:
   * configuring an output sends what happens from then on, not the ward's history.
   */
  get(dest: string): number {
    const row = this.getOne.get(dest)
    if (row) return row.hub_seq
    this.insertOne.run(dest, this.maxSeq.get()?.s ?? 0)
    return this.getOne.get(dest)!.hub_seq
  }

  /** The receiver acknowledged everything of `dest` up to `hubSeq`. Durable at return. */
  advance(dest: string, hubSeq: number): void {
    this.setOne.run(hubSeq, dest, hubSeq)
  }

  /** The receiver answered AR: set the message aside and move on, in one transaction. */
  reject(dest: string, controlId: string, fromSeq: number, toSeq: number, reason: string, atMs: number): void {
    this.db.transaction(() => {
      this.deadInsert.run(dest, controlId, fromSeq, toSeq, reason.slice(0, 500), atMs)
      this.setOne.run(toSeq, dest, toSeq)
    })()
  }

  /** Messages of a destination (a prefix: 'results' counts every bed) the receiver rejected. */
  rejected(dest: string): number {
    return this.deadCount.get(dest, `${dest}/%`)!.n
  }
}

export interface Hl7QueueEntry { readonly dest: string; readonly cursor: number; readonly waiting: number; readonly oldestMs: number | null; readonly rejected: number }

/** Per HL7 destination: its cursor, the records after it and the oldest, what the receiver rejected (for `bedside-hub queue`; read only). */
export function hl7QueueReport(db: Db): Hl7QueueEntry[] {
  const cursors = db.prepare('SELECT dest, hub_seq FROM hl7_cursor ORDER BY dest').all() as { dest: string; hub_seq: number }[]
  const alarms = db.prepare<[number], { n: number; oldest: number | null }>('SELECT COUNT(*) AS n, MIN(hub_time_ms) AS oldest FROM records WHERE kind = 3 AND hub_seq > ?')
  const results = db.prepare<[string, number], { n: number; oldest: number | null }>('SELECT COALESCE(SUM(n), 0) AS n, MIN(hub_time_ms) AS oldest FROM records WHERE bed_id = ? AND kind = 1 AND hub_seq > ?')
  const dead = db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM hl7_dead_letter WHERE dest = ?')
  return cursors.map((c) => {
    const w = c.dest === 'alarms' ? alarms.get(c.hub_seq)! : results.get(c.dest.slice('results/'.length), c.hub_seq)!
    return { dest: c.dest, cursor: c.hub_seq, waiting: w.n, oldestMs: w.oldest, rejected: dead.get(c.dest)!.n }
  })
}
