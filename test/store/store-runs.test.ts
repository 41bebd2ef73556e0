/**
 * The readers of `records` other than the sync, on run rows (issue 23, `store.observation_runs:
 * per-message`): PCD-01 results, the HL7 cursors and queue, the quota, retention and `bedside-hub
 * queue`. Each is run on a store with a row per observation and on one with run rows fed the same
 * messages, and must see the same records.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { parseConfig } from '../../agent/config.js'
import { ResultsSource, AlarmsSource, type Outgoing, type Skip } from '../../agent/hl7/pcd-sources.js'
import { Admissions } from '../../agent/store/admissions.js'
import { auditBody } from '../../agent/store/bodies.js'
import { GroupCommitter, RecordKind, type ObservationRunsMode } from '../../agent/store/commit.js'
import { openDatabase, type Db } from '../../agent/store/db.js'
import { hl7QueueReport, Hl7Cursors } from '../../agent/store/hl7-cursor.js'
import { queueReport } from '../../agent/store/inspect.js'
import { Col, forEachRecord, lastSeqOf, Outbox, type OutboxRow } from '../../agent/store/outbox.js'
import { StoreQuota } from '../../agent/store/quota.js'
import { Retention } from '../../agent/store/retention.js'
import { tempDir } from '../support/agent-process.js'

const P = 60_000
const T = 100 * P

/**
 * Bed b1 (admitted at 0, a second patient at T + 3.5 P): per period a few messages of 1-20
 * observations, some values not chartable, a results request in the middle of period 2, a
 * waveform chunk now and then; then 1,100 observations of bed b3 in 11 messages.
 */
function feed(db: Db, runs: ObservationRunsMode): { admissions: Admissions; c: GroupCommitter } {
  const admissions = new Admissions(db)
  const a1 = admissions.admit('b1', 'GH1', 'Doe, Jane', '1970-01-31', 0).id
  let a2: number | null = null
  const c = new GroupCommitter(db, { intervalMs: 60_000, maxRecords: 50, runs })
  let m = 0
  for (let t = T; t < T + 5 * P; t += 7_000, m++) {
    if (a2 === null && t >= T + 3.5 * P) a2 = admissions.admit('b1', 'GH2', 'Roe, Rick', null, t).id
    const n = [1, 3, 20, 7][m % 4]!
    c.hold(n)
    for (let i = 0; i < n; i++) {
      const q = (m + i) % 9 === 0 ? 2 /* leads off: not charted */ : (m + i) % 5 === 0 ? 1 /* questionable: R */ : 0
      c.appendRecord(RecordKind.OBSERVATION, 'b1', 'mon-1', a2 ?? a1, [150456, 147842, 150033][i % 3]!, 60 + m + i / 10, ['%', '/min', 'mmHg'][i % 3]!, t - 100 + i, t, m * 100 + i, q, null)
    }
    c.release()
    if (m === 20) c.append({ kind: RecordKind.AUDIT, bedId: 'b1', deviceId: null, admissionId: a1, code: null, value: null, unit: null, deviceTimeMs: null, hubTimeMs: t + 1, deviceSeq: null, quality: null, body: auditBody('results-requested', 'nurse:ann', t + 1, 'now') })
    if (m % 6 === 0) c.append({ kind: RecordKind.WAVEFORM, bedId: 'b1', deviceId: 'mon-1', admissionId: a2 ?? a1, code: 131330, value: 250, unit: 'uV', deviceTimeMs: t, hubTimeMs: t, deviceSeq: m, quality: 0, body: Buffer.alloc(4000, m), t0Us: t * 1000 })
  }
  for (let k = 0; k < 11; k++) {
    c.hold(100)
    for (let i = 0; i < 100; i++) c.appendRecord(RecordKind.OBSERVATION, 'b3', 'mon-3', null, 150456, 90, '%', T + 6 * P + k, T + 6 * P + k, k * 100 + i, 0, null)
    c.release()
  }
  c.flush()
  return { admissions, c }
}

function open(root: string, runs: ObservationRunsMode) {
  const dir = join(root, runs)
  const cfg = parseConfig({ hub: { id: 'hub', site: 's', data_dir: dir }, beds: [{ id: 'b1' }, { id: 'b2' }, { id: 'b3' }], hl7: { results: { target: '127.0.0.1:2575', period_s: 60 }, alarms: { target: '127.0.0.1:2575' } } })
  const db = openDatabase(dir)
  // The HL7 cursors start where the store is when first seen: fix them at 0 before the records.
  const cursors = new Hl7Cursors(db)
  for (const d of ['results/b1', 'results/b2', 'results/b3', 'alarms']) cursors.get(d)
  const { admissions, c } = feed(db, runs)
  return { dir, cfg, db, cursors, admissions, c }
}

const recordsOf = (db: Db): OutboxRow[] => {
  const out: OutboxRow[] = []
  for (const row of new Outbox(db).read(1_000_000, 0)) forEachRecord(row, (r) => out.push(r.slice(0, Col.T0_US + 1) as OutboxRow))
  return out
}

test('store runs, PCD-01: results read from run rows are the messages, byte for byte, that a row per observation gives; the queue counts records', () => {
  const root = tempDir('pcd-runs')
  const rows = open(root, 'off')
  const runs = open(root, 'per-message')
  try {
    assert.ok((runs.db.prepare('SELECT COUNT(*) AS k FROM records WHERE n > 1').get() as { k: number }).k > 20, 'the store holds run rows')
    assert.deepEqual(recordsOf(runs.db), recordsOf(rows.db))
    assert.deepEqual(hl7QueueReport(runs.db), hl7QueueReport(rows.db), 'records waiting per destination: Σn')
    const walk = (s: typeof rows): (Outgoing | Skip)[] => {
      const src = new ResultsSource(s.db, s.cfg, s.cursors, s.admissions)
      const out: (Outgoing | Skip)[] = []
      for (let next = src.nextOf('b1', T + 10 * P); next !== null; next = src.nextOf('b1', T + 10 * P)) {
        out.push(next)
        s.cursors.advance('results/b1', 'skipTo' in next ? next.skipTo : next.toSeq)
      }
      return out
    }
    const depth = new ResultsSource(runs.db, runs.cfg, runs.cursors, runs.admissions).depth()
    assert.deepEqual(depth, new ResultsSource(rows.db, rows.cfg, rows.cursors, rows.admissions).depth())
    assert.equal(depth.n, (rows.db.prepare("SELECT COUNT(*) AS k FROM records WHERE kind = 1 AND bed_id IN ('b1', 'b3')").get() as { k: number }).k)
    const a = walk(rows)
    const b = walk(runs)
    assert.ok(a.filter((x) => 'text' in x).length >= 6, 'a message per period and patient, and the one asked for')
    assert.deepEqual(b, a)
    // A message that ends in a run ends at the run's last hub_seq, never inside it.
    const ends = new Set((runs.db.prepare('SELECT hub_seq + n - 1 AS e FROM records').all() as { e: number }[]).map((r) => r.e))
    for (const x of b) assert.ok(ends.has('skipTo' in x ? x.skipTo : x.toSeq), JSON.stringify(x).slice(0, 300))
    // A bed without records passes over the ward's to the newest record: the last run's end.
    const last = (runs.db.prepare('SELECT MAX(hub_seq + n - 1) AS e FROM records').get() as { e: number }).e
    assert.deepEqual(new ResultsSource(runs.db, runs.cfg, runs.cursors, runs.admissions).nextOf('b2', T + 10 * P), { dest: 'results/b2', skipTo: last })
    assert.deepEqual(new AlarmsSource(runs.db, runs.cfg, runs.cursors, runs.admissions).next(), { dest: 'alarms', skipTo: last })
    assert.equal(new Hl7Cursors(runs.db).get('results/new-dest'), last, 'a new destination starts after the newest record, a run\'s end')
  } finally {
    rows.db.close()
    runs.db.close()
  }
})

test('store runs, quota and retention: acknowledged run rows are deleted whole and their hub_seqs never given again; shedding takes waveforms only; depths count records', () => {
  const root = tempDir('quota-runs')
  const rows = open(root, 'off')
  const runs = open(root, 'per-message')
  try {
    // Kafka acknowledged the first 10 % of the records, to a row's end (the sync only moves there;
    // in the store with a row per observation every hub_seq is one).
    const cut = recordsOf(runs.db)[Math.floor(recordsOf(runs.db).length * 0.1)]![Col.HUB_SEQ]
    const acked = lastSeqOf(new Outbox(runs.db).read(1_000_000, 0).find((r) => lastSeqOf(r) >= cut)!)
    for (const s of [rows, runs]) {
      const outbox = new Outbox(s.db)
      const total = recordsOf(s.db).length
      assert.equal(outbox.depth(), total)
      assert.equal(queueReport(s.db).total, total)
      outbox.advance(acked)
      const unsynced = recordsOf(s.db).filter((r) => r[Col.HUB_SEQ] > acked)
      assert.equal(outbox.depth(), unsynced.length)
      const shedEvents: number[] = []
      const quota = new StoreQuota(s.db, outbox, 1, { shed: (count) => shedEvents.push(count), condition: () => undefined })
      const pass = quota.enforce()
      assert.ok(pass.deletedSynced > 0 && pass.refusing)
      const waves = unsynced.filter((r) => r[Col.KIND] === RecordKind.WAVEFORM).length
      assert.ok(waves > 0)
      assert.equal(pass.shed, waves, 'every unsynced waveform shed, nothing else')
      const left = recordsOf(s.db)
      assert.deepEqual(left, unsynced.filter((r) => r[Col.KIND] !== RecordKind.WAVEFORM), 'the unsynced observations and audit records stay, every one')
      assert.equal(outbox.depth(), left.length)
      assert.equal(new Outbox(s.db).depth(), left.length, 'the running depth is the recount')
    }
    assert.deepEqual(recordsOf(runs.db), recordsOf(rows.db))
    for (const s of [rows, runs]) {
      // Everything acknowledged, then retention: deleted, counted in records, and the next hub_seq is past the last run.
      const outbox = new Outbox(s.db)
      const end = lastSeqOf(outbox.read(1_000_000, 0).at(-1)!)
      const records = outbox.depth()
      outbox.advance(end)
      assert.equal(new Retention(s.db, outbox).purge(Number.MAX_SAFE_INTEGER), records)
      assert.equal((s.db.prepare('SELECT COUNT(*) AS k FROM records').get() as { k: number }).k, 0)
      assert.equal(new GroupCommitter(s.db, { intervalMs: 10, maxRecords: 10 }).peekHubSeq, end + 1)
    }
  } finally {
    rows.db.close()
    runs.db.close()
  }
})

test('store runs, quota: deleting acknowledged run rows raises the hub_seq floor to the last run\'s end', () => {
  const root = tempDir('quota-floor')
  const runs = open(root, 'per-message')
  try {
    const outbox = new Outbox(runs.db)
    const rowsRead = outbox.read(1_000_000, 0)
    assert.ok(rowsRead.at(-1)![Col.N]! > 1, 'the store ends with a run row')
    const end = lastSeqOf(rowsRead.at(-1)!)
    outbox.advance(end)
    new StoreQuota(runs.db, outbox, 1, { shed: () => undefined, condition: () => undefined }).enforce()
    assert.equal((runs.db.prepare('SELECT COUNT(*) AS k FROM records').get() as { k: number }).k, 0)
    assert.equal(new GroupCommitter(runs.db, { intervalMs: 10, maxRecords: 10 }).peekHubSeq, end + 1)
  } finally {
    runs.db.close()
  }
})

test('store runs, PCD-01: a run row whose packed items are damaged charts nothing and is passed over; the bed\'s charting goes on', () => {
  const root = tempDir('pcd-runs-damaged')
  const runs = open(root, 'per-message')
  try {
    const damaged = runs.db.prepare("SELECT hub_seq AS s, n FROM records WHERE bed_id = 'b1' AND n > 1 ORDER BY hub_seq LIMIT 1 OFFSET 3").get() as { s: number; n: number }
    runs.db.prepare('UPDATE records SET items = ? WHERE hub_seq = ?').run(Buffer.from([1, 0xff, 0xff]), damaged.s) // ends inside item 0
    const src = new ResultsSource(runs.db, runs.cfg, runs.cursors, runs.admissions)
    const out: (Outgoing | Skip)[] = []
    for (let next = src.nextOf('b1', T + 10 * P); next !== null; next = src.nextOf('b1', T + 10 * P)) {
      out.push(next)
      runs.cursors.advance('results/b1', 'skipTo' in next ? next.skipTo : next.toSeq)
    }
    const last = (runs.db.prepare("SELECT MAX(hub_seq + n - 1) AS e FROM records WHERE bed_id = 'b1' AND kind = 1").get() as { e: number }).e
    assert.ok(runs.cursors.get('results/b1') >= last, `the cursor passed the damaged run and every period of b1 after it (${runs.cursors.get('results/b1')} < ${last})`)
    assert.ok(out.filter((x) => 'text' in x).length >= 6, 'a message per period and patient, as without the damage')
    const covering = out.find((x) => 'text' in x && x.fromSeq <= damaged.s && damaged.s <= x.toSeq) as Outgoing | undefined
    assert.ok(covering, 'the period holding the damaged run is still sent, with the values of its other messages')
  } finally {
    runs.db.close()
  }
})
