/**
 * The group commit's fsync off the event loop (agent/store/wal-fsync.ts, issue 23) on a real SQLite
 * store. The fsync is the one thing a test holds or fails (a power cut cannot be staged here): the
 * tests check that nothing is acknowledged, re-acknowledged or read for Kafka and HL7 before the
 * fsync that covers it returns, that batches go on being written meanwhile, and that a failed fsync
 * is final.
 */
import assert from 'node:assert/strict'
import { mkdirSync, realpathSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import type { DeviceRecord } from '../../drivers/records.js'
import { MessageIntake } from '../../agent/pipeline/deliver.js'
import { GroupCommitter, RecordKind } from '../../agent/store/commit.js'
import { openDatabase, type Db } from '../../agent/store/db.js'
import { Outbox } from '../../agent/store/outbox.js'
import { SeenMessages } from '../../agent/store/seen-messages.js'
import { walPathOf, type FsyncFn } from '../../agent/store/wal-fsync.js'
import { tempDir } from '../support/agent-process.js'

/** An fsync the test completes by hand, in order; `real` runs the real one first. */
class HeldFsync {
  readonly pending: ((err: NodeJS.ErrnoException | null) => void)[] = []
  calls = 0
  readonly fn: FsyncFn = (_fd, cb) => {
    this.calls++
    this.pending.push(cb)
  }

  /** Completes the oldest held fsync, then lets the callbacks it triggers run. */
  async complete(err: NodeJS.ErrnoException | null = null): Promise<void> {
    const cb = this.pending.shift()
    assert.ok(cb, 'an fsync is in flight')
    cb(err)
    await new Promise((resolve) => setImmediate(resolve))
  }
}

function store(name: string, fsync: HeldFsync): { db: Db; c: GroupCommitter; outbox: Outbox; fatal: Error[]; commits: number[] } {
  const db = openDatabase(join(tempDir(name), 'data'))
  const fatal: Error[] = []
  const commits: number[] = []
  const c = new GroupCommitter(db, { intervalMs: 10_000, maxRecords: 1000, fsyncFn: fsync.fn }, { onFatal: (e) => fatal.push(e), onCommit: (n) => commits.push(n) })
  return { db, c, outbox: new Outbox(db, () => c.durableSeq), fatal, commits }
}

function obs(c: GroupCommitter, value: number): number {
  return c.appendRecord(RecordKind.OBSERVATION, 'bed-1', 'mon-1', null, 150456, value, '%', 1000, 2000, null, 0, null)
}

const settledTurn = () => new Promise((resolve) => setImmediate(resolve))

test('wal fsync: a batch is committed at once but acknowledged, counted and readable for Kafka only after its fsync; the next batch is written meanwhile', async () => {
  const fsync = new HeldFsync()
  const { db, c, outbox, commits } = store('wal-held', fsync)
  const acked: string[] = []
  for (let i = 0; i < 3; i++) obs(c, 90 + i)
  c.whenCommitted((err) => acked.push(`first ${err?.message ?? 'ok'}`))
  c.flush()
  assert.equal((db.prepare('SELECT COUNT(*) AS n FROM records').get() as { n: number }).n, 3, 'the rows are committed')
  assert.equal(db.pragma('synchronous', { simple: true }), 2, 'the connection is back to FULL for every other write')
  await settledTurn()
  assert.equal(acked.length, 0, 'no acknowledgement before the fsync')
  assert.equal(commits.length, 0, 'not counted as committed (the sync is not woken) before the fsync')
  assert.equal(c.durableSeq, 0)
  assert.deepEqual(outbox.read(100), [], 'the outbox does not hand unsynced rows to Kafka')
  assert.equal(outbox.hasUnsynced(), false)
  // A waiter that arrives after the COMMIT, like a re-send's, waits for the same fsync.
  c.whenCommitted((err) => acked.push(`late ${err?.message ?? 'ok'}`))
  // The next batch is written while the first fsync runs; its own fsync waits for that one.
  for (let i = 0; i < 2; i++) obs(c, 80 + i)
  c.whenCommitted((err) => acked.push(`second ${err?.message ?? 'ok'}`))
  c.flush()
  assert.equal((db.prepare('SELECT COUNT(*) AS n FROM records').get() as { n: number }).n, 5)
  assert.equal(fsync.calls, 1, 'one fsync in flight at a time')
  await fsync.complete()
  assert.deepEqual(acked, ['first ok', 'late ok'])
  assert.deepEqual(commits, [3])
  assert.equal(c.durableSeq, 3)
  assert.deepEqual(outbox.read(100).map((r) => r[0]), [1, 2, 3], 'only the synced batch is read')
  assert.equal(fsync.calls, 2, 'the second batch\'s fsync starts when the first returns')
  await fsync.complete()
  assert.deepEqual(acked, ['first ok', 'late ok', 'second ok'])
  assert.deepEqual(commits, [3, 2])
  assert.equal(c.durableSeq, 5)
  assert.deepEqual(outbox.read(100).map((r) => r[0]), [1, 2, 3, 4, 5])
  let quiet = false
  c.whenCommitted(() => (quiet = true))
  await settledTurn()
  assert.ok(quiet, 'with nothing unsynced a waiter is answered at once')
  await c.close()
  db.close()
})

test('wal fsync: a re-sent message that is already committed is acknowledged only when its original is durable', async () => {
  const fsync = new HeldFsync()
  const { db, c } = store('wal-resend', fsync)
  const seen = new SeenMessages(db, 64)
  c.attach(seen)
  const intake = new MessageIntake({
    committer: c, seen,
    ingest: (r: DeviceRecord) => {
      if (r.kind !== 'obs') return 'rejected'
      obs(c, r.value)
      return 'accepted'
    },
    redelivered: () => undefined,
  })
  const record = { kind: 'obs', value: 97 } as unknown as DeviceRecord
  const acks: string[] = []
  assert.equal(intake.deliver('mon-1', 'mqtt', 'o1/1', [record], (err) => acks.push(`original ${err?.message ?? 'ok'}`)), 'accepted')
  c.flush()
  // The PUBACK was lost; the device re-sends with DUP while the original's fsync still runs.
  assert.equal(intake.deliver('mon-1', 'mqtt', 'o1/1', [record], (err) => acks.push(`re-send ${err?.message ?? 'ok'}`)), 'duplicate')
  await settledTurn()
  assert.equal(acks.length, 0, 'neither is acknowledged before the fsync')
  await fsync.complete()
  assert.deepEqual(acks, ['original ok', 're-send ok'])
  assert.equal((db.prepare('SELECT COUNT(*) AS n FROM records').get() as { n: number }).n, 1, 'stored once')
  await c.close()
  db.close()
})

test('wal fsync: a failed fsync is final: its waiters and every later one get the error, nothing more becomes durable or readable, the agent is told once', async () => {
  const fsync = new HeldFsync()
  const { db, c, outbox, fatal, commits } = store('wal-eio', fsync)
  obs(c, 1)
  c.flush()
  await fsync.complete()
  assert.equal(c.durableSeq, 1)
  const errors: string[] = []
  obs(c, 2)
  c.whenCommitted((err) => errors.push(err?.message ?? 'ok'))
  c.flush()
  const eio = Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' })
  await fsync.complete(eio)
  assert.equal(errors.length, 1)
  assert.match(errors[0]!, /^BEDSIDE_ERR_STORE_IO: fsync of .*data\/[^ ]+-wal failed: EIO: i\/o error, fsync; nothing after hub_seq 1 is acknowledged or sent/)
  assert.equal(fatal.length, 1)
  assert.equal(c.durableSeq, 1)
  assert.deepEqual(outbox.read(100).map((r) => r[0]), [1], 'the row whose fsync failed is never read for Kafka')
  // Later batches are refused without a write: after a failed fsync the page cache cannot be trusted.
  obs(c, 3)
  c.whenCommitted((err) => errors.push(err?.message ?? 'ok'))
  c.flush()
  c.whenCommitted((err) => errors.push(err?.message ?? 'ok'))
  await settledTurn()
  assert.equal(errors.length, 3)
  assert.ok(errors.every((e) => e.startsWith('BEDSIDE_ERR_STORE_IO')), errors.join('\n'))
  assert.equal(fsync.calls, 2, 'no fsync after the failed one')
  assert.equal((db.prepare('SELECT COUNT(*) AS n FROM records').get() as { n: number }).n, 2, 'the refused batch was not written')
  assert.deepEqual(commits, [1])
  assert.equal(fatal.length, 1, 'told once')
  await c.close()
  db.close()
})

test('wal fsync: close() resolves once what is committed is durable, waiting for the fsync in flight instead of racing it', async () => {
  const fsync = new HeldFsync()
  const { db, c } = store('wal-close', fsync)
  const acks: string[] = []
  obs(c, 1)
  c.flush()
  obs(c, 2)
  c.whenCommitted((err) => acks.push(err?.message ?? 'ok'))
  let closed = false
  const closing = c.close().then(() => (closed = true))
  await settledTurn()
  assert.equal(closed, false, 'not before the fsync in flight returned')
  assert.equal(fsync.pending.length, 1, 'no second fsync beside the one in flight')
  await fsync.complete() // covers hub_seq 1; the close's batch (2) gets its own fsync next
  assert.equal(closed, false)
  await fsync.complete()
  await closing
  assert.deepEqual(acks, ['ok'])
  assert.equal(c.durableSeq, 2)
  await c.close() // a second close does nothing
  db.close()
})

test('wal fsync: a batch committed by a waiter of the fsync that just returned gets the next fsync, never one beside it', async () => {
  const fsync = new HeldFsync()
  const { db, c } = store('wal-reentrant', fsync)
  obs(c, 1)
  c.whenCommitted(() => {
    obs(c, 2)
    c.flush()
  })
  c.flush()
  await fsync.complete()
  assert.equal(fsync.pending.length, 1, 'one fsync in flight')
  assert.equal(fsync.calls, 2)
  await fsync.complete()
  assert.equal(c.durableSeq, 2)
  await c.close()
  db.close()
})

test('wal fsync: the WAL is found where SQLite keeps it, beside the target of a symlinked database file', () => {
  const real = join(tempDir('wal-target'), 'data')
  openDatabase(real).close()
  const linked = join(tempDir('wal-link'), 'data')
  mkdirSync(linked, { recursive: true, mode: 0o700 })
  symlinkSync(join(real, 'bedside.db'), join(linked, 'bedside.db'))
  const db = openDatabase(linked)
  assert.equal(walPathOf(db), join(realpathSync(real), 'bedside.db-wal'))
  const c = new GroupCommitter(db, { intervalMs: 10_000, maxRecords: 10 })
  assert.ok(c.fsyncInBackground)
  void c.close()
  db.close()
})

test('wal fsync: with the real fsync, and inline (FULL inside COMMIT) where asked or where there is no WAL file', async () => {
  const db = openDatabase(join(tempDir('wal-real'), 'data'))
  const c = new GroupCommitter(db, { intervalMs: 10_000, maxRecords: 1000 })
  obs(c, 1)
  let answered = false
  const durable = new Promise<void>((resolve, reject) => {
    c.whenCommitted((err) => (answered = true, err ? reject(err) : resolve()))
    c.flush()
  })
  assert.ok(!answered, 'the store\'s WAL file was found: the fsync runs in the background, not inside flush')
  await durable
  assert.equal(c.durableSeq, 1)
  c.close()
  const inline = new GroupCommitter(db, { intervalMs: 10_000, maxRecords: 1000, fsync: 'inline' })
  let acked = false
  obs(inline, 2)
  inline.whenCommitted(() => (acked = true))
  inline.flush()
  assert.ok(acked, 'inline: acknowledged inside flush, after FULL\'s fsync')
  assert.equal(inline.durableSeq, 2)
  await inline.close()
  db.close()
  const rollback = openDatabase(join(tempDir('wal-none'), 'data'))
  rollback.pragma('journal_mode = DELETE')
  const r = new GroupCommitter(rollback, { intervalMs: 10_000, maxRecords: 1000 })
  acked = false
  obs(r, 1)
  r.whenCommitted(() => (acked = true))
  r.flush()
  assert.ok(acked, 'not in WAL mode: inline')
  await r.close()
  rollback.close()
})
