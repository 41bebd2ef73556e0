import assert from 'node:assert/strict'
import { statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import Database from 'better-sqlite3'
import { GroupCommitter, RecordKind, STORE_REJECTED, type SetAsideRecord } from '../../agent/store/commit.js'
import { openDatabase, SCHEMA_VERSION, StoreError } from '../../agent/store/db.js'
import { Col, Outbox } from '../../agent/store/outbox.js'
import { Pseudonymizer } from '../../agent/sync/pseudonym.js'
import { tempDir } from '../support/agent-process.js'

const row = (i: number) => ({ kind: RecordKind.OBSERVATION, bedId: 'b', deviceId: 'd', admissionId: null, code: 147842, value: 70 + i, unit: '/min', deviceTimeMs: i, hubTimeMs: i, deviceSeq: i, quality: 0, body: null })

test('store: WAL with synchronous=FULL, a 2 MiB page cache, the database file readable by the agent only', () => {
  const dir = tempDir('store')
  const db = openDatabase(dir)
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal')
  assert.equal(db.pragma('synchronous', { simple: true }), 2) // 2 = FULL
  assert.equal(db.pragma('cache_size', { simple: true }), -2000) // KiB; better-sqlite3's build default is 16 MiB
  assert.equal(statSync(join(dir, 'bedside.db')).mode & 0o777, 0o600)
  db.close()
})

test('store: group commit acknowledges only after the batch is durable, and hub_seq keeps rising across restarts', async () => {
  const dir = tempDir('store')
  let db = openDatabase(dir)
  let c = new GroupCommitter(db, { intervalMs: 5, maxRecords: 1000 })
  const seqs = [c.append(row(1)), c.append(row(2))]
  assert.deepEqual(seqs, [1, 2])
  assert.equal((db.prepare('SELECT COUNT(*) n FROM records').get() as { n: number }).n, 0, 'nothing written before the commit closes')
  await new Promise<void>((resolve, reject) => c.whenCommitted((err) => (err ? reject(err) : resolve())))
  assert.equal((db.prepare('SELECT COUNT(*) n FROM records').get() as { n: number }).n, 2)
  c.close()
  db.close()
  db = openDatabase(dir)
  c = new GroupCommitter(db, { intervalMs: 5, maxRecords: 1000 })
  assert.equal(c.append(row(3)), 3)
  c.close()
  db.close()
})

test('store: a batch reaching max records commits at once; a failed commit fails its waiters', () => {
  const dir = tempDir('store')
  const db = openDatabase(dir)
  const c = new GroupCommitter(db, { intervalMs: 10_000, maxRecords: 3 })
  for (let i = 0; i < 3; i++) c.append(row(i))
  assert.equal((db.prepare('SELECT COUNT(*) n FROM records').get() as { n: number }).n, 3)
  const errors: (Error | null)[] = []
  c.append({ ...row(9), kind: 99 as never, bedId: null })
  db.exec('DROP TABLE records') // the next commit cannot succeed
  c.whenCommitted((err) => errors.push(err))
  c.flush()
  assert.equal(errors.length, 1)
  assert.ok(errors[0] instanceof Error)
  db.close()
})

test('store: every column round-trips through the batch, NULLs included, with hub_seq in append order across a full batch', () => {
  const db = openDatabase(tempDir('store'))
  const c = new GroupCommitter(db, { intervalMs: 10_000, maxRecords: 2 })
  const body = Buffer.from([1, 2, 3, 4])
  const seqs = [
    c.appendRecord(RecordKind.OBSERVATION, 'b1', 'd1', 7, 150456, 97.5, '%', 1_764_120_000_123, 1_764_120_000_456, 12, 0, null),
    c.append({ kind: RecordKind.AUDIT, bedId: null, deviceId: null, admissionId: null, code: null, value: null, unit: null, deviceTimeMs: null, hubTimeMs: 5, deviceSeq: null, quality: null, body }),
    c.appendRecord(RecordKind.WAVEFORM, 'b2', 'd2', null, 131330, 250, 'uV', 1, 2, 3, 4, body), // the batch of two was committed before this one
  ]
  c.close()
  assert.deepEqual(seqs, [1, 2, 3])
  const rows = db.prepare('SELECT hub_seq, kind, bed_id, device_id, admission_id, code, value, unit, device_time_ms, hub_time_ms, device_seq, quality, body FROM records ORDER BY hub_seq').raw().all()
  assert.deepEqual(rows, [
    [1, RecordKind.OBSERVATION, 'b1', 'd1', 7, 150456, 97.5, '%', 1_764_120_000_123, 1_764_120_000_456, 12, 0, null],
    [2, RecordKind.AUDIT, null, null, null, null, null, null, null, 5, null, null, body],
    [3, RecordKind.WAVEFORM, 'b2', 'd2', null, 131330, 250, 'uV', 1, 2, 3, 4, body],
  ])
  db.close()
})

/** Row `i` of a batch that mixes kinds, NULLs, bodies and t0_us, as `records` holds it (with hub_seq). */
function mixedRow(i: number): unknown[] {
  const body = i % 3 === 0 ? Buffer.from([i & 255, 1, 2]) : null
  const nullable = <T>(x: T): T | null => (i % 5 === 0 ? null : x)
  return [i + 1, i % 4 === 0 ? RecordKind.WAVEFORM : RecordKind.OBSERVATION, nullable(`bed-${i % 7}`), nullable(`dev-${i % 3}`), nullable(i % 2), 150456 + i, i % 5 === 0 ? null : i / 8, nullable('%'),
    nullable(1_764_120_000_000 + i), 1_764_120_100_000 + i, nullable(i * 2), nullable(i % 2), body, i % 4 === 0 ? 1_764_120_000_000_123 + i : null]
}

test('store: a batch written as multi-row INSERTs and a one-by-one rest keeps every column and hub_seq order (32 rows per statement, and 5)', () => {
  for (const rowsPerInsert of [undefined, 5]) {
    const db = openDatabase(tempDir('store'))
    // 75 records in one held message (the batch grows past maxRecords): 2 × 32 + 11 rows, or 15 × 5.
    const c = new GroupCommitter(db, { intervalMs: 10_000, maxRecords: 16, ...(rowsPerInsert ? { rowsPerInsert } : {}) })
    const want = Array.from({ length: 75 }, (_, i) => mixedRow(i))
    c.hold(want.length)
    const seqs = want.map((r) => c.appendRecord(r[1] as 1, r[2] as string, r[3] as string, r[4] as number, r[5] as number, r[6] as number, r[7] as string, r[8] as number, r[9] as number, r[10] as number, r[11] as number, r[12] as Buffer, r[13] as number))
    c.release()
    assert.equal(c.pendingCount, 0, 'the held message filled the batch: committed at release')
    assert.deepEqual(seqs, want.map((r) => r[0]))
    const rows = db.prepare('SELECT hub_seq, kind, bed_id, device_id, admission_id, code, value, unit, device_time_ms, hub_time_ms, device_seq, quality, body, t0_us FROM records ORDER BY hub_seq').raw().all()
    assert.deepEqual(rows, want)
    c.close()
    db.close()
  }
})

test('store: a multi-row INSERT that fails rolls the whole batch back, and its waiters get the error', async () => {
  const db = openDatabase(tempDir('store'))
  const c = new GroupCommitter(db, { intervalMs: 10_000, maxRecords: 100 })
  // A row already holding hub_seq 40: the batch's second 32-row statement (hub_seq 33–64) collides.
  db.prepare('INSERT INTO records (hub_seq, kind, hub_time_ms) VALUES (40, 4, 1)').run()
  for (let i = 0; i < 70; i++) {
    const r = mixedRow(i)
    c.appendRecord(RecordKind.OBSERVATION, r[2] as string, r[3] as string, null, 1, 2, null, null, 3, null, null, null)
  }
  const outcome = new Promise<Error | null>((resolve) => c.whenCommitted(resolve))
  c.flush()
  const err = await outcome
  assert.match(String(err), /UNIQUE constraint failed: records\.hub_seq/)
  assert.deepEqual(db.prepare('SELECT hub_seq FROM records').raw().all(), [[40]], 'none of the batch was written, not even the first statement\'s 32 rows')
  c.close()
  db.close()
})

test('store: the outbox reads in hub_seq order and its cursor survives a restart', async () => {
  const dir = tempDir('store')
  let db = openDatabase(dir)
  const c = new GroupCommitter(db, { intervalMs: 1, maxRecords: 100 })
  for (let i = 0; i < 10; i++) c.append(row(i))
  c.flush()
  let ob = new Outbox(db)
  assert.deepEqual(ob.read(4).map((r) => r[Col.HUB_SEQ]), [1, 2, 3, 4])
  ob.advance(4)
  assert.equal(ob.depth(), 6)
  // The cursor alone is committed without an fsync; every other commit keeps synchronous=FULL (2).
  assert.equal(db.pragma('synchronous', { simple: true }), 2, 'FULL again after the cursor update')
  db.close()
  db = openDatabase(dir)
  ob = new Outbox(db)
  assert.equal(ob.cursor, 4)
  assert.deepEqual(ob.read(100).map((r) => r[Col.HUB_SEQ]), [5, 6, 7, 8, 9, 10])
  db.close()
})

test('store: a corrupt file or one from a newer schema is refused with the file named, and left untouched', () => {
  const dir = tempDir('store')
  const file = join(dir, 'bedside.db')
  writeFileSync(file, Buffer.alloc(8192, 0x5a))
  const before = statSync(file).mtimeMs
  assert.throws(() => openDatabase(dir), (e: unknown) => e instanceof StoreError && e.code === 'BEDSIDE_ERR_STORE_CORRUPT' && e.message.includes(file))
  assert.equal(statSync(file).mtimeMs, before)

  const dir2 = tempDir('store')
  const raw = new Database(join(dir2, 'bedside.db'))
  raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`)
  raw.close()
  assert.throws(() => openDatabase(dir2), (e: unknown) => e instanceof StoreError && e.code === 'BEDSIDE_ERR_STORE_NEWER' && /newer than this agent supports/.test(e.message))
})

test('pseudonym: the key file is created 0600, pseudonyms are stable and keyed, rotation changes them', () => {
  const dir = tempDir('keys')
  const p = Pseudonymizer.open(dir, 'site-a', 1000)
  assert.equal(statSync(join(dir, 'keys.json')).mode & 0o777, 0o600)
  const a = p.pseudonym('patient', 'MRN-1')
  assert.equal(p.pseudonym('patient', 'MRN-1'), a)
  assert.notEqual(p.pseudonym('device', 'MRN-1'), a, 'patients and devices never share a pseudonym')
  assert.equal(Pseudonymizer.open(dir, 'site-a', 2000).pseudonym('patient', 'MRN-1'), a, 'the key survives a restart')
  assert.notEqual(Pseudonymizer.open(dir, 'site-b', 2000).pseudonym('patient', 'MRN-1'), a, 'the site is part of the input')
  p.rotate(3000)
  const b = p.pseudonym('patient', 'MRN-1')
  assert.notEqual(b, a)
  assert.deepEqual(p.allPseudonyms('patient', 'MRN-1').map((x) => x.pseudonym), [a, b])
})

test('store: a record the store refuses is set aside whole in the dead-letter; the rest of its batch commits and every waiter succeeds', async () => {
  for (const runs of ['off', 'per-message'] as const) {
    const db = openDatabase(tempDir('store'))
    const setAside: SetAsideRecord[][] = []
    const committed: number[] = []
    const c = new GroupCommitter(db, { intervalMs: 10_000, maxRecords: 100, runs }, { onCommit: (n) => committed.push(n), onSetAside: (r) => setAside.push([...r]) })
    // A companion's rows must commit with the batch (the redelivery window's keys do).
    db.exec('CREATE TABLE companion (n INTEGER) STRICT')
    const companionInsert = db.prepare('INSERT INTO companion (n) VALUES (1)')
    c.attach({ write: () => companionInsert.run(), settled: () => {} })
    // 70 records from two "messages" (multi-row statements of 32, then one by one). Two carry values
    // no decoder lets through today, which STRICT columns refuse: a time beyond int64 and a
    // fractional code. Before, each failed the whole batch: every bed's records, on every re-send.
    const bad = new Map([[5, { deviceTimeMs: 1e300 }], [50, { code: 1.5 }]])
    c.hold(35)
    for (let i = 0; i < 70; i++) {
      if (i === 35) {
        c.release()
        c.hold(35)
      }
      const b = bad.get(i)
      c.appendRecord(RecordKind.OBSERVATION, `bed-${i >> 4}`, 'mon', null, b?.code ?? 147842, i, '/min', b?.deviceTimeMs ?? 1000 + i, 2000, i, null, null)
    }
    c.release()
    const outcome = new Promise<Error | null>((resolve) => c.whenCommitted(resolve))
    c.flush()
    assert.equal(await outcome, null, `${runs}: the batch's waiters succeed`)
    const stored = db.prepare('SELECT hub_seq, n FROM records ORDER BY hub_seq').all() as { hub_seq: number; n: number }[]
    const seqs = stored.flatMap((r) => Array.from({ length: r.n }, (_, k) => r.hub_seq + k))
    // With runs, the far time is one of a run row's packed items (doubles, run-items.ts): stored.
    const refusedSeqs = runs === 'off' ? [6, 51] : [51]
    assert.deepEqual(seqs, Array.from({ length: 70 }, (_, i) => i + 1).filter((s) => !refusedSeqs.includes(s)), `${runs}: every other record stored at its hub_seq`)
    assert.deepEqual(committed, [70 - refusedSeqs.length], `${runs}: onCommit counts the stored records only (the outbox depth)`)
    assert.deepEqual(setAside.flat().map((r) => [r.hubSeq, r.records, r.code]), refusedSeqs.map((s) => [s, 1, 'SQLITE_CONSTRAINT_DATATYPE']))
    const dead = db.prepare('SELECT hub_seq, kind, reason, detail FROM dead_letter ORDER BY hub_seq').all() as { hub_seq: number; kind: number; reason: string; detail: string }[]
    assert.deepEqual(dead.map((d) => [d.hub_seq, d.kind, d.reason]), refusedSeqs.map((s) => [s, 1, STORE_REJECTED]))
    const last = JSON.parse(dead.at(-1)!.detail) as Record<string, unknown>
    assert.deepEqual({ bed: last.bed_id, device: last.device_id, code: last.code, value: last.value, unit: last.unit, t: last.device_time_ms, seq: last.device_seq, hubSeq: last.hub_seq },
      { bed: 'bed-3', device: 'mon', code: 1.5, value: 50, unit: '/min', t: 1050, seq: 50, hubSeq: 51 }, `${runs}: the refused record is kept whole`)
    assert.match(String(last.error), /SQLITE_CONSTRAINT_DATATYPE: cannot store REAL value in INTEGER column/)
    if (runs === 'off') assert.equal(JSON.parse(dead[0]!.detail).device_time_ms, 1e300)
    assert.equal((db.prepare('SELECT COUNT(*) n FROM companion').get() as { n: number }).n, 1, `${runs}: the companion's rows committed once, with the batch`)
    // The next batch is untouched by the set-aside.
    c.append(row(1))
    c.flush()
    assert.equal((db.prepare('SELECT MAX(hub_seq) m FROM records').get() as { m: number }).m, 71)
    await c.close()
    db.close()
  }
})

test('store: an I/O-class error still fails the whole batch; nothing is set aside for it', () => {
  const db = openDatabase(tempDir('store'))
  const setAside: unknown[] = []
  const c = new GroupCommitter(db, { intervalMs: 10_000, maxRecords: 100 }, { onSetAside: (r) => setAside.push(r) })
  c.appendRecord(RecordKind.OBSERVATION, 'b', 'd', null, 1.5, 1, null, 1, 2, null, null, null) // refused by its column
  c.appendRecord(RecordKind.OBSERVATION, 'b', 'd', null, 1, 1, null, 1, 2, null, null, null)
  db.exec('DROP TABLE dead_letter') // the set-aside itself cannot be written: the batch must fail whole, not lose the record
  const errors: (Error | null)[] = []
  c.whenCommitted((err) => errors.push(err))
  c.flush()
  assert.equal(errors.length, 1)
  assert.match(String(errors[0]), /no such table: dead_letter/)
  assert.equal((db.prepare('SELECT COUNT(*) n FROM records').get() as { n: number }).n, 0, 'nothing of the batch was written')
  assert.deepEqual(setAside, [])
  db.close()
})

test('store: a set-aside hub_seq is never given out again, after a restart either; a batch whose every row is refused fails whole', async () => {
  const dir = tempDir('store')
  let db = openDatabase(dir)
  let c = new GroupCommitter(db, { intervalMs: 10_000, maxRecords: 100 })
  c.appendRecord(RecordKind.OBSERVATION, 'b', 'd', null, 1, 1, null, 1, 2, null, null, null)
  c.appendRecord(RecordKind.OBSERVATION, 'b', 'd', null, 1.5, 1, null, 1, 2, null, null, null) // refused, and the last hub_seq
  const first = new Promise<Error | null>((resolve) => c.whenCommitted(resolve))
  c.flush()
  assert.equal(await first, null)
  await c.close()
  db.close()
  db = openDatabase(dir)
  c = new GroupCommitter(db, { intervalMs: 10_000, maxRecords: 100 })
  assert.equal(c.peekHubSeq, 3, 'hub_seq 2 is in the dead-letter: the next record is 3')
  // A fault that refuses every row (here two bad rows stand for it) is not set aside wholesale.
  c.appendRecord(RecordKind.OBSERVATION, 'b', 'd', null, 2.5, 1, null, 1, 2, null, null, null)
  c.appendRecord(RecordKind.OBSERVATION, 'b', 'd', null, 3.5, 1, null, 1, 2, null, null, null)
  const second = new Promise<Error | null>((resolve) => c.whenCommitted(resolve))
  c.flush()
  assert.match(String(await second), /BEDSIDE_ERR_STORE_REFUSED: every row of a group commit was refused/)
  assert.deepEqual(db.prepare('SELECT hub_seq FROM dead_letter').raw().all(), [[2]])
  await c.close()
  db.close()
})

test('store: the set-aside callback may append and commit again; durableSeq never goes back', async () => {
  const db = openDatabase(tempDir('store'))
  let c: GroupCommitter
  const durable: number[] = []
  c = new GroupCommitter(db, { intervalMs: 10_000, maxRecords: 2, fsync: 'inline' }, {
    onCommit: () => durable.push(c.durableSeq),
    // as the agent's audit does: one record per refused row, here enough to fill a batch
    onSetAside: (refused) => { for (let i = 0; i < refused.length + 1; i++) c.append(row(100 + i)) },
  })
  c.appendRecord(RecordKind.OBSERVATION, 'b', 'd', null, 1, 1, null, 1, 2, null, null, null)
  c.appendRecord(RecordKind.OBSERVATION, 'b', 'd', null, 1.5, 1, null, 1, 2, null, null, null)
  await new Promise((r) => setImmediate(r))
  c.flush()
  assert.deepEqual(durable, [2, 4], 'the callback\'s batch committed after the set-aside batch, in order')
  assert.equal(c.durableSeq, 4)
  assert.equal(await new Promise<Error | null>((resolve) => c.whenCommitted(resolve)), null)
  await c.close()
  db.close()
})
