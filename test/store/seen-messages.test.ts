/**
 * The redelivery window (agent/store/seen-messages.ts) on a real SQLite store: keys commit with
 * their records or not at all, survive a restart, stay bounded per device, and a message larger
 * than a batch is still committed in one transaction with its key.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { GroupCommitter, RecordKind } from '../../agent/store/commit.js'
import { openDatabase, type Db } from '../../agent/store/db.js'
import { SeenMessages } from '../../agent/store/seen-messages.js'
import { MessageIntake } from '../../agent/pipeline/deliver.js'
import { tempDir } from '../support/agent-process.js'

function open(dir: string, window = 8, maxRecords = 16): { db: Db; committer: GroupCommitter; seen: SeenMessages } {
  const db = openDatabase(dir)
  const committer = new GroupCommitter(db, { intervalMs: 1000, maxRecords })
  const seen = new SeenMessages(db, window)
  committer.attach(seen)
  return { db, committer, seen }
}

/** Appends one message of `n` observations of `device` under `key`, held together like MessageIntake does. */
function message(s: ReturnType<typeof open>, device: string, key: string, n: number): void {
  s.committer.hold(n)
  const first = s.committer.peekHubSeq
  for (let i = 0; i < n; i++) s.committer.appendRecord(RecordKind.OBSERVATION, 'bed-1', device, null, 150456, 97, '%', Date.now(), Date.now(), 1, 0, null)
  s.seen.add(device, key, first)
  s.committer.release()
}

const rows = (db: Db, sql: string) => (db.prepare(sql).get() as { n: number }).n

test('seen messages: a key is remembered with its records and again after a restart', () => {
  const dir = join(tempDir('seen'), 'data')
  let s = open(dir)
  message(s, 'mon-1', 'o1/1000', 3)
  assert.ok(s.seen.has('mon-1', 'o1/1000'), 'known while its batch is pending')
  assert.ok(!s.seen.has('mon-2', 'o1/1000'), 'per device')
  s.committer.close()
  s.db.close()
  s = open(dir)
  assert.ok(s.seen.has('mon-1', 'o1/1000'), 'known after a restart')
  assert.equal(rows(s.db, 'SELECT COUNT(*) AS n FROM seen_messages'), 1)
  s.committer.close()
  s.db.close()
})

test('seen messages: a batch of 75 keys (two statements of 32, then one by one) is on disk whole, and after a restart', () => {
  const dir = join(tempDir('seen-many'), 'data')
  let s = open(dir, 1024, 1000)
  const keys: [string, string][] = []
  for (let k = 0; k < 75; k++) keys.push([`mon-${k % 3}`, `o${k}/${1000 + k}`])
  for (const [device, key] of keys) message(s, device, key, 1)
  s.committer.flush()
  const onDisk = s.db.prepare('SELECT device_id, hub_seq, msg_key FROM seen_messages ORDER BY hub_seq').raw().all() as [string, number, string][]
  const first = rows(s.db, 'SELECT MIN(hub_seq) AS n FROM records')
  assert.deepEqual(onDisk, keys.map(([device, key], i) => [device, first + i, key]), 'every key, with its message\'s hub_seq, in order')
  s.committer.close()
  s.db.close()
  s = open(dir, 1024, 1000)
  assert.ok(keys.every(([device, key]) => s.seen.has(device, key)))
  assert.equal(s.seen.size, 75)
  s.committer.close()
  s.db.close()
})

test('seen messages: the window is bounded per device, on disk as in memory', () => {
  const dir = join(tempDir('seen-bound'), 'data')
  let s = open(dir, 8)
  for (let k = 0; k < 50; k++) message(s, 'mon-1', `o${k}/1000`, 1)
  for (let k = 0; k < 3; k++) message(s, 'mon-2', `o${k}/1000`, 1)
  s.committer.flush()
  message(s, 'mon-1', 'o50/1000', 1) // the prune of the last batch's evictions rides on the next commit
  s.committer.flush()
  assert.equal(s.seen.size, 8 + 3)
  assert.ok(!s.seen.has('mon-1', 'o42/1000') && s.seen.has('mon-1', 'o43/1000') && s.seen.has('mon-1', 'o50/1000'))
  const onDisk = rows(s.db, "SELECT COUNT(*) AS n FROM seen_messages WHERE device_id = 'mon-1'")
  console.log(`# window 8: 51 messages of mon-1 leave ${onDisk} rows on disk`)
  assert.ok(onDisk <= 9, `at most the window and one batch on disk, got ${onDisk}`)
  s.committer.close()
  s.db.close()
  s = open(dir, 8)
  assert.ok(s.seen.has('mon-1', 'o50/1000') && !s.seen.has('mon-1', 'o42/1000'))
  s.committer.close()
  s.db.close()
})

test('seen messages: reopened with a smaller window, the newest keys are kept and the rest leave the disk on the next commit', () => {
  const dir = join(tempDir('seen-shrink'), 'data')
  let s = open(dir, 8)
  for (let k = 0; k < 8; k++) message(s, 'mon-1', `o${k}/1000`, 1)
  s.committer.close()
  s.db.close()
  s = open(dir, 3)
  assert.equal(s.seen.size, 3)
  assert.ok(s.seen.has('mon-1', 'o5/1000') && s.seen.has('mon-1', 'o7/1000') && !s.seen.has('mon-1', 'o4/1000'))
  message(s, 'mon-1', 'o8/1000', 1)
  s.committer.flush()
  assert.equal(rows(s.db, "SELECT COUNT(*) AS n FROM seen_messages WHERE device_id = 'mon-1'"), 3, 'exactly the window: the evictions of the load and of this batch deleted with it')
  assert.ok(s.seen.has('mon-1', 'o8/1000') && !s.seen.has('mon-1', 'o5/1000'))
  s.committer.close()
  s.db.close()
})

test('seen messages: a failed commit forgets the keys of its batch, so the re-send is stored', () => {
  const dir = join(tempDir('seen-fail'), 'data')
  const s = open(dir)
  message(s, 'mon-1', 'o1/1000', 2)
  s.committer.flush()
  message(s, 'mon-1', 'o2/1000', 2)
  // A commit that fails inside its transaction (as a full disk would): a trigger aborts the insert.
  s.db.exec("CREATE TEMP TRIGGER fail_insert BEFORE INSERT ON records BEGIN SELECT RAISE(ABORT, 'disk full (simulated)'); END")
  let failed: Error | null = null
  s.committer.whenCommitted((err) => (failed = err))
  s.committer.flush()
  assert.match(String(failed), /disk full/)
  assert.ok(s.seen.has('mon-1', 'o1/1000'), 'the committed key stays')
  assert.ok(!s.seen.has('mon-1', 'o2/1000'), 'the rolled-back key is forgotten')
  assert.equal(rows(s.db, 'SELECT COUNT(*) AS n FROM seen_messages'), 1)
  s.db.exec('DROP TRIGGER fail_insert')
  s.committer.close()
  s.db.close()
})

test('seen messages: a message larger than a batch commits in one transaction with its key', () => {
  const dir = join(tempDir('seen-big'), 'data')
  const s = open(dir, 8, 16)
  message(s, 'mon-1', 'o1/1000', 5)
  message(s, 'mon-1', 'o2/1000', 40) // 2.5 batches: held, the columns grow instead of committing half
  assert.equal(s.committer.pendingCount, 0, 'committed once released (over max_records)')
  assert.equal(rows(s.db, 'SELECT COUNT(*) AS n FROM records'), 45)
  const [a, b] = [rows(s.db, 'SELECT MIN(hub_seq) AS n FROM records'), rows(s.db, 'SELECT MAX(hub_seq) AS n FROM records')]
  assert.equal(b - a + 1, 45)
  message(s, 'mon-1', 'o3/1000', 12) // does not fit beside 0 pending: no early commit needed
  message(s, 'mon-1', 'o4/1000', 12) // 12 + 12 > 16: the pending batch commits first, so o4 is whole
  assert.equal(s.committer.pendingCount, 12)
  s.committer.close()
  assert.equal(rows(s.db, 'SELECT COUNT(*) AS n FROM records'), 69)
  s.db.close()
})

test('seen messages: a message whose own records fill the batch and whose commit fails is not acknowledged', async () => {
  const dir = join(tempDir('seen-own-fail'), 'data')
  const s = open(dir, 8, 2)
  const intake = new MessageIntake({
    committer: s.committer, seen: s.seen, redelivered: () => undefined,
    ingest: (r) => (s.committer.appendRecord(RecordKind.OBSERVATION, 'bed-1', r.deviceId, null, 150456, 97, '%', 1, 1, r.deviceSeq, 0, null), 'accepted'),
  })
  const rec = (seq: number) => ({ kind: 'obs' as const, deviceId: 'mon-1', code: 150456, value: 97, unit: '%', deviceTimeMs: 1, hubTimeMs: 1, deviceSeq: seq, quality: 0 })
  s.db.exec("CREATE TEMP TRIGGER fail_insert BEFORE INSERT ON records BEGIN SELECT RAISE(ABORT, 'disk full (simulated)'); END")
  // Two records fill the batch of 2: the commit runs inside the delivery, before any waiter could be added afterwards.
  const outcome = await new Promise<Error | null>((resolve) => intake.deliver('mon-1', 'test', 'o1/1', [rec(1), rec(2)], resolve))
  assert.match(String(outcome), /disk full/, 'the sender is told the commit failed (no PUBACK, no AA)')
  assert.ok(!s.seen.has('mon-1', 'o1/1'), 'and its re-send will be stored')
  s.db.exec('DROP TRIGGER fail_insert')
  const again = await new Promise<Error | null>((resolve) => intake.deliver('mon-1', 'test', 'o1/1', [rec(1), rec(2)], resolve))
  assert.equal(again, null)
  assert.equal(rows(s.db, 'SELECT COUNT(*) AS n FROM records'), 2)
  s.committer.close()
  s.db.close()
})
