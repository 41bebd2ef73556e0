/**
 * Run rows (schema v9, issue 23): the packed items' layout, the migration from v8, and the group
 * commit writing a device message's observations as one row over a contiguous hub_seq range.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { GroupCommitter, RecordKind } from '../../agent/store/commit.js'
import { openDatabase, SCHEMA_VERSION } from '../../agent/store/db.js'
import { forEachRunItem, packRunItems, RunItemsError, unpackRunItems, type RunItem } from '../../agent/store/run-items.js'
import { tempDir } from '../support/agent-process.js'

const item = (i: number): RunItem => ({ code: 147842 + i, value: 60 + i / 4, unit: '/min', deviceTimeMs: 1_764_120_000_000 + i, deviceSeq: 1000 + i, quality: i % 3 })

test('run items: every field round-trips, NULLs and multi-byte units included, in order', () => {
  const items: RunItem[] = [
    item(0),
    { code: 0xffffffff, value: -0.1, unit: 'µg/(kg·min)', deviceTimeMs: 2 ** 52, deviceSeq: 0, quality: 0xffffffff },
    { code: 0, value: null, unit: null, deviceTimeMs: null, deviceSeq: null, quality: null },
    { code: 150456, value: 0, unit: '', deviceTimeMs: 0, deviceSeq: 2 ** 40, quality: 0 },
    { code: 150456, value: Number.NaN, unit: '%', deviceTimeMs: -5, deviceSeq: -1, quality: 1 },
  ]
  const blob = packRunItems(items)
  assert.deepEqual(unpackRunItems(blob), items)
  const seen: number[] = []
  assert.equal(forEachRunItem(blob, (_, i) => seen.push(i)), items.length)
  assert.deepEqual(seen, [0, 1, 2, 3, 4])
})

test('run items: what cannot be packed or read is refused with the item and the problem named', () => {
  assert.throws(() => packRunItems([]), /BEDSIDE_ERR_RUN_ITEMS: a run needs at least one observation/)
  assert.throws(() => packRunItems([item(0), { ...item(1), code: -1 }]), /item 1: code -1 is not an unsigned 32-bit integer/)
  assert.throws(() => packRunItems([{ ...item(0), code: 1.5 }]), /item 0: code 1.5/)
  assert.throws(() => packRunItems([{ ...item(0), quality: 2 ** 32 }]), /item 0: quality 4294967296 is not an unsigned 32-bit bitmask/)
  assert.throws(() => packRunItems([item(0), item(1), { ...item(2), unit: 'x'.repeat(256) }]), /item 2: unit is 256 bytes of UTF-8, at most 255 fit/)
  const blob = packRunItems([item(0), item(1)])
  assert.throws(() => unpackRunItems(blob.subarray(0, blob.length - 3)), (e: unknown) => e instanceof RunItemsError && /ends inside item 1's unit/.test(e.message))
  assert.throws(() => unpackRunItems(blob.subarray(0, 20)), /ends inside item 0 \(20 bytes\)/)
  const other = Buffer.from(blob)
  other[0] = 2
  assert.throws(() => unpackRunItems(other), /packed run of layout version 2, this agent reads 1/)
  assert.throws(() => unpackRunItems(Buffer.alloc(0)), /layout version none/)
})

test('store v9: a v8 store migrates with its rows as single records (n 1, no items), and stays readable', () => {
  const dir = tempDir('runs')
  let db = openDatabase(dir)
  const c = new GroupCommitter(db, { intervalMs: 10_000, maxRecords: 100 })
  c.appendRecord(RecordKind.OBSERVATION, 'b', 'd', null, 147842, 71, '/min', 1, 2, 3, 0, null)
  c.close()
  // Make it the v8 file an older agent left behind.
  db.exec('ALTER TABLE records DROP COLUMN items; ALTER TABLE records DROP COLUMN n')
  db.pragma('user_version = 8')
  db.close()
  db = openDatabase(dir)
  assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION)
  assert.equal(SCHEMA_VERSION, 9)
  assert.deepEqual(db.prepare('SELECT hub_seq, code, value, n, items FROM records').raw().all(), [[1, 147842, 71, 1, null]])
  const c2 = new GroupCommitter(db, { intervalMs: 10_000, maxRecords: 100 })
  assert.equal(c2.appendRecord(RecordKind.OBSERVATION, 'b', 'd', null, 1, 1, null, null, 5, null, null, null), 2)
  c2.close()
  db.close()
})

test('store: a run takes n consecutive hub_seqs in one row, between single records, and the commit counts its records', async () => {
  for (const rowsPerInsert of [undefined, 2]) {
    const db = openDatabase(tempDir('runs'))
    const commits: number[] = []
    const c = new GroupCommitter(db, { intervalMs: 10_000, maxRecords: 100, ...(rowsPerInsert ? { rowsPerInsert } : {}) }, { onCommit: (n) => commits.push(n) })
    const run1 = Array.from({ length: 100 }, (_, i) => item(i))
    const run2 = Array.from({ length: 7 }, (_, i) => item(200 + i))
    const seqs = [
      c.appendRecord(RecordKind.OBSERVATION, 'b1', 'd1', 4, 150456, 97, '%', 10, 11, 12, 0, null),
      c.appendRun('b1', 'd1', 4, 1_764_120_000_456, run1.length, packRunItems(run1)),
      c.appendRecord(RecordKind.ALARM, 'b1', null, null, null, null, null, null, 13, null, null, Buffer.from('{}')),
      c.appendRun('b2', 'd2', null, 1_764_120_000_789, run2.length, packRunItems(run2)),
    ]
    assert.deepEqual(seqs, [1, 2, 102, 103])
    assert.equal(c.pendingCount, 109, 'pending records, not rows')
    assert.equal(c.peekHubSeq, 110)
    c.flush()
    await new Promise((resolve) => c.whenCommitted(resolve)) // onCommit follows the WAL's fsync
    assert.deepEqual(commits, [109])
    const rows = db.prepare('SELECT hub_seq, kind, bed_id, device_id, admission_id, code, value, unit, hub_time_ms, n, items FROM records ORDER BY hub_seq').raw().all() as unknown[][]
    assert.deepEqual(rows.map((r) => r.slice(0, 10)), [
      [1, RecordKind.OBSERVATION, 'b1', 'd1', 4, 150456, 97, '%', 11, 1],
      [2, RecordKind.OBSERVATION, 'b1', 'd1', 4, null, null, null, 1_764_120_000_456, 100],
      [102, RecordKind.ALARM, 'b1', null, null, null, null, null, 13, 1],
      [103, RecordKind.OBSERVATION, 'b2', 'd2', null, null, null, null, 1_764_120_000_789, 7],
    ])
    assert.deepEqual(unpackRunItems(rows[1]![10] as Buffer), run1)
    assert.deepEqual(unpackRunItems(rows[3]![10] as Buffer), run2)
    assert.equal(rows[0]![10], null)
    assert.equal((db.prepare('SELECT SUM(n) AS s FROM records').get() as { s: number }).s, 109)
    // The next batch has no run row: the narrow statement, n and items by default.
    assert.equal(c.appendRecord(RecordKind.OBSERVATION, 'b1', 'd1', null, 1, 2, null, null, 14, null, null, null), 110)
    c.flush()
    assert.deepEqual(db.prepare('SELECT hub_seq, value, n, items FROM records WHERE hub_seq > 103').raw().all(), [[110, 2, 1, null]])
    c.close()
    db.close()
  }
})

test('store: after a restart hub_seq continues above the last run\'s last record', () => {
  const dir = tempDir('runs')
  let db = openDatabase(dir)
  let c = new GroupCommitter(db, { intervalMs: 10_000, maxRecords: 100 })
  c.appendRecord(RecordKind.OBSERVATION, 'b', 'd', null, 1, 1, null, null, 5, null, null, null)
  assert.equal(c.appendRun('b', 'd', null, 6, 50, packRunItems(Array.from({ length: 50 }, (_, i) => item(i)))), 2)
  c.close()
  db.close()
  db = openDatabase(dir)
  c = new GroupCommitter(db, { intervalMs: 10_000, maxRecords: 100 })
  assert.equal(c.appendRecord(RecordKind.OBSERVATION, 'b', 'd', null, 1, 1, null, null, 7, null, null, null), 52, 'the run held 2..51')
  c.close()
  db.close()
})

test('store: a run counts one row toward the batch size; a held message\'s runs grow the batch; a failed commit fails every hub_seq of its runs', async () => {
  const db = openDatabase(tempDir('runs'))
  const c = new GroupCommitter(db, { intervalMs: 10_000, maxRecords: 3 })
  const blob = packRunItems(Array.from({ length: 10 }, (_, i) => item(i)))
  c.appendRun('b', 'd', null, 1, 10, blob)
  c.appendRun('b', 'd', null, 1, 10, blob)
  assert.equal(c.pendingCount, 20, 'two rows of three: not committed yet')
  c.appendRun('b', 'd', null, 1, 10, blob)
  assert.equal(c.pendingCount, 0, 'the third row filled the batch')
  c.hold(5)
  for (let i = 0; i < 5; i++) c.appendRun('b', 'd', null, 1, 10, blob) // past the 3-row capacity: the columns grow
  c.release()
  assert.deepEqual(db.prepare('SELECT hub_seq, n FROM records ORDER BY hub_seq').raw().all(), [1, 11, 21, 31, 41, 51, 61, 71].map((s) => [s, 10]))
  // A row already at hub_seq 91: the batch whose second run starts there cannot commit.
  db.prepare('INSERT INTO records (hub_seq, kind, hub_time_ms) VALUES (91, 4, 1)').run()
  const from = c.peekHubSeq
  assert.equal(c.appendRun('b', 'd', null, 1, 10, blob), 81)
  c.appendRun('b', 'd', null, 1, 10, blob)
  c.flush()
  const err = await new Promise<Error | null>((resolve) => c.durableFrom(from + 15, resolve))
  assert.match(String(err), /UNIQUE constraint failed: records\.hub_seq/, 'a hub_seq inside the failed run is reported failed')
  assert.equal((db.prepare('SELECT COUNT(*) AS k FROM records WHERE hub_seq > 80').get() as { k: number }).k, 1, 'only the row that was there')
  assert.throws(() => c.appendRun('b', 'd', null, 1, 0, blob), /a run holds 1 to 2\^32-1 observations, not 0/)
  c.close()
  db.close()
})

test('store: with runs per message, the commit writes a message\'s consecutive observations of one subject as one row over their hub_seqs; anything else between them, another message or no message keeps rows apart', async () => {
  const db = openDatabase(tempDir('runs'))
  const commits: number[] = []
  const c = new GroupCommitter(db, { intervalMs: 10_000, maxRecords: 8, runs: 'per-message' }, { onCommit: (n) => commits.push(n) })
  const obs = (bed: string, i: number, hubTimeMs = 100, unit: string | null = '%') => c.appendRecord(RecordKind.OBSERVATION, bed, `d-${bed}`, null, 150456, 90 + i, unit, 50 + i, hubTimeMs, i, 0, null)
  const message = (f: () => void) => {
    c.hold(4)
    f()
    c.release()
  }
  message(() => { obs('a', 0); obs('a', 1); obs('a', 2) }) // 1..3: one run
  message(() => { obs('a', 3); obs('a', 4) }) // 4..5: a run of its own, not joined to the message before
  message(() => {
    obs('a', 5)
    c.appendRecord(RecordKind.ALARM, 'a', null, null, null, null, null, null, 100, null, null, Buffer.from('{}')) // 7: an alarm the 6th raised
    obs('a', 6)
    obs('a', 7)
  }) // 6 single, 7 alarm, 8..9 run
  obs('a', 8) // 10: outside a message
  obs('a', 9) // 11
  message(() => { obs('a', 10); obs('b', 11); obs('b', 12); obs('b', 13, 101); obs('b', 14, 101, 'µ'.repeat(200)); obs('b', 15, 101) })
  // 12 a, 13..14 b run, 15 another hub time, 16 a unit too long to pack, 17 single
  message(() => { for (let i = 0; i < 20; i++) obs('c', 100 + i) }) // past maxRecords inside a hold: one batch, one run 18..37
  c.flush()
  await new Promise((resolve) => c.whenCommitted(resolve)) // onCommit follows the WAL's fsync
  const rows = db.prepare('SELECT hub_seq, kind, n FROM records ORDER BY hub_seq').raw().all()
  assert.deepEqual(rows, [[1, 1, 3], [4, 1, 2], [6, 1, 1], [7, 3, 1], [8, 1, 2], [10, 1, 1], [11, 1, 1], [12, 1, 1], [13, 1, 2], [15, 1, 1], [16, 1, 1], [17, 1, 1], [18, 1, 20]])
  assert.equal(commits.reduce((a, b) => a + b, 0), 37, 'commits count records')
  const run = db.prepare('SELECT bed_id, device_id, hub_time_ms, code, value, unit, items FROM records WHERE hub_seq = 18').raw().get() as unknown[]
  assert.deepEqual(run.slice(0, 6), ['c', 'd-c', 100, null, null, null], 'a run row\'s per-observation columns are NULL')
  assert.deepEqual(unpackRunItems(run[6] as Buffer), Array.from({ length: 20 }, (_, i) => ({ code: 150456, value: 190 + i, unit: '%', deviceTimeMs: 150 + i, deviceSeq: 100 + i, quality: 0 })))
  assert.equal(c.peekHubSeq, 38)
  c.close()
  db.close()
})
