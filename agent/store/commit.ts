/**
 * Group commit: records accepted from any source are appended to one pending batch; the batch is
 * written in one SQLite transaction when it reaches `maxRecords` or `intervalMs` after its first
 * record, whichever comes first. One fsync then covers the whole batch (synchronous=FULL, db.ts).
 *
 * Acknowledgements (MQTT PUBACK, HTTP 2xx) wait for `whenCommitted`: accepted means durable.
 * With `fsync: 'background'` (the default) the fsync runs on a pool thread after COMMIT returns
 * (wal-fsync.ts) and `whenCommitted` waits for it; `durableSeq` bounds what may leave the gateway.
 * If a commit fails (disk full, I/O error) its waiters get the error, nothing of the batch is
 * acknowledged, and the records are not retried here: the sender still holds them (MQTT QoS 1
 * re-sends an unacknowledged PUBLISH). A record the store itself refuses (a value its column's
 * type or constraint does not take) fails only itself: it is set aside in the local dead-letter,
 * whole, in the same transaction as the rest of the batch (see `writeIsolated`).
 */
import type { Statement } from 'better-sqlite3'
import type { Db } from './db.js'
import { Meta, MetaKey } from './meta.js'
import { packRunColumns, type RunColumns } from './run-items.js'
import { syncWalAtOpen, WalFsync, type CommitFsyncMode, type FsyncFn } from './wal-fsync.js'

/**
 * How the group commit stores a sender message's observations (config `store.observation_runs`):
 * 'off', a row each (as before v9); 'per-message', one run row per stretch of one subject (issue 23).
 */
export type ObservationRunsMode = 'off' | 'per-message'

export const RecordKind = { OBSERVATION: 1, WAVEFORM: 2, ALARM: 3, AUDIT: 4 } as const
export type RecordKindCode = (typeof RecordKind)[keyof typeof RecordKind]

/** One row of `records`, in column order (the cold paths' shape; see `appendRecord` for the hot one). */
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
  /** Waveforms: device time of sample 0 in µs (exact; deviceTimeMs is its floor). */
  t0Us?: number | null
}

export interface CommitStats {
  /** Called after each successful commit with its size and wall time. */
  onCommit?(records: number, seconds: number): void
  onError?(err: Error, records: number): void
  /** Records of a batch the store refused, kept in the local dead-letter instead: called (in a microtask) once the batch committed. */
  onSetAside?(records: readonly SetAsideRecord[]): void
  /** The WAL's fsync failed: no batch is made durable any more (wal-fsync.ts); the agent must stop. */
  onFatal?(err: Error): void
}

type Waiter = (err: Error | null) => void

/** A row the store refused: its hub_seqs (`records` of them from `hubSeq`) are in `dead_letter`. */
export interface SetAsideRecord {
  readonly hubSeq: number
  readonly records: number
  readonly kind: number
  /** The error's code (SQLITE_CONSTRAINT_DATATYPE, TypeError, …): a bounded label. */
  readonly code: string
  readonly message: string
}

/** The dead_letter reason of a record the store refused (beside the sync's SyncRejectReason). */
export const STORE_REJECTED = 'store-rejected'

/** Rows written in the same transaction as each batch of records (the redelivery window). */
export interface BatchCompanion {
  /** Inside the batch's transaction, after its records. A throw rolls the whole batch back. */
  write(): void
  /** After the transaction: `ok` when it committed, false when it was rolled back. */
  settled(ok: boolean): void
}

/**
 * The pending batch is held in columns sized for `maxRecords`, filled in place: no object per
 * record. Row objects that wait for the commit live long enough to survive V8's scavenges; under
 * MQTT ingest at 400k observations/s with 4 MB semi-spaces they were 73 of the 79 MB promoted to
 * the old generation (sampling heap profile of promoted allocations, 2026-11-26), which made the
 * scavenges and mark-compacts that set the alarm latency's tail. Nullable numbers are NaN for NULL.
 */
export class GroupCommitter {
  private count = 0
  private capacity: number
  private kind: Uint8Array
  private readonly bedId: (string | null)[]
  private readonly deviceId: (string | null)[]
  private readonly unit: (string | null)[]
  private readonly body: (Buffer | null)[]
  private admissionId: Float64Array
  private code: Float64Array
  private value: Float64Array
  private deviceTimeMs: Float64Array
  private hubTimeMs: Float64Array
  private deviceSeq: Float64Array
  private quality: Float64Array
  private t0Us: Float64Array
  /** Records (hub_seqs) per pending row: 1, or a run's length (appendRun). */
  private runN: Uint32Array
  /** A run row's packed observations (run-items.ts), else null. */
  private readonly items: (Buffer | null)[]
  /** Records in the pending batch: Σ runN over its rows (what the commit makes durable). */
  private records = 0
  /** Run rows (n > 1 or packed) in the pending batch: the batch then binds the v9 columns. */
  private runRows = 0
  /** Open `hold`s: while > 0 no size-triggered commit splits the batch. */
  private holds = 0
  /**
   * The sender message each pending record came in (its `hold`; 0: appended outside one). With
   * `runs: 'per-message'` a message's consecutive observations of one subject are written as one
   * run row (coalesce); records of different messages never share a row.
   */
  private msg: Uint32Array
  private msgGen = 0
  private readonly companions: BatchCompanion[] = []
  /** The last failed batches (hub_seq ranges), for `durableFrom` callers whose records were in one. */
  private readonly failures: { from: number; to: number; error: Error }[] = []
  private waiters: Waiter[] = []
  /** fsync off the event loop (wal-fsync.ts), or null: FULL's fsync inside COMMIT. */
  private readonly wal: WalFsync | null
  private readonly syncNormal: { run(): unknown } | null = null
  private readonly syncFull: { run(): unknown } | null = null
  /** Every hub_seq up to here is durable (fsynced) or was in a batch that failed. */
  private durable: number
  /** Committed batches waiting for their fsync: last hub_seq, records, commit start (for onCommit). */
  private readonly unsyncedBatches: { last: number; records: number; t0: bigint }[] = []
  /** Waiters for those batches, with the hub_seq each waits for (non-decreasing). */
  private syncWaiterSeq: number[] = []
  private syncWaiters: Waiter[] = []
  /** The fsync failed: every later batch fails with this (see wal-fsync.ts on why it is final). */
  private broken: Error | null = null
  private timer: NodeJS.Timeout | null = null
  private nextSeq: number
  private readonly writeBatch: (firstSeq: number, n: number) => void
  /** `writeBatch` a row at a time, setting aside the rows the store refuses (see flush). */
  private readonly writeIsolated: (firstSeq: number, n: number) => SetAsideRecord[]
  private closed = false

  constructor(
    db: Db,
    private readonly opts: { intervalMs: number; maxRecords: number; rowsPerInsert?: number; runs?: ObservationRunsMode; fsync?: CommitFsyncMode; fsyncFn?: FsyncFn },
    private readonly stats: CommitStats = {},
  ) {
    const cap = (this.capacity = opts.maxRecords)
    this.kind = new Uint8Array(cap)
    this.bedId = new Array<string | null>(cap).fill(null)
    this.deviceId = new Array<string | null>(cap).fill(null)
    this.unit = new Array<string | null>(cap).fill(null)
    this.body = new Array<Buffer | null>(cap).fill(null)
    this.admissionId = new Float64Array(cap)
    this.code = new Float64Array(cap)
    this.value = new Float64Array(cap)
    this.deviceTimeMs = new Float64Array(cap)
    this.hubTimeMs = new Float64Array(cap)
    this.deviceSeq = new Float64Array(cap)
    this.quality = new Float64Array(cap)
    this.t0Us = new Float64Array(cap)
    this.runN = new Uint32Array(cap)
    this.msg = new Uint32Array(cap)
    this.items = new Array<Buffer | null>(cap).fill(null)
    const k = opts.rowsPerInsert ?? ROWS_PER_INSERT
    // Two shapes of statement: batches without run rows bind the 14 columns they always had (the
    // v9 columns take their defaults); a batch with a run row binds all 16 for every row. (The
    // wider table costs single rows 0.06-0.1 CPU µs each either way: BENCHMARKS.md, issue 23.)
    const narrow = { one: db.prepare(insertSql(1, COLUMNS)), rows: db.prepare(insertSql(k, COLUMNS)), width: COLUMNS }
    const wide = { one: db.prepare(insertSql(1, RUN_COLUMNS)), rows: db.prepare(insertSql(k, RUN_COLUMNS)), width: RUN_COLUMNS }
    const args: unknown[] = new Array<unknown>(k * RUN_COLUMNS).fill(null)
    const one: unknown[] = new Array<unknown>(RUN_COLUMNS).fill(null)
    const narrowArgs = args.slice(0, k * COLUMNS)
    const narrowOne = one.slice(0, COLUMNS)
    // Rows take consecutive hub_seqs, a run row as many as it holds records.
    this.writeBatch = db.transaction((firstSeq: number, n: number) => {
      const s = this.runRows > 0 ? wide : narrow
      const a = this.runRows > 0 ? args : narrowArgs
      const o = this.runRows > 0 ? one : narrowOne
      let seq = firstSeq
      let i = 0
      for (; i + k <= n; i += k) {
        for (let j = 0; j < k; j++) seq += this.bindRow(a, j * s.width, seq, i + j, s === wide)
        s.rows.run(a)
      }
      for (; i < n; i++) {
        seq += this.bindRow(o, 0, seq, i, s === wide)
        s.one.run(o)
      }
      // Keep no strings or bodies of the batch alive until the next one.
      a.fill(null)
      o.fill(null)
      for (let c = 0; c < this.companions.length; c++) this.companions[c]!.write()
    })
    // Nested in writeIsolated's transaction, better-sqlite3 runs this one as a SAVEPOINT: a row
    // that throws is rolled back alone.
    const insertRow = db.transaction((stmt: Statement, rowArgs: unknown[]) => stmt.run(rowArgs))
    const setAside = db.prepare('INSERT INTO dead_letter (hub_seq, kind, reason, detail, at_ms) VALUES (?, ?, ?, ?, ?)')
    const meta = new Meta(db)
    this.writeIsolated = db.transaction((firstSeq: number, n: number) => {
      const s = this.runRows > 0 ? wide : narrow
      const o = this.runRows > 0 ? one : narrowOne
      const refused: SetAsideRecord[] = []
      let seq = firstSeq
      for (let i = 0; i < n; i++) {
        const hubSeq = seq
        const records = this.bindRow(o, 0, seq, i, s === wide)
        seq += records
        try {
          insertRow(s.one, o)
        } catch (err) {
          if (!isRecordError(err)) throw err
          const e = err as Error & { code?: string }
          const code = typeof e.code === 'string' ? e.code : e.name
          setAside.run(hubSeq, this.kind[i]!, STORE_REJECTED, rowDetail(o, s.width, code, e.message), Date.now())
          refused.push({ hubSeq, records, kind: this.kind[i]!, code, message: e.message })
        }
      }
      o.fill(null)
      // Every row refused is a fault of the statement or the schema, not of the records: fail the
      // batch whole (nothing acknowledged, the senders keep their data) rather than set it all aside.
      if (refused.length === n && n > 1) throw new Error(`BEDSIDE_ERR_STORE_REFUSED: every row of a group commit was refused (${refused[0]!.code}: ${refused[0]!.message})`)
      // A refused hub_seq is not in records: keep the next process from giving it out again.
      if (refused.length > 0) meta.raise(MetaKey.HUB_SEQ_FLOOR, seq - 1)
      for (let c = 0; c < this.companions.length; c++) this.companions[c]!.write()
      return refused
    })
    this.nextSeq = initialHubSeq(db)
    // What the last process committed may not have reached its fsync (it died in between).
    syncWalAtOpen(db)
    this.durable = this.nextSeq - 1
    this.wal = (opts.fsync ?? 'background') === 'background' ? WalFsync.open(db, this.onSynced, opts.fsyncFn) : null
    if (this.wal) {
      this.syncNormal = db.prepare('PRAGMA synchronous = NORMAL')
      this.syncFull = db.prepare('PRAGMA synchronous = FULL')
    }
  }

  /** True when the fsync runs on the thread pool (wal-fsync.ts), false when inside COMMIT. */
  get fsyncInBackground(): boolean {
    return this.wal !== null
  }

  /** Highest hub_seq below which every record is durable: what may leave the gateway (Kafka, HL7). */
  get durableSeq(): number {
    return this.durable
  }

  /**
   * Row `i` of the pending batch as the `records` columns, into `args` from `at` (see insertSql),
   * with the v9 columns n and items when `wide`; returns how many hub_seqs the row takes.
   */
  private bindRow(args: unknown[], at: number, hubSeq: number, i: number, wide: boolean): number {
    args[at] = hubSeq
    args[at + 1] = this.kind[i]!
    args[at + 2] = this.bedId[i]!
    args[at + 3] = this.deviceId[i]!
    args[at + 4] = orNull(this.admissionId[i]!)
    args[at + 5] = orNull(this.code[i]!)
    args[at + 6] = orNull(this.value[i]!)
    args[at + 7] = this.unit[i]!
    args[at + 8] = orNull(this.deviceTimeMs[i]!)
    args[at + 9] = this.hubTimeMs[i]!
    args[at + 10] = orNull(this.deviceSeq[i]!)
    args[at + 11] = orNull(this.quality[i]!)
    args[at + 12] = this.body[i]!
    args[at + 13] = orNull(this.t0Us[i]!)
    if (!wide) return 1
    const n = this.runN[i]!
    args[at + 14] = n
    args[at + 15] = this.items[i]!
    return n
  }

  /** Adds rows that must commit in the same transaction as the records (see BatchCompanion). */
  attach(companion: BatchCompanion): void {
    this.companions.push(companion)
  }

  /**
   * Keeps everything appended until the matching `release()` in one transaction: one sender
   * message's records and its identity (seen-messages.ts) are durable together or not at all.
   * Commits the pending batch first when `records` would not fit beside it (rows: a run counts one).
   */
  hold(records: number): void {
    if (this.holds === 0 && this.count > 0 && this.count + records > this.opts.maxRecords) this.flush()
    if (this.holds === 0) this.msgGen = this.msgGen === 0xffffffff ? 1 : this.msgGen + 1
    this.holds++
  }

  release(): void {
    if (--this.holds === 0 && this.count >= this.opts.maxRecords) this.flush()
  }

  /** The hub_seq the next appended row will get. */
  get peekHubSeq(): number {
    return this.nextSeq
  }

  /** Queues a row for the next group commit and returns its hub_seq. */
  append(row: Omit<PendingRow, 'hubSeq'>): number {
    return this.appendRecord(row.kind, row.bedId, row.deviceId, row.admissionId, row.code, row.value, row.unit, row.deviceTimeMs, row.hubTimeMs, row.deviceSeq, row.quality, row.body, row.t0Us ?? null)
  }

  /** `append` without the row object, for the ingest path; the arguments are the columns in order. */
  appendRecord(kind: RecordKindCode, bedId: string | null, deviceId: string | null, admissionId: number | null, code: number | null, value: number | null, unit: string | null,
    deviceTimeMs: number | null, hubTimeMs: number, deviceSeq: number | null, quality: number | null, body: Buffer | null, t0Us: number | null = null): number {
    if (this.closed) throw new Error('BEDSIDE_ERR_STORE_CLOSED: the store is closed')
    if (this.count === this.capacity) this.grow() // only inside a hold: otherwise a full batch was committed
    const seq = this.nextSeq++
    const i = this.count++
    this.records++
    this.runN[i] = 1
    this.msg[i] = this.holds > 0 ? this.msgGen : 0
    this.kind[i] = kind
    this.bedId[i] = bedId
    this.deviceId[i] = deviceId
    this.admissionId[i] = admissionId ?? NaN
    this.code[i] = code ?? NaN
    this.value[i] = value ?? NaN
    this.unit[i] = unit
    // Times are whole milliseconds (STRICT INTEGER columns): a sub-millisecond time (an MQTT "ts"
    // with decimals, a beat's time at 130 Hz, an alarm raised at either) is floored, as a waveform's
    // t0 is. A REAL there failed the whole group commit, every bed's records with it.
    this.deviceTimeMs[i] = Math.floor(deviceTimeMs ?? NaN)
    this.hubTimeMs[i] = Math.floor(hubTimeMs)
    this.deviceSeq[i] = deviceSeq ?? NaN
    this.quality[i] = quality ?? NaN
    this.t0Us[i] = t0Us ?? NaN
    this.body[i] = body
    if (this.count >= this.opts.maxRecords && this.holds === 0) this.flush()
    else if (this.timer === null) this.timer = setTimeout(this.onTimer, this.opts.intervalMs)
    return seq
  }

  /**
   * Queues `n` observations of one device message as ONE run row (schema v9) and returns its first
   * hub_seq; the run takes hub_seq .. hub_seq + n - 1. `items` is their packing (run-items.ts), the
   * caller's promise that it holds exactly `n` items. A run counts as one row toward `maxRecords`:
   * the commit's cost is per row (SQLite's B-tree insert), not per observation.
   * The ingest does not call it: with `runs: 'per-message'` the commit builds run rows itself from
   * the records appended one by one (coalesce), so the rules see each observation as before.
   */
  appendRun(bedId: string | null, deviceId: string | null, admissionId: number | null, hubTimeMs: number, n: number, items: Buffer): number {
    if (this.closed) throw new Error('BEDSIDE_ERR_STORE_CLOSED: the store is closed')
    if (!Number.isInteger(n) || n < 1 || n > 0xffffffff) throw new RangeError(`appendRun: a run holds 1 to 2^32-1 observations, not ${n}`)
    if (this.count === this.capacity) this.grow()
    const seq = this.nextSeq
    this.nextSeq += n
    const i = this.count++
    this.records += n
    this.runRows++
    this.runN[i] = n
    this.msg[i] = 0
    this.kind[i] = RecordKind.OBSERVATION
    this.bedId[i] = bedId
    this.deviceId[i] = deviceId
    this.admissionId[i] = admissionId ?? NaN
    this.code[i] = NaN
    this.value[i] = NaN
    this.unit[i] = null
    this.deviceTimeMs[i] = NaN
    this.hubTimeMs[i] = hubTimeMs
    this.deviceSeq[i] = NaN
    this.quality[i] = NaN
    this.t0Us[i] = NaN
    this.body[i] = null
    this.items[i] = items
    if (this.count >= this.opts.maxRecords && this.holds === 0) this.flush()
    else if (this.timer === null) this.timer = setTimeout(this.onTimer, this.opts.intervalMs)
    return seq
  }

  /** Doubles the columns for a message larger than a batch (held together, see `hold`). */
  private grow(): void {
    const cap = (this.capacity *= 2)
    const widen = <T extends Uint8Array | Uint32Array | Float64Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap)
      b.set(a)
      return b
    }
    this.kind = widen(this.kind, (n) => new Uint8Array(n))
    for (const col of [this.bedId, this.deviceId, this.unit, this.body, this.items] as (unknown[])[]) col.length = cap
    this.bedId.fill(null, this.count)
    this.deviceId.fill(null, this.count)
    this.unit.fill(null, this.count)
    this.body.fill(null, this.count)
    this.items.fill(null, this.count)
    this.runN = widen(this.runN, (n) => new Uint32Array(n))
    this.msg = widen(this.msg, (n) => new Uint32Array(n))
    const f64 = (n: number) => new Float64Array(n)
    this.admissionId = widen(this.admissionId, f64)
    this.code = widen(this.code, f64)
    this.value = widen(this.value, f64)
    this.deviceTimeMs = widen(this.deviceTimeMs, f64)
    this.hubTimeMs = widen(this.hubTimeMs, f64)
    this.deviceSeq = widen(this.deviceSeq, f64)
    this.quality = widen(this.quality, f64)
    this.t0Us = widen(this.t0Us, f64)
  }

  /**
   * Calls `cb` once the records appended from `fromSeq` on (the caller's, captured as `peekHubSeq`
   * before its appends) are durable, or with the error of the batch that failed with some of them.
   * Unlike `whenCommitted`, it also sees a batch that was committed, and failed, during the caller's
   * own appends (a size-triggered commit at `release()`): its waiters were called before this one.
   */
  durableFrom(fromSeq: number, cb: Waiter): void {
    for (let i = this.failures.length - 1; i >= 0; i--) {
      const f = this.failures[i]!
      if (f.to >= fromSeq) {
        const error = f.error
        queueMicrotask(() => cb(error))
        return
      }
    }
    this.whenCommitted(cb)
  }

  /** Calls `cb` once everything appended so far is durable (or failed). */
  whenCommitted(cb: Waiter): void {
    const broken = this.broken
    if (broken) {
      queueMicrotask(() => cb(broken))
      return
    }
    if (this.count > 0) {
      this.waiters.push(cb)
      return
    }
    const upTo = this.nextSeq - 1
    if (upTo <= this.durable) {
      queueMicrotask(() => cb(null))
      return
    }
    // Committed, its fsync not done yet.
    this.syncWaiterSeq.push(upTo)
    this.syncWaiters.push(cb)
  }

  /** Records (hub_seqs) waiting for the next commit. */
  get pendingCount(): number {
    return this.records
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
    const n = this.count
    if (n === 0) return
    const records = this.records
    const waiters = this.waiters
    this.waiters = []
    const t0 = process.hrtime.bigint()
    let failure: Error | null = this.broken
    let refused: SetAsideRecord[] = NONE_REFUSED
    if (!failure) {
      try {
        const rows = this.opts.runs === 'per-message' ? this.coalesce(n) : n
        // Background fsync: this transaction's COMMIT only writes its frames (wal-fsync.ts).
        this.syncNormal?.run()
        try {
          try {
            this.writeBatch(this.nextSeq - records, rows)
          } catch (err) {
            // One record the store refuses must not fail every bed's records with it (and again on
            // every re-send): the batch is written again row by row, the refused rows set aside.
            if (!isRecordError(err)) throw err
            refused = this.writeIsolated(this.nextSeq - records, rows)
          }
        } finally {
          this.restoreFull()
        }
      } catch (err) {
        failure = this.broken ?? (err as Error)
      }
    }
    if (failure) {
      this.failures.push({ from: this.nextSeq - records, to: this.nextSeq - 1, error: failure })
      if (this.failures.length > 16) this.failures.shift()
      this.stats.onError?.(failure, records)
    }
    this.count = 0
    this.records = 0
    this.runRows = 0
    // Let go of the strings and buffers of the batch (waveform bodies are large).
    this.bedId.fill(null, 0, n)
    this.deviceId.fill(null, 0, n)
    this.unit.fill(null, 0, n)
    this.body.fill(null, 0, n)
    this.items.fill(null, 0, n)
    for (let i = 0; i < this.companions.length; i++) this.companions[i]!.settled(failure === null)
    const last = this.nextSeq - 1
    if (failure) {
      for (let i = 0; i < waiters.length; i++) waiters[i]!(failure)
      // The failed hub_seqs hold nothing; once the batches before them are synced, they are settled too.
      if (!this.broken) this.settle(last)
      return
    }
    let stored = records
    for (let i = 0; i < refused.length; i++) stored -= refused[i]!.records
    // After this flush has settled its batch: the callback may append (an audit) and so commit.
    if (refused.length > 0) queueMicrotask(() => this.stats.onSetAside?.(refused))
    if (!this.wal) {
      if (last > this.durable) this.durable = last
      this.stats.onCommit?.(stored, Number(process.hrtime.bigint() - t0) / 1e9)
      for (let i = 0; i < waiters.length; i++) waiters[i]!(null)
      return
    }
    this.unsyncedBatches.push({ last, records: stored, t0 })
    for (let i = 0; i < waiters.length; i++) {
      this.syncWaiterSeq.push(last)
      this.syncWaiters.push(waiters[i]!)
    }
    this.wal.request(last)
  }

  /**
   * Back to FULL after the batch's NORMAL transaction. If that fails (it cannot, outside a
   * transaction, short of a broken connection) every later write would skip its fsync: final.
   */
  private restoreFull(): void {
    try {
      this.syncFull?.run()
    } catch (err) {
      this.fail(new Error(`BEDSIDE_ERR_STORE_IO: cannot set synchronous=FULL again after a group commit: ${(err as Error).message}`, { cause: err }))
      throw this.broken
    }
  }

  /** Hub_seqs up to `last` hold no record to sync: durable once the fsync before them is. */
  private settle(last: number): void {
    if (this.wal && this.unsyncedBatches.length > 0) this.wal.request(last)
    else this.onSynced(last, null)
  }

  /** The WAL fsync covering every frame up to hub_seq `upTo` returned (wal-fsync.ts). */
  private readonly onSynced = (upTo: number, err: Error | null): void => {
    if (this.broken) return
    if (err) {
      this.fail(new Error(`BEDSIDE_ERR_STORE_IO: ${err.message}; nothing after hub_seq ${this.durable} is acknowledged or sent, and the store takes no more records until the agent restarts`, { cause: err }))
      return
    }
    if (upTo > this.durable) this.durable = upTo
    const now = process.hrtime.bigint()
    let b = 0
    for (; b < this.unsyncedBatches.length && this.unsyncedBatches[b]!.last <= upTo; b++) {
      const batch = this.unsyncedBatches[b]!
      this.stats.onCommit?.(batch.records, Number(now - batch.t0) / 1e9)
    }
    if (b > 0) this.unsyncedBatches.splice(0, b)
    let w = 0
    while (w < this.syncWaiters.length && this.syncWaiterSeq[w]! <= upTo) w++
    if (w === 0) return
    const ready = this.syncWaiters.splice(0, w)
    this.syncWaiterSeq.splice(0, w)
    for (let i = 0; i < ready.length; i++) ready[i]!(null)
  }

  /** The store can no longer make records durable: every waiter, now and later, gets `broken`. */
  private fail(broken: Error): void {
    if (this.broken) return
    this.broken = broken
    this.unsyncedBatches.length = 0
    const waiters = this.syncWaiters
    this.syncWaiters = []
    this.syncWaiterSeq = []
    this.stats.onFatal?.(broken)
    for (let i = 0; i < waiters.length; i++) waiters[i]!(broken)
  }

  /**
   * Rewrites the first `n` pending records in place so that each stretch of two or more
   * consecutive observations of one sender message with one subject and hub time (same bed,
   * device, admission) is ONE run row; returns the rows left. Nothing moves in hub_seq: a run row
   * takes exactly the hub_seqs its records were given at append, so what the sync sends per
   * hub_seq is what it sent with a row each (issue 23). Done at commit, not at append, so the
   * ingest and the alarm path are untouched: the rules still see every observation as it comes.
   */
  private coalesce(n: number): number {
    let dst = 0
    let cols: RunColumns | null = null
    for (let i = 0; i < n;) {
      let j = i + 1
      if (this.joinable(i)) while (j < n && this.sameRun(i, j)) j++
      if (j - i >= 2) {
        cols ??= { code: this.code, value: this.value, unit: this.unit, deviceTimeMs: this.deviceTimeMs, deviceSeq: this.deviceSeq, quality: this.quality }
        const items = packRunColumns(cols, i, j)
        this.moveRow(i, dst)
        this.runN[dst] = j - i
        this.items[dst] = items
        // The per-observation columns of a run row are NULL: its items hold them (db.ts, v9).
        this.code[dst] = this.value[dst] = this.deviceTimeMs[dst] = this.deviceSeq[dst] = this.quality[dst] = NaN
        this.unit[dst] = null
        this.runRows++
      } else if (dst !== i) this.moveRow(i, dst)
      dst++
      i = j
    }
    return dst
  }

  /** A record that may open or join a run: an observation appended within a message, packable. */
  private joinable(i: number): boolean {
    if (this.msg[i] === 0 || this.kind[i] !== RecordKind.OBSERVATION || this.runN[i] !== 1 || this.items[i] !== null || this.body[i] !== null || this.t0Us[i] === this.t0Us[i]) return false
    const q = this.quality[i]!
    return isU32(this.code[i]!) && (q !== q || isU32(q)) && fitsUnit(this.unit[i]!)
  }

  /** Record `j` continues record `i`'s run: same message, subject and hub time. */
  private sameRun(i: number, j: number): boolean {
    const a = this.admissionId[i]!
    const b = this.admissionId[j]!
    return this.msg[j] === this.msg[i] && this.hubTimeMs[j] === this.hubTimeMs[i] && this.bedId[j] === this.bedId[i] && this.deviceId[j] === this.deviceId[i] &&
      (a === b || (a !== a && b !== b)) && this.joinable(j)
  }

  private moveRow(from: number, to: number): void {
    if (from === to) return
    this.kind[to] = this.kind[from]!
    this.bedId[to] = this.bedId[from]!
    this.deviceId[to] = this.deviceId[from]!
    this.admissionId[to] = this.admissionId[from]!
    this.code[to] = this.code[from]!
    this.value[to] = this.value[from]!
    this.unit[to] = this.unit[from]!
    this.deviceTimeMs[to] = this.deviceTimeMs[from]!
    this.hubTimeMs[to] = this.hubTimeMs[from]!
    this.deviceSeq[to] = this.deviceSeq[from]!
    this.quality[to] = this.quality[from]!
    this.t0Us[to] = this.t0Us[from]!
    this.body[to] = this.body[from]!
    this.runN[to] = this.runN[from]!
    this.items[to] = this.items[from]!
    this.msg[to] = this.msg[from]!
  }

  /**
   * Commits what is pending and refuses further appends; resolves once all of it is durable (or
   * the store failed: its waiters have the error). The fsync in flight is waited for, not doubled
   * by a synchronous one: Linux reports a write-back error to only one of two fsyncs.
   */
  close(): Promise<void> {
    this.flush()
    this.closed = true
    const wal = this.wal
    if (!wal) return Promise.resolve()
    return new Promise((resolve) => this.whenCommitted(() => {
      wal.close()
      resolve()
    }))
  }
}

/** The columns of `records` before v9, in the order `bindRow` fills them; then n and items. */
const COLUMNS = 14
const RUN_COLUMNS = 16
/**
 * Rows per INSERT statement of the group commit. One statement per row cost a call into SQLite and
 * a result object per observation: the commit's INSERT was 21 % of the agent's profile under issue
 * 23's 100-obs load (BENCHMARKS.md). 32 rows (448 parameters, 512 with run rows, far below SQLite's 32,766) cost the
 * least CPU of 1, 8, 32 and 64 per statement: 1.35 µs per record against 1.88 one by one
 * (`npm run bench -- pipeline`, pipeline.commit-batch). The rest of a batch goes one by one.
 * A failing statement rolls back the whole transaction, as a failing row did.
 */
const ROWS_PER_INSERT = 32

function insertSql(rows: number, columns: number): string {
  const row = `(${new Array(columns).fill('?').join(',')})`
  const names = 'hub_seq, kind, bed_id, device_id, admission_id, code, value, unit, device_time_ms, hub_time_ms, device_seq, quality, body, t0_us' + (columns === RUN_COLUMNS ? ', n, items' : '')
  return `INSERT INTO records (${names}) VALUES ${new Array(rows).fill(row).join(',')}`
}

const NONE_REFUSED: SetAsideRecord[] = []

/**
 * An error of the record, not of the store: a value its column does not take (STRICT type, NOT
 * NULL, CHECK) or one too big, or one better-sqlite3 cannot bind. Disk full, I/O errors, a
 * duplicate hub_seq (the committer's own bug) and a statement that does not fit its arguments
 * (RangeError, SQLITE_RANGE: a fault of the code, for every row) still fail the whole batch.
 */
function isRecordError(err: unknown): boolean {
  if (err instanceof TypeError) return /can only bind/.test(err.message)
  const code = (err as { code?: unknown } | null)?.code
  return code === 'SQLITE_CONSTRAINT_DATATYPE' || code === 'SQLITE_CONSTRAINT_NOTNULL' || code === 'SQLITE_CONSTRAINT_CHECK' ||
    code === 'SQLITE_MISMATCH' || code === 'SQLITE_TOOBIG'
}

const COLUMN_NAMES = ['hub_seq', 'kind', 'bed_id', 'device_id', 'admission_id', 'code', 'value', 'unit', 'device_time_ms', 'hub_time_ms', 'device_seq', 'quality', 'body', 't0_us', 'n', 'items']

/** A refused row as the dead-letter keeps it: every column (BLOBs in base64, odd numbers as text) and the error. */
function rowDetail(args: readonly unknown[], width: number, code: string, message: string): string {
  const row: Record<string, unknown> = { error: `${code}: ${message}` }
  for (let c = 0; c < width; c++) {
    const v = args[c]
    row[COLUMN_NAMES[c]!] = Buffer.isBuffer(v) ? v.toString('base64') : typeof v === 'number' && !Number.isFinite(v) ? String(v) : typeof v === 'bigint' ? v.toString() : v
  }
  return JSON.stringify(row)
}

const isU32 = (x: number): boolean => x >= 0 && x <= 0xffffffff && Math.floor(x) === x

/** A unit the packed layout holds (≤ 255 bytes of UTF-8); the length test first spares most byteLength calls. */
const fitsUnit = (u: string | null): boolean => u === null || u.length <= 85 || Buffer.byteLength(u, 'utf8') <= 255

/** NaN marks NULL in the numeric columns. */
function orNull(x: number): number | null {
  return x === x ? x : null
}

/**
 * Next hub_seq: above every record ever written, even if retention deleted them (meta.hub_seq_floor).
 * The last row's run ends highest (rows are written in hub_seq order and runs never overlap); one
 * step down the rowid B-tree, where MAX(hub_seq + n - 1) would scan the table.
 */
function initialHubSeq(db: Db): number {
  const last = db.prepare('SELECT hub_seq + n - 1 AS m FROM records ORDER BY hub_seq DESC LIMIT 1').get() as { m: number } | undefined
  const maxRow = { m: last?.m ?? 0 }
  const floor = db.prepare("SELECT value FROM meta WHERE key = 'hub_seq_floor'").get() as { value: string } | undefined
  return Math.max(maxRow.m, floor ? Number(floor.value) : 0) + 1
}
