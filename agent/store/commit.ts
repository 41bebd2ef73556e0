/**
 * Group commit: records accepted from any source are appended to one pending batch; the batch is
 * written in one SQLite transaction when it reaches `maxRecords` or `intervalMs` after its first
 * record, whichever comes first. One fsync then covers the whole batch (synchronous=FULL, db.ts).
 *
 * Acknowledgements (MQTT PUBACK, HTTP 2xx) wait for `whenCommitted`: accepted means durable.
 * If a commit fails (disk full, I/O error) its waiters get the error, nothing of the batch is
 * acknowledged, and the records are not retried here: the sender still holds them (MQTT QoS 1
 * re-sends an unacknowledged PUBLISH).
 */
import type { Statement } from 'better-sqlite3'
import type { Db } from './db.js'

export const RecordKind = { OBSERVATION: 1, WAVEFORM: 2, ALARM: 3, AUDIT: 4 } as const
export type RecordKindCode = (typeof RecordKind)[keyof typeof RecordKind]

/** One row of `records`, in column order; reused arrays would save little next to SQLite's own cost. */
export interface PendingRow {
  hubSeq: number
  kind: RecordKindCode
  bedId: string | null
  deviceId: string | null
  admissionId: number | null
  code: number | null
  value: number | null
  unit: string | null
  deviceTimeMs: number | null
  hubTimeMs: number
  deviceSeq: number | null
  quality: number | null
  body: Buffer | null
}

export interface CommitStats {
  /** Called after each successful commit with its size and wall time. */
  onCommit?(records: number, seconds: number): void
  onError?(err: Error, records: number): void
}

type Waiter = (err: Error | null) => void

export class GroupCommitter {
  private pending: PendingRow[] = []
  private waiters: Waiter[] = []
  private timer: NodeJS.Timeout | null = null
  private nextSeq: number
  private readonly insert: Statement
  private readonly writeBatch: (rows: PendingRow[]) => void
  private closed = false

  constructor(
    db: Db,
    private readonly opts: { intervalMs: number; maxRecords: number },
    private readonly stats: CommitStats = {},
  ) {
    this.insert = db.prepare(
      'INSERT INTO records (hub_seq, kind, bed_id, device_id, admission_id, code, value, unit, device_time_ms, hub_time_ms, device_seq, quality, body) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)',
    )
    this.writeBatch = db.transaction((rows: PendingRow[]) => {
      const ins = this.insert
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i]!
        ins.run(r.hubSeq, r.kind, r.bedId, r.deviceId, r.admissionId, r.code, r.value, r.unit, r.deviceTimeMs, r.hubTimeMs, r.deviceSeq, r.quality, r.body)
      }
    })
    this.nextSeq = initialHubSeq(db)
  }

  /** The hub_seq the next appended row will get. */
  get peekHubSeq(): number {
    return this.nextSeq
  }

  /** Queues a row for the next group commit and returns its hub_seq. */
  append(row: Omit<PendingRow, 'hubSeq'> & { hubSeq?: number }): number {
    if (this.closed) throw new Error('BEDSIDE_ERR_STORE_CLOSED: the store is closed')
    const seq = this.nextSeq++
    row.hubSeq = seq
    this.pending.push(row as PendingRow)
    if (this.pending.length >= this.opts.maxRecords) this.flush()
    else if (this.timer === null) this.timer = setTimeout(this.onTimer, this.opts.intervalMs)
    return seq
  }

  /** Calls `cb` once everything appended so far is durable (or failed). */
  whenCommitted(cb: Waiter): void {
    if (this.pending.length === 0) {
      queueMicrotask(() => cb(null))
      return
    }
    this.waiters.push(cb)
  }

  get pendingCount(): number {
    return this.pending.length
  }

  private readonly onTimer = (): void => {
    this.timer = null
    this.flush()
  }

  /** Commits the pending batch now (synchronously). */
  flush(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer)
      this.timer = null
    }
    if (this.pending.length === 0) return
    const rows = this.pending
    const waiters = this.waiters
    this.pending = []
    this.waiters = []
    const t0 = process.hrtime.bigint()
    let failure: Error | null = null
    try {
      this.writeBatch(rows)
    } catch (err) {
      failure = err as Error
      this.stats.onError?.(failure, rows.length)
    }
    if (!failure) this.stats.onCommit?.(rows.length, Number(process.hrtime.bigint() - t0) / 1e9)
    for (let i = 0; i < waiters.length; i++) waiters[i]!(failure)
  }

  /** Commits what is pending and refuses further appends. */
  close(): void {
    this.flush()
    this.closed = true
  }
}

/** Next hub_seq: above every row ever written, even if retention deleted them (meta.hub_seq_floor). */
function initialHubSeq(db: Db): number {
  const maxRow = db.prepare('SELECT COALESCE(MAX(hub_seq), 0) AS m FROM records').get() as { m: number }
  const floor = db.prepare("SELECT value FROM meta WHERE key = 'hub_seq_floor'").get() as { value: string } | undefined
  return Math.max(maxRow.m, floor ? Number(floor.value) : 0) + 1
}
