/**
 * The outbox: committed records not yet acknowledged by Kafka, read in hub_seq order.
 * The cursor (highest hub_seq Kafka acknowledged) moves only after `acks=all` succeeded;
 * a crash between send and cursor update re-sends, and consumers drop the duplicate by
 * (hub_id, hub_seq) (DESIGN.md, Delivery semantics).
 */
import type { Statement } from 'better-sqlite3'
import type { Db } from './db.js'
import { countRunItems, forEachRunItem, RunItemsError } from './run-items.js'

/**
 * One unsynced record as better-sqlite3 returns it in raw mode: an array in the column order of
 * `records`, read through the `Col` positions. Raw arrays instead of row objects double the read
 * rate (5000-row reads: 1.10 M against 0.53 M rows/s; objects were 12 % of the drain's CPU profile).
 */
export type OutboxRow = [
  hubSeq: number,
  kind: number,
  bedId: string | null,
  deviceId: string | null,
  admissionId: number | null,
  code: number | null,
  value: number | null,
  unit: string | null,
  deviceTimeMs: number | null,
  hubTimeMs: number,
  deviceSeq: number | null,
  quality: number | null,
  body: Buffer | null,
  t0Us: number | null,
  /** Schema v9: the records (hub_seqs) the row holds; > 1 only for a run row. */
  n?: number,
  /** A run row's packed observations (run-items.ts), else null. */
  items?: Buffer | null,
]

/** Positions of the columns in an `OutboxRow`. */
export const Col = {
  HUB_SEQ: 0,
  KIND: 1,
  BED_ID: 2,
  DEVICE_ID: 3,
  ADMISSION_ID: 4,
  CODE: 5,
  VALUE: 6,
  UNIT: 7,
  DEVICE_TIME_MS: 8,
  HUB_TIME_MS: 9,
  DEVICE_SEQ: 10,
  QUALITY: 11,
  BODY: 12,
  T0_US: 13,
  N: 14,
  ITEMS: 15,
} as const

/** Records (hub_seqs) a row holds: 1, or a run row's n. */
export function recordsOf(row: OutboxRow): number {
  return row[Col.N] ?? 1
}

/** The hub_seq of a row's last record (a run row covers hub_seq .. hub_seq + n - 1). */
export function lastSeqOf(row: OutboxRow): number {
  return row[Col.HUB_SEQ] + (row[Col.N] ?? 1) - 1
}

/**
 * Calls `each` with every record of `row` as a row of its own, in hub_seq order: the row itself,
 * or, for a run row, one row per packed item with its hub_seq and observation columns, the
 * rest (kind, bed, device, admission, hub time) the run's. What a reader sees is then what it saw
 * when the store held a row per observation. The item rows are one array reused between calls:
 * keep copies, not the array. Throws RunItemsError for a packed run this agent cannot read.
 */
export function forEachRecord(row: OutboxRow, each: (record: OutboxRow) => void): void {
  const items = row[Col.ITEMS]
  if (items === undefined || items === null) {
    each(row)
    return
  }
  const first = row[Col.HUB_SEQ]
  // Checked whole first: a reader acts on all of a run's records or, when it cannot be read, none.
  const count = countRunItems(items)
  if (count !== recordsOf(row)) throw new RunItemsError(`run row ${first} says ${recordsOf(row)} observations but packs ${count}`)
  const r: OutboxRow = [...row]
  r[Col.N] = 1
  r[Col.ITEMS] = null
  forEachRunItem(items, (item, i) => {
    r[Col.HUB_SEQ] = first + i
    r[Col.CODE] = item.code
    r[Col.VALUE] = item.value
    r[Col.UNIT] = item.unit
    r[Col.DEVICE_TIME_MS] = item.deviceTimeMs
    r[Col.DEVICE_SEQ] = item.deviceSeq
    r[Col.QUALITY] = item.quality
    each(r)
  })
}

export class Outbox {
  private readonly readAfter: Statement<[number, number, number], OutboxRow>
  private readonly setCursor: Statement<[number]>
  private readonly syncNormal: Statement
  private readonly syncFull: Statement
  private readonly countAfter: Statement<[number], { n: number }>
  private readonly oldestAfter: Statement<[number], { t: number | null }>
  private readonly anyAfter: Statement<[number, number], { one: number }>
  private readonly countByKind: Statement<[number], { kind: number; n: number; oldest: number }>
  private cursorSeq: number
  private inFlightSeq = 0
  /**
   * Unsynced records, kept as a running count: COUNT(*) over millions of rows after a long outage
   * would block the event loop on every gauge refresh. Counted once at open, then +commit −ack −shed.
   */
  private unsynced: number

  /**
   * `durableSeq`: the highest hub_seq that is fsynced (GroupCommitter.durableSeq). Rows above it are
   * committed but could still be lost to a power cut, and their hub_seqs then given to other
   * records: they must not reach Kafka before (wal-fsync.ts). Offline tools read a closed store.
   */
  constructor(db: Db, private readonly fsyncedUpTo: () => number = () => Number.MAX_SAFE_INTEGER) {
    this.readAfter = db.prepare<[number, number, number], OutboxRow>('SELECT hub_seq, kind, bed_id, device_id, admission_id, code, value, unit, device_time_ms, hub_time_ms, device_seq, quality, body, t0_us, n, items FROM records WHERE hub_seq > ? AND hub_seq <= ? ORDER BY hub_seq LIMIT ?').raw(true)
    this.setCursor = db.prepare('UPDATE sync_cursor SET hub_seq = ? WHERE id = 1')
    this.syncNormal = db.prepare('PRAGMA synchronous = NORMAL')
    this.syncFull = db.prepare('PRAGMA synchronous = FULL')
    this.countAfter = db.prepare('SELECT COALESCE(SUM(n), 0) AS n FROM records WHERE hub_seq > ?')
    this.oldestAfter = db.prepare('SELECT MIN(hub_time_ms) AS t FROM (SELECT hub_time_ms FROM records WHERE hub_seq > ? ORDER BY hub_seq LIMIT 1)')
    this.unsynced = 0
    this.anyAfter = db.prepare('SELECT 1 AS one FROM records WHERE hub_seq > ? AND hub_seq <= ? LIMIT 1')
    this.countByKind = db.prepare('SELECT kind, SUM(n) AS n, MIN(hub_time_ms) AS oldest FROM records WHERE hub_seq > ? GROUP BY kind')
    this.cursorSeq = (db.prepare('SELECT hub_seq FROM sync_cursor WHERE id = 1').get() as { hub_seq: number }).hub_seq
    this.unsynced = this.countAfter.get(this.cursorSeq)!.n
  }

  /** Highest fsynced hub_seq: rows above it are not read for Kafka, nor counted as unsynced yet. */
  get durableSeq(): number {
    return this.fsyncedUpTo()
  }

  /** Highest hub_seq that Kafka has acknowledged. */
  get cursor(): number {
    return this.cursorSeq
  }

  /**
   * Up to `limit` unsynced rows after `afterSeq` (default: the cursor), oldest first. A run row
   * holds several records (`recordsOf`, `forEachRecord`); `afterSeq` is always a row's last hub_seq
   * (the cursor moves to `lastSeqOf` a row), so no run is ever cut by the read.
   */
  read(limit: number, afterSeq = this.cursorSeq): OutboxRow[] {
    return this.readAfter.all(afterSeq, this.fsyncedUpTo(), limit)
  }

  /**
   * Records that Kafka acknowledged everything up to and including `hubSeq` (`records`: the
   * records, not rows, of the batch just sent; recounted when not given). `hubSeq` is the last
   * hub_seq of a row (`lastSeqOf`): a run is acknowledged whole or not at all.
   *
   * Committed without an fsync of its own (synchronous=NORMAL for this one statement): a cursor
   * lost to a power cut only re-sends what Kafka already has, which consumers drop by (hub_id,
   * hub_seq), the same as a crash between the send and this update. It becomes durable with the
   * next fsync of the WAL (a group commit's covers every WAL frame before it), and SQLite's
   * recovery never keeps a later frame without the earlier ones. An fsync per Kafka batch was
   * 180–620 µs of the event loop on this machine's disk (10–20 µs without; a gateway's eMMC takes
   * milliseconds), and as many fsyncs as the group commit itself on the 1-obs/message load.
   */
  advance(hubSeq: number, records?: number): void {
    if (hubSeq <= this.cursorSeq) return
    this.syncNormal.run()
    try {
      this.setCursor.run(hubSeq)
    } finally {
      this.syncFull.run()
    }
    this.cursorSeq = hubSeq
    this.unsynced = records === undefined ? this.countAfter.get(hubSeq)!.n : Math.max(0, this.unsynced - records)
  }

  /** At least one durable record waits for Kafka (one index probe, unlike a count). */
  hasUnsynced(): boolean {
    return this.anyAfter.get(this.cursorSeq, this.fsyncedUpTo()) !== undefined
  }

  /** `n` records were durably committed (GroupCommitter.onCommit). */
  committed(n: number): void {
    this.unsynced += n
  }

  /** `n` unsynced records were shed (store/quota.ts). */
  forget(n: number): void {
    this.unsynced = Math.max(0, this.unsynced - n)
  }

  /** The sync loop read everything up to `hubSeq` into a batch on its way to Kafka. */
  markInFlight(hubSeq: number): void {
    if (hubSeq > this.inFlightSeq) this.inFlightSeq = hubSeq
  }

  /** The batch in flight was acknowledged (cursor moved) or failed (it will be read again). */
  clearInFlight(): void {
    this.inFlightSeq = 0
  }

  /** Highest hub_seq that may already be in Kafka (acknowledged or in flight): never shed at or below it. */
  get sentUpTo(): number {
    return Math.max(this.cursorSeq, this.inFlightSeq)
  }

  /** Unsynced records per kind with the hub time of each kind's oldest (for `bedside-hub queue`). */
  depthByKind(): { kind: number; n: number; oldestMs: number }[] {
    return this.countByKind.all(this.cursorSeq).map((r) => ({ kind: r.kind, n: r.n, oldestMs: r.oldest }))
  }

  depth(): number {
    return this.unsynced
  }

  /** Hub receive time of the oldest unsynced record, or null when the outbox is empty. */
  oldestUnsyncedMs(): number | null {
    return this.oldestAfter.get(this.cursorSeq)!.t
  }
}
