/**
 * Store-level durability policy without services: quota shedding order, refusal, retention,
 * hub_seq floor, epoch keys by acceptance time, adaptive batch size.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { GroupCommitter, RecordKind, type RecordKindCode } from '../../agent/store/commit.js'
import { openDatabase, type Db } from '../../agent/store/db.js'
import { Meta, MetaKey } from '../../agent/store/meta.js'
import { Outbox } from '../../agent/store/outbox.js'
import { StoreQuota, storeUsedBytes } from '../../agent/store/quota.js'
import { Retention } from '../../agent/store/retention.js'
import { AdaptiveBatch } from '../../agent/sync/flow.js'
import { Pseudonymizer } from '../../agent/sync/pseudonym.js'
import { tempDir } from '../support/agent-process.js'

const WAVE_BYTES = 2048

function rowOf(kind: RecordKindCode, i: number) {
  return {
    kind, bedId: 'b', deviceId: 'd', admissionId: null, code: kind === RecordKind.WAVEFORM ? 131330 : 150456, value: i, unit: 'x',
    deviceTimeMs: i, hubTimeMs: 1_000_000 + i, deviceSeq: i, quality: 0, body: kind === RecordKind.WAVEFORM ? Buffer.alloc(WAVE_BYTES, i & 0xff) : kind === RecordKind.OBSERVATION ? null : Buffer.from('{"a":1}'),
  }
}

function fill(db: Db, kinds: RecordKindCode[], n: number): void {
  const c = new GroupCommitter(db, { intervalMs: 1000, maxRecords: 100_000 })
  for (let i = 0; i < n; i++) c.append(rowOf(kinds[i % kinds.length]!, i))
  c.close()
}

const countKind = (db: Db, kind: number) => (db.prepare('SELECT COUNT(*) n FROM records WHERE kind = ?').get(kind) as { n: number }).n

test('durability: over quota, synced records go first, then unsynced waveforms oldest-first; numerics, alarms and audit are never shed', () => {
  const db = openDatabase(tempDir('quota'))
  // 1 in 4 a numeric, an alarm, an audit event; 1 in 4 a 2 KiB waveform chunk.
  fill(db, [RecordKind.OBSERVATION, RecordKind.WAVEFORM, RecordKind.ALARM, RecordKind.AUDIT], 8000)
  const outbox = new Outbox(db)
  outbox.advance(800) // Kafka acknowledged the first 800
  const used = storeUsedBytes(db)
  const events: string[] = []
  const quota = new StoreQuota(db, outbox, Math.floor(used * 0.6), { shed: (n, lo, hi) => events.push(`shed ${n} ${lo}..${hi}`), condition: (a) => events.push(`condition ${a}`) })
  const pass = quota.enforce()
  console.log(`# quota: ${(used / 1024).toFixed(0)} KiB → ${(pass.usedBytes / 1024).toFixed(0)} KiB under a quota of ${(quota.limitBytes / 1024).toFixed(0)} KiB; ${pass.shed} waveforms shed`)
  assert.ok(pass.usedBytes <= quota.limitBytes)
  assert.equal(pass.refusing, false)
  assert.equal((db.prepare('SELECT COUNT(*) n FROM records WHERE hub_seq <= 800').get() as { n: number }).n, 0, 'synced records deleted first')
  assert.equal(countKind(db, RecordKind.OBSERVATION), 2000 - 200)
  assert.equal(countKind(db, RecordKind.ALARM), 2000 - 200)
  assert.equal(countKind(db, RecordKind.AUDIT), 2000 - 200)
  assert.equal(countKind(db, RecordKind.WAVEFORM), 2000 - 200 - pass.shed)
  // Oldest first: every remaining waveform is newer than every shed one.
  const minWave = (db.prepare('SELECT MIN(hub_seq) m FROM records WHERE kind = 2').get() as { m: number }).m
  const maxGone = (db.prepare('SELECT MAX(hub_seq) m FROM records WHERE kind = 2 AND hub_seq > 800').get() as { m: number }).m
  assert.ok(minWave > 800 + 4 * (pass.shed - 1), `oldest remaining waveform ${minWave}`)
  assert.ok(maxGone >= minWave)
  assert.equal(new Meta(db).number(MetaKey.SHED_WAVEFORMS), pass.shed)
  assert.deepEqual(events.map((e) => e.split(' ')[0]), ['shed', 'condition'])
  assert.equal(db.pragma('integrity_check', { simple: true }), 'ok')
  db.close()
})

test('durability: waveforms already on their way to Kafka are not shed', () => {
  const db = openDatabase(tempDir('quota'))
  fill(db, [RecordKind.WAVEFORM], 1000)
  const outbox = new Outbox(db)
  outbox.markInFlight(300)
  const quota = new StoreQuota(db, outbox, Math.floor(storeUsedBytes(db) * 0.5), { shed: () => undefined, condition: () => undefined })
  quota.enforce()
  assert.equal((db.prepare('SELECT COUNT(*) n FROM records WHERE hub_seq <= 300').get() as { n: number }).n, 300)
  // The send failed: those chunks are the oldest again and go first at the next pass.
  outbox.clearInFlight()
  fill(db, [RecordKind.WAVEFORM], 200)
  quota.enforce()
  assert.ok((db.prepare('SELECT MIN(hub_seq) m FROM records').get() as { m: number }).m > 1, 'the oldest chunk was shed')
  assert.equal(db.pragma('integrity_check', { simple: true }), 'ok')
  db.close()
})

/** Bytes of a freshly created store: the floor under every quota. */
function emptyStoreBytes(): number {
  const db = openDatabase(tempDir('empty'))
  const n = storeUsedBytes(db)
  db.close()
  return n
}

test('durability: when numerics, alarms and audit alone exceed the quota, input is refused; the store resumes under 90 %', () => {
  const db = openDatabase(tempDir('quota'))
  fill(db, [RecordKind.OBSERVATION, RecordKind.ALARM, RecordKind.WAVEFORM], 6000)
  const outbox = new Outbox(db)
  const conditions: boolean[] = []
  const used = storeUsedBytes(db)
  // The empty store plus 96 KiB: every table and index of the schema takes a page or more (~23
  // pages at v7, and each schema adds some), so the quota follows the schema; far below 4000
  // numerics and alarms.
  const quota = new StoreQuota(db, outbox, emptyStoreBytes() + 96 * 1024, { shed: () => undefined, condition: (a) => conditions.push(a) })
  const pass = quota.enforce()
  assert.equal(pass.shed, 2000, 'every unsynced waveform shed')
  assert.equal(outbox.depth(), 4000, 'the running depth follows the shedding')
  assert.equal(pass.refusing, true)
  assert.equal(quota.refusing, true)
  assert.equal(countKind(db, RecordKind.OBSERVATION), 2000)
  assert.equal(countKind(db, RecordKind.ALARM), 2000)
  // The cloud comes back and acknowledges everything: the next pass deletes synced rows and resumes.
  outbox.advance(6000, 4000)
  assert.equal(outbox.depth(), 0)
  quota.enforce()
  quota.enforce()
  assert.equal(quota.refusing, false)
  assert.deepEqual(conditions, [true, false])
  assert.equal(db.pragma('integrity_check', { simple: true }), 'ok')
  db.close()
})

test('durability: retention deletes only acknowledged records past the horizon, and hub_seq is never reused', () => {
  const dir = tempDir('retention')
  let db = openDatabase(dir)
  fill(db, [RecordKind.OBSERVATION], 1000) // hub_time 1_000_000 + i
  const outbox = new Outbox(db)
  outbox.advance(1000)
  const r = new Retention(db, outbox)
  assert.equal(r.purge(1_000_500), 500, 'older than the horizon and synced')
  assert.equal(r.purge(2_000_000), 500)
  assert.equal(r.checkpoint().busy, false)
  db.close()
  db = openDatabase(dir)
  const c = new GroupCommitter(db, { intervalMs: 5, maxRecords: 10 })
  assert.equal(c.append(rowOf(RecordKind.OBSERVATION, 1)), 1001, 'the hub_seq floor survives an empty table')
  c.close()
  db.close()
})

test('durability: unsynced records stay however old they are', () => {
  const db = openDatabase(tempDir('retention'))
  fill(db, [RecordKind.OBSERVATION], 100)
  const outbox = new Outbox(db)
  outbox.advance(40)
  assert.equal(new Retention(db, outbox).purge(Number.MAX_SAFE_INTEGER), 40)
  assert.equal(outbox.depth(), 60)
  db.close()
})

test('durability: a record takes the key of the epoch in force when it was accepted; pruned keys are forgotten', () => {
  const dir = tempDir('keys')
  const p = Pseudonymizer.open(dir, 'site', 1000)
  const e1 = p.currentEpoch
  const e2 = p.rotate(5000)
  assert.equal(p.epochAt(4999).id, e1.id)
  assert.equal(p.epochAt(5000).id, e2.id)
  assert.equal(p.epochAt(10).id, e1.id, 'records older than every key use the oldest')
  assert.notEqual(p.pseudonymIn(e1, 'patient', 'MRN'), p.pseudonymIn(e2, 'patient', 'MRN'))
  const e3 = p.rotate(4000) // the wall clock stepped back: epochs still increase
  assert.ok(e3.createdMs > e2.createdMs)
  assert.deepEqual(p.prune(5001), [e1.id], 'e1 ended at 5000, before the horizon')
  const reopened = Pseudonymizer.open(dir, 'site', 9000)
  assert.deepEqual(reopened.all.map((e) => e.id), [e2.id, e3.id])
  assert.equal(reopened.pseudonymIn(reopened.all[0]!, 'patient', 'MRN'), p.pseudonymIn(e2, 'patient', 'MRN'))
})

test('durability: the batch size grows while acknowledgements are fast and halves when slow or failing', () => {
  const b = new AdaptiveBatch(100, 5000, 1000)
  assert.equal(b.size, 1000)
  b.acknowledged(1000, 200)
  assert.equal(b.size, 1500)
  b.acknowledged(10, 200)
  assert.equal(b.size, 1500, 'a partial batch says nothing about capacity')
  b.acknowledged(1500, 2500)
  assert.equal(b.size, 750)
  for (let i = 0; i < 20; i++) b.failed()
  assert.equal(b.size, 100)
  for (let i = 0; i < 20; i++) b.acknowledged(b.size, 10)
  assert.equal(b.size, 5000)
})
