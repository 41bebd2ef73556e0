/**
 * Run rows straight into run Envelopes (agent/sync/run-field.ts, envelope.ts observationSpans):
 * the runs the sync builds from run rows without expanding them must be, byte for byte, the runs
 * it built from the same rows expanded into a row per record (outbox.ts forEachRecord, then
 * observationItem per record), for every mix the store can hold.
 */
import assert from 'node:assert/strict'
import test from 'node:test'
import { parseConfig } from '../../agent/config.js'
import { DeviceRegistry } from '../../agent/pipeline/devices.js'
import { Admissions } from '../../agent/store/admissions.js'
import { GroupCommitter, RecordKind } from '../../agent/store/commit.js'
import { openDatabase } from '../../agent/store/db.js'
import { DeviceIdentities } from '../../agent/store/device-identities.js'
import { Col, forEachRecord, Outbox, type OutboxRow } from '../../agent/store/outbox.js'
import { EnvelopeEncoder, type EnvelopeContext, type RunEntry } from '../../agent/sync/envelope.js'
import { Pseudonymizer } from '../../agent/sync/pseudonym.js'
import { encodeRunEntries, isPacked } from '../../agent/sync/run-field.js'
import { ObservationRuns } from '../../agent/sync/runs.js'
import { decodeEnvelope, SCHEMA_VERSION_RUN } from '../../proto/codec.js'
import { tempDir } from '../support/agent-process.js'

const T0 = 1_764_120_000_000
const UNITS = ['%', '/min', null, 'µg/(kg·min)', '', 'mmHg']

interface Options {
  /** Devices re-paired at a hub_seq inside a run row: [device, new identity, offset into the row]. */
  repair?: boolean
  /** Device time and device seq values outside the one-pass path (negative, fractional). */
  odd?: boolean
}

/** A deterministic store (xorshift32) with run rows, single rows, several subjects, demo items inside run rows. */
function stored(opts: Options = {}) {
  const dir = tempDir('run-field')
  const db = openDatabase(dir)
  const cfg = parseConfig({ hub: { id: 'h', site: 's', data_dir: dir }, beds: [0, 1, 2].map((b) => ({ id: `bed-${b}`, devices: [{ id: `mon-${b}`, type: 'mqtt', secret: 'secret-secret', serial: `SN-${b}` }] })) })
  const admissions = new Admissions(db)
  const identities = new DeviceIdentities(db)
  for (const b of [0, 1, 2]) identities.record(`mon-${b}`, `SN-${b}`, 0)
  identities.record('loose', 'SN-LOOSE', 0)
  const adm = admissions.admit('bed-0', 'MRN-0', null, null, T0 - 60_000).id
  const c = new GroupCommitter(db, { intervalMs: 60_000, maxRecords: 500, runs: 'per-message' })
  let x = 88172645
  const rnd = (n: number): number => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return (x >>> 0) % n
  }
  let deviceSeq = 0
  const repairs: number[] = []
  for (let m = 0; m < 160; m++) {
    const bed = rnd(4) // 3: no bed, a loose device (subject: the device's pseudonym)
    const bedId = bed === 3 ? null : `bed-${bed}`
    const deviceId = bed === 3 ? 'loose' : `mon-${bed}`
    const admission = bed === 0 ? adm : null
    const n = [1, 2, 7, 30, 100][rnd(5)]!
    const hubTimeMs = T0 + m * 10
    c.hold(n)
    let firstSeq = 0
    for (let i = 0; i < n; i++) {
      const r = rnd(30)
      const seq = c.appendRecord(RecordKind.OBSERVATION, bedId, deviceId, admission, [150456, 147842, 150033][rnd(3)]!,
        r === 0 ? Number.NaN : 60 + rnd(4000) / 37, UNITS[rnd(UNITS.length)]!,
        r === 1 ? null : opts.odd && r === 7 ? -5 - i : T0 - 500 + m * 10 + i, hubTimeMs,
        r === 2 ? null : opts.odd && r === 8 ? 0.5 + i : deviceSeq++,
        r === 3 ? null : r === 4 || r === 5 ? 128 | rnd(4) /* DEMO */ : r === 6 ? 0xffffff00 : rnd(4), null)
      if (i === 0) firstSeq = seq
    }
    c.release()
    // A re-pairing recorded inside the message just committed (its hub_seqs are already given).
    if (opts.repair && n >= 7 && rnd(3) === 0) {
      const at = firstSeq + 1 + rnd(n - 1)
      identities.record(deviceId, `SN-${deviceId}-${m}`, at)
      repairs.push(at)
    }
    if (rnd(5) === 0) c.appendRecord(RecordKind.OBSERVATION, bedId, deviceId, admission, 150456, 97, '%', T0 + m * 10, hubTimeMs, deviceSeq++, 0, null) // a lone row
  }
  c.close()
  const rows = new Outbox(db).read(1_000_000, 0)
  const encoderWith = (context?: EnvelopeContext) => new EnvelopeEncoder('hub-rf', admissions, new DeviceRegistry(cfg.beds), Pseudonymizer.open(dir, 's', T0 - 120_000), identities, context)
  return { rows, encoderWith, repairs, close: () => db.close() }
}

/** The runs as the sync built them before: every record expanded into a row, an item each. */
function expandedRuns(rows: OutboxRow[], encoder: EnvelopeEncoder, max: number): ObservationRuns {
  const runs = new ObservationRuns(max)
  for (const row of rows) forEachRecord(row, (r) => runs.add(encoder.observationItem(r)))
  return runs
}

/** The runs as the sync builds them now: run rows as stretches, other rows as before. */
function directRuns(rows: OutboxRow[], encoder: EnvelopeEncoder, max: number): ObservationRuns {
  const runs = new ObservationRuns(max)
  for (const row of rows) {
    if (row[Col.ITEMS] != null) encoder.observationSpans(row, runs)
    else runs.add(encoder.observationItem(row))
  }
  return runs
}

const bytesOf = (runs: ObservationRuns, encoder: EnvelopeEncoder) => runs.runs.map((r) => `${r[0]!.subject}|${Buffer.from(encoder.encodeRun(r)).toString('hex')}`)
const packedEntries = (runs: ObservationRuns) => runs.runs.flat().filter(isPacked)

function assertSame(rows: OutboxRow[], encoder: EnvelopeEncoder, max: number, label: string): { direct: ObservationRuns; expanded: ObservationRuns } {
  const expanded = expandedRuns(rows, encoder, max)
  const direct = directRuns(rows, encoder, max)
  assert.deepEqual(direct.sizes, expanded.sizes, `${label}: the same runs, of the same sizes`)
  assert.deepEqual(bytesOf(direct, encoder), bytesOf(expanded, encoder), `${label}: the same keys and Envelope bytes, run for run`)
  // The fallbacks (a run protobuf refuses: item by item) see the expanded path's items.
  assert.deepEqual(direct.runs.flatMap((r) => r.flatMap((e: RunEntry) => encoder.itemsOf(e))), expanded.runs.flat(), `${label}: the same items when expanded`)
  return { direct, expanded }
}

test('run field: run rows mixed with single rows, several subjects, demo items inside run rows: the direct runs are the expanded runs, byte for byte', () => {
  const s = stored()
  try {
    const encoder = s.encoderWith()
    assert.ok(s.rows.some((r) => (r[Col.N] ?? 1) >= 30) && s.rows.some((r) => r[Col.ITEMS] == null), 'run rows and single rows')
    for (const max of [1000, 100, 7, 1]) {
      const { direct } = assertSame(s.rows, encoder, max, `observationsPerRecord ${max}`)
      assert.ok(packedEntries(direct).length > 0, 'run rows went the direct way')
    }
    // Demo items inside a run row: the row is cut there (issue 24: a run head has one demo flag).
    const demoInRows = s.rows.filter((r) => r[Col.ITEMS] != null).some((r) => {
      let demo = false
      forEachRecord(r, (rec) => (demo ||= ((rec[Col.QUALITY] ?? 0) & 128) !== 0))
      return demo
    })
    assert.ok(demoInRows, 'the store has demo items inside run rows')
    const demoRuns = expandedRuns(s.rows, encoder, 1000).runs.filter((r) => r[0]!.provenance!.demo)
    assert.ok(demoRuns.length > 0)
    // Cut at the size bound: runs of 7 hold 7 until a subject's run ends.
    assert.ok(directRuns(s.rows, encoder, 7).sizes.filter((n) => n === 7).length > 20)
    // A hub running the demo ward: every item demo, a run row is one stretch again.
    const demoWard = s.encoderWith({ site: 's', demo: true, wardLabel: 'W', bedLabel: (b) => `L-${b}` })
    const { direct } = assertSame(s.rows, demoWard, 1_000_000, 'demo ward')
    const runRows = s.rows.filter((r) => r[Col.ITEMS] != null).length
    assert.equal(packedEntries(direct).length, runRows, 'no cuts when nothing in the head changes and no run fills')
    assert.ok(packedEntries(directRuns(s.rows, encoder, 1_000_000)).length > runRows, 'with demo items in rows and a hub not in demo mode: cuts')
    for (const r of direct.runs) assert.equal(decodeEnvelope(demoWard.encodeRun(r)).demo, true)
  } finally {
    s.close()
  }
})

test('run field: a device re-paired inside a run row: the items on each side of it carry the pseudonym they had when accepted', () => {
  const s = stored({ repair: true })
  try {
    assert.ok(s.repairs.length >= 5, `re-pairings inside rows: ${s.repairs.length}`)
    const encoder = s.encoderWith()
    const { direct } = assertSame(s.rows, encoder, 1000, 're-paired')
    // Every re-pairing starts a stretch of its own (same row, new device pseudonym).
    const starts = new Set(packedEntries(direct).map((e) => e.hubSeq))
    for (const at of s.repairs) assert.ok(starts.has(at), `a stretch starts at the re-pairing at hub_seq ${at}`)
    const devices = new Set(direct.runs.flatMap((r) => decodeEnvelope(encoder.encodeRun(r)).observations!.items.map((o) => o.device)))
    assert.ok(devices.size > 4 + s.repairs.length / 2, `device pseudonyms: ${devices.size}`)
  } finally {
    s.close()
  }
})

test('run field: device times and seqs outside the one-pass path (negative, fractional) fall back to the expanded encoding, same bytes', () => {
  const s = stored({ odd: true })
  try {
    const encoder = s.encoderWith()
    const { direct } = assertSame(s.rows, encoder, 1000, 'odd values')
    const all = direct.runs.flatMap((r) => decodeEnvelope(encoder.encodeRun(r)).observations!.items)
    assert.ok(all.some((o) => o.deviceTimeMs < 0), 'the negative device times reach the Envelopes')
    const fallbacks = direct.runs.filter((r) => encodeRunEntries(r) === null).length
    assert.ok(fallbacks > 0 && fallbacks < direct.runs.length, `runs outside the one-pass path: ${fallbacks} of ${direct.runs.length}`)
    for (const r of direct.runs) assert.equal(decodeEnvelope(encoder.encodeRun(r)).schemaVersion, SCHEMA_VERSION_RUN)
  } finally {
    s.close()
  }
})
