/**
 * Observation runs (agent/sync/runs.ts, issue 23): how a read batch's observations are grouped
 * into schema_version 2 Envelopes, and that the grouping keeps each key's order; then the codec:
 * runs and version 1 Envelopes encoded from the same stored rows carry the same events.
 */
import assert from 'node:assert/strict'
import test from 'node:test'
import fc from 'fast-check'
import { parseConfig } from '../../agent/config.js'
import { DeviceRegistry } from '../../agent/pipeline/devices.js'
import { Admissions } from '../../agent/store/admissions.js'
import { GroupCommitter, RecordKind } from '../../agent/store/commit.js'
import { openDatabase } from '../../agent/store/db.js'
import { Col, Outbox } from '../../agent/store/outbox.js'
import { EnvelopeEncoder, type ObservationItem } from '../../agent/sync/envelope.js'
import { Pseudonymizer } from '../../agent/sync/pseudonym.js'
import { ObservationRuns } from '../../agent/sync/runs.js'
import { decodeEnvelope, encodeEnvelope, observationEvents, runEncoders, SCHEMA_VERSION, SCHEMA_VERSION_RUN } from '../../proto/codec.js'
import { tempDir } from '../support/agent-process.js'

function item(hubSeq: number, subject: string, over: Partial<ObservationItem> = {}): ObservationItem {
  return {
    hubSeq, subject, subjectKind: 2, keyEpoch: 'e1', bedId: 'b1', hubTimeMs: 1_764_000_000_000 + hubSeq,
    observation: { code: 150456, value: hubSeq, unit: '%', deviceTimeMs: 1_764_000_000_000 + hubSeq, hubTimeMs: 1_764_000_000_000 + hubSeq, deviceSeq: hubSeq, quality: 0, device: `d-${subject}` },
    ...over,
  }
}
const seqs = (runs: readonly (readonly { hubSeq: number }[])[]) => runs.map((r) => r.map((i) => i.hubSeq))

test('sync runs: observations of one subject share a run while others interleave; the runs come in the order they were opened', () => {
  const runs = new ObservationRuns(1000)
  for (const [seq, s] of [[1, 'a'], [2, 'b'], [3, 'a'], [5, 'b'], [6, 'c'], [9, 'a']] as const) runs.add(item(seq, s))
  assert.deepEqual(seqs(runs.runs), [[1, 3, 9], [2, 5], [6]])
})

test('sync runs: a run breaks at the size bound and when the key epoch, subject kind or bed of its subject changes', () => {
  const runs = new ObservationRuns(2)
  runs.add(item(1, 'a'))
  runs.add(item(2, 'a'))
  runs.add(item(3, 'a')) // full: a new run
  runs.add(item(4, 'a', { keyEpoch: 'e2' })) // key rotation
  runs.add(item(5, 'a', { keyEpoch: 'e2', bedId: 'b2' })) // transfer
  runs.add(item(6, 'a', { keyEpoch: 'e2', bedId: 'b2', subjectKind: 1 }))
  assert.deepEqual(seqs(runs.runs), [[1, 2], [3], [4], [5], [6]])
})

test('sync runs: for any batch, each key\'s observations across its runs are exactly its own, in hub_seq order, each run within the bound and of one head', () => {
  const step = fc.record({ subject: fc.constantFrom('a', 'b', 'c'), gap: fc.integer({ min: 1, max: 3 }), epoch: fc.constantFrom('e1', 'e2'), bed: fc.constantFrom('b1', 'b2') })
  fc.assert(fc.property(fc.array(step, { maxLength: 300 }), fc.integer({ min: 1, max: 20 }), (steps, max) => {
    const runs = new ObservationRuns(max)
    const input: ObservationItem[] = []
    let seq = 0
    for (const s of steps) {
      seq += s.gap
      const it = item(seq, s.subject, { keyEpoch: s.epoch, bedId: s.bed })
      input.push(it)
      runs.add(it)
    }
    for (const subject of ['a', 'b', 'c']) {
      const sent = runs.runs.filter((r) => r[0]!.subject === subject).flat()
      assert.deepEqual(sent, input.filter((i) => i.subject === subject))
    }
    for (const r of runs.runs) {
      assert.ok(r.length >= 1 && r.length <= max)
      assert.ok(r.every((i) => i.subject === r[0]!.subject && i.keyEpoch === r[0]!.keyEpoch && i.bedId === r[0]!.bedId))
    }
  }), { numRuns: 300 })
})

function storedRows() {
  const dir = tempDir('runs-codec')
  const db = openDatabase(dir)
  const cfg = parseConfig({ hub: { id: 'h', site: 's', data_dir: dir }, beds: [0, 1].map((b) => ({ id: `bed-${b}`, devices: [{ id: `mon-${b}`, type: 'mqtt', secret: 'secret-secret', serial: `SN-${b}` }] })) })
  const admissions = new Admissions(db)
  const adm = admissions.admit('bed-0', 'MRN-0', null, null, Date.now()).id
  const committer = new GroupCommitter(db, { intervalMs: 1000, maxRecords: 1000 })
  const t = Date.now()
  for (let i = 0; i < 40; i++) committer.appendRecord(RecordKind.OBSERVATION, `bed-${i % 2}`, `mon-${i % 2}`, i % 2 ? null : adm, 150456 + (i % 3), i % 7 === 0 ? Number.NaN : 90 + i / 8, '%', t - 1000 + i, t + i, i, i % 4, null)
  committer.close()
  const encoder = new EnvelopeEncoder('hub-runs', admissions, new DeviceRegistry(cfg.beds), Pseudonymizer.open(dir, 's', t - 10_000))
  return { rows: new Outbox(db).read(100), encoder, close: () => db.close() }
}

test('codec: a run (schema_version 2) carries the same events, hub_seq for hub_seq, as the version 1 Envelopes of the same rows', () => {
  const { rows, encoder, close } = storedRows()
  const v1 = rows.map((r) => decodeEnvelope(encoder.encode(r).value))
  assert.ok(v1.every((e) => e.schemaVersion === SCHEMA_VERSION && e.observation && !e.observations))
  const runs = new ObservationRuns(15)
  for (const r of rows) runs.add(encoder.observationItem(r))
  assert.deepEqual(runs.runs.map((r) => r.length), [15, 15, 5, 5], 'a patient on bed 0 and an unadmitted device on bed 1, 20 each')
  const decoded = runs.runs.map((r) => decodeEnvelope(encoder.encodeRun(r)))
  for (const e of decoded) {
    assert.equal(e.schemaVersion, SCHEMA_VERSION_RUN)
    assert.equal(e.hubSeq, e.observations!.hubSeq[0])
    assert.ok(!e.observation)
  }
  // Every event of a run, with the Envelope fields it shares, equals its version 1 Envelope.
  const fromRuns = decoded.flatMap(({ observations: _, ...head }) => observationEvents({ ...head, observations: _ }).map((o) => ({ ...head, hubSeq: o.hubSeq, hubTimeMs: o.observation.hubTimeMs, observation: o.observation, schemaVersion: SCHEMA_VERSION })))
  fromRuns.sort((a, b) => a.hubSeq - b.hubSeq)
  assert.deepEqual(fromRuns, v1)
  assert.ok(Number.isNaN(fromRuns[0]!.observation!.value), 'NaN ("no value") survives a run')
  assert.equal(observationEvents(v1[0]!).length, 1)
  close()
})

test('codec: an observation row still encodes to the version 1 bytes it did before runs', () => {
  const { rows, encoder, close } = storedRows()
  for (const r of rows) {
    const it = encoder.observationItem(r)
    // The Envelope as agent/sync/envelope.ts built it before issue 23, field for field (plus issue 24's additive fields).
    const before = encodeEnvelope({ site: '', wardLabel: '', bedLabel: '', deviceModel: '', encounter: it.provenance!.encounter, encounterKeyEpoch: it.provenance!.encounterKeyEpoch, demo: false, deviceType: it.provenance!.deviceType, schemaVersion: SCHEMA_VERSION, hubId: 'hub-runs', hubSeq: r[Col.HUB_SEQ], subject: it.subject, subjectKind: it.subjectKind, keyEpoch: it.keyEpoch, bedId: r[Col.BED_ID]!, hubTimeMs: r[Col.HUB_TIME_MS], observation: { code: r[Col.CODE]!, value: r[Col.VALUE] ?? Number.NaN, unit: r[Col.UNIT]!, deviceTimeMs: r[Col.DEVICE_TIME_MS]!, hubTimeMs: r[Col.HUB_TIME_MS], deviceSeq: r[Col.DEVICE_SEQ]!, quality: r[Col.QUALITY]!, device: it.observation.device } })
    assert.deepEqual(Buffer.from(encoder.encode(r).value), Buffer.from(before))
  }
  close()
})

test('codec: the one-pass run encoder writes the bytes of the generated encoder, for any run', () => {
  const u64 = fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }))
  const observation = fc.record({
    code: fc.oneof(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.constant(150456)),
    value: fc.oneof(fc.double(), fc.constant(Number.NaN), fc.constant(0)),
    unit: fc.oneof(fc.constantFrom('%', '/min', 'mm[Hg]', ''), fc.string({ maxLength: 20 }), fc.fullUnicodeString({ maxLength: 5 })),
    deviceTimeMs: u64, hubTimeMs: u64, deviceSeq: u64,
    quality: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
    device: fc.oneof(fc.string({ maxLength: 22 }), fc.fullUnicodeString({ maxLength: 4 })),
  })
  const run = fc.array(fc.tuple(observation, fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })), { minLength: 1, maxLength: 40 })
  fc.assert(fc.property(run, fc.string({ maxLength: 30 }), (items, subject) => {
    const env = { schemaVersion: SCHEMA_VERSION_RUN, hubId: 'hub-x', hubSeq: items[0]![1], subject, subjectKind: 2, keyEpoch: 'e1', bedId: 'b', hubTimeMs: 1_764_000_000_000, observations: { items: items.map(([o]) => o), hubSeq: items.map(([, s]) => s) } }
    assert.deepEqual(Buffer.from(runEncoders.onePass(env)), Buffer.from(runEncoders.generated(env)))
  }), { numRuns: 500 })
  // Outside the one-pass path (a negative 64-bit field), the generated encoder writes the run.
  const o = { code: 1, value: 1, unit: '%', deviceTimeMs: -1, hubTimeMs: 5, deviceSeq: 0, quality: 0, device: 'd' }
  const env = { schemaVersion: SCHEMA_VERSION_RUN, hubId: 'h', hubSeq: 1, subject: 's', subjectKind: 2, keyEpoch: 'e1', bedId: 'b', hubTimeMs: 5, observations: { items: [o], hubSeq: [1] } }
  assert.deepEqual(Buffer.from(runEncoders.onePass(env)), Buffer.from(runEncoders.generated(env)))
  assert.equal(decodeEnvelope(runEncoders.onePass(env)).observations!.items[0]!.deviceTimeMs, -1)
})
