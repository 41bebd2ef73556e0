/**
 * The one-pass WaveformChunk encoder (proto/codec.ts) must write the same bytes as protobufjs'
 * generated encoder it replaces, for any chunk, and envelopes carrying it must decode to the same
 * samples, whether the store's BLOB is read as a view or copied (agent/sync/envelope.ts).
 */
import assert from 'node:assert/strict'
import test from 'node:test'
import fc from 'fast-check'
import { parseConfig } from '../../agent/config.js'
import { DeviceRegistry } from '../../agent/pipeline/devices.js'
import { Admissions } from '../../agent/store/admissions.js'
import { GroupCommitter, RecordKind } from '../../agent/store/commit.js'
import { openDatabase } from '../../agent/store/db.js'
import { Col, Outbox, type OutboxRow } from '../../agent/store/outbox.js'
import { EnvelopeEncoder } from '../../agent/sync/envelope.js'
import { Pseudonymizer } from '../../agent/sync/pseudonym.js'
import { decodeEnvelope, encodeEnvelope, encodeEnvelopeWithBody, SCHEMA_VERSION, waveformEncoders, type WaveformMsg } from '../../proto/codec.js'
import { alarmBody, auditBody } from '../../agent/store/bodies.js'
import { tempDir } from '../support/agent-process.js'

const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })
const samples = fc.oneof(
  fc.array(int32, { maxLength: 600 }).map((a) => Int32Array.from(a)),
  fc.array(fc.integer({ min: -5000, max: 5000 }), { maxLength: 600 }),
)
const chunk = fc.record(
  {
    code: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
    rateHz: fc.double({ noNaN: true }),
    t0Us: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    samplesUv: samples,
    hubTimeMs: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    deviceSeq: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    quality: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
    device: fc.string({ maxLength: 40 }),
  },
  { requiredKeys: [] },
) as fc.Arbitrary<WaveformMsg>

test('codec: the one-pass WaveformChunk encoder is byte-identical to the generated one', () => {
  fc.assert(
    fc.property(chunk, (m) => {
      assert.deepEqual(Buffer.from(waveformEncoders.onePass(m)), Buffer.from(waveformEncoders.generated(m)))
    }),
    { numRuns: 2000 },
  )
})

test('codec: an envelope with a waveform decodes to the samples it was given, extremes included', () => {
  const samplesUv = Int32Array.from([0, 1, -1, 63, -64, 64, -65, 8191, -8192, 2 ** 31 - 1, -(2 ** 31), 1200, -350])
  const bytes = encodeEnvelope({
    schemaVersion: SCHEMA_VERSION, hubId: 'hub-c', hubSeq: 42, subject: 'p-1', subjectKind: 1, keyEpoch: 'e1', bedId: 'b1', hubTimeMs: 1_764_120_000_000,
    waveform: { code: 131330, rateHz: 250, t0Us: 1_764_120_000_000_000, samplesUv, hubTimeMs: 1_764_120_000_001, deviceSeq: 7, quality: 0, device: 'mon-1' },
  })
  const back = decodeEnvelope(bytes)
  assert.deepEqual(Array.from(back.waveform!.samplesUv), Array.from(samplesUv))
  assert.equal(back.waveform!.t0Us, 1_764_120_000_000_000)
  assert.equal(back.waveform!.device, 'mon-1')
})

test('codec: a waveform read back from the store becomes an envelope with its samples, aligned in SQLite or not', () => {
  const dir = tempDir('codec')
  const db = openDatabase(dir)
  const cfg = parseConfig({ hub: { id: 'hub-c', site: 's', data_dir: dir }, beds: [{ id: 'b1', devices: [{ id: 'mon-1', type: 'mqtt', secret: 'secret-secret' }] }] })
  const uv = Int32Array.from({ length: 250 }, (_, i) => Math.round(1500 * Math.sin(i / 7)) - (i % 3))
  const c = new GroupCommitter(db, { intervalMs: 10_000, maxRecords: 10 })
  c.appendRecord(RecordKind.WAVEFORM, 'b1', 'mon-1', null, 131330, 250, 'uV', 1_764_120_000_000, 1_764_120_000_005, 1, 0, Buffer.from(uv.buffer))
  c.close()
  const encoder = new EnvelopeEncoder('hub-c', new Admissions(db), new DeviceRegistry(cfg.beds), Pseudonymizer.open(dir, 's', 1000))
  const row = new Outbox(db).read(1)[0]!
  const unaligned = Buffer.alloc(row[Col.BODY]!.length + 1).subarray(1)
  row[Col.BODY]!.copy(unaligned)
  for (const body of [row[Col.BODY]!, unaligned]) {
    const r: OutboxRow = [...row]
    r[Col.BODY] = body
    const back = decodeEnvelope(encoder.encode(r).value)
    assert.deepEqual(Array.from(back.waveform!.samplesUv), Array.from(uv), `body at byte offset ${body.byteOffset}`)
  }
  db.close()
})

test('codec: waveform chunks that abut to the microsecond keep their exact t0 through the store into the envelope', () => {
  const dir = tempDir('codec-t0')
  const db = openDatabase(dir)
  const cfg = parseConfig({ hub: { id: 'hub-c', site: 's', data_dir: dir }, beds: [{ id: 'b1', devices: [{ id: 'mon-1', type: 'mqtt', secret: 'secret-secret' }] }] })
  // Polar H10 ECG at 130 Hz, 73 samples a frame: 561,538 µs apart (protocols.md, PMD), never whole ms.
  const t0s = [1_764_120_000_123_456, 1_764_120_000_684_994, 1_764_120_001_246_532]
  const c = new GroupCommitter(db, { intervalMs: 10_000, maxRecords: 10 })
  for (const t0Us of t0s) c.append({ kind: RecordKind.WAVEFORM, bedId: 'b1', deviceId: 'mon-1', admissionId: null, code: 131330, value: 130, unit: 'uV', deviceTimeMs: Math.floor(t0Us / 1000), hubTimeMs: 1_764_120_002_000, deviceSeq: 1, quality: 0, body: Buffer.alloc(73 * 4), t0Us })
  c.close()
  const encoder = new EnvelopeEncoder('hub-c', new Admissions(db), new DeviceRegistry(cfg.beds), Pseudonymizer.open(dir, 's', 1000))
  const back = new Outbox(db).read(10).map((r) => decodeEnvelope(encoder.encode(r).value).waveform!)
  assert.deepEqual(back.map((w) => w.t0Us), t0s)
  assert.deepEqual(back.map((w) => w.rateHz), [130, 130, 130])
  db.close()
})

test('codec: alarm and audit records are stored typed and enter the Envelope as stored; legacy JSON bodies still sync', () => {
  const dir = tempDir('codec-bodies')
  const db = openDatabase(dir)
  const cfg = parseConfig({ hub: { id: 'hub-c', site: 's', data_dir: dir }, beds: [{ id: 'b1', devices: [] }] })
  const change = { alarmId: 'b1:hr-high:1764120000000', bedId: 'b1', ruleId: 'hr-high', state: 'raised', priority: 'high', category: 'physiological', code: 'MDC_ECG_HEART_RATE', value: 185, message: 'HR 185 /min > 120 for 10 s', conditionSinceMs: 1_764_120_000_000, atMs: 1_764_120_010_000, latching: false } as const
  const c = new GroupCommitter(db, { intervalMs: 10_000, maxRecords: 10 })
  const row = (kind: 3 | 4, body: Buffer) => c.append({ kind, bedId: 'b1', deviceId: null, admissionId: null, code: null, value: null, unit: null, deviceTimeMs: null, hubTimeMs: 1_764_120_011_000, deviceSeq: null, quality: null, body })
  row(RecordKind.ALARM, alarmBody(change))
  row(RecordKind.AUDIT, auditBody('alarm-ack', 'nurse:ann', 1_764_120_011_000, 'alarm acknowledged'))
  row(RecordKind.ALARM, Buffer.from(JSON.stringify(change))) // written by an agent before schema v3
  row(RecordKind.AUDIT, Buffer.from(JSON.stringify({ action: 'admission', actor: 'nurse:ann', detail: 'admission 1' })))
  c.close()
  const encoder = new EnvelopeEncoder('hub-c', new Admissions(db), new DeviceRegistry(cfg.beds), Pseudonymizer.open(dir, 's', 1000))
  const [typedAlarm, typedAudit, jsonAlarm, jsonAudit] = new Outbox(db).read(10).map((r) => decodeEnvelope(encoder.encode(r).value))
  const expectAlarm = { alarmId: change.alarmId, ruleId: 'hr-high', state: 'raised', priority: 'high', category: 'physiological', code: 'MDC_ECG_HEART_RATE', value: 185, message: change.message, conditionSinceMs: change.conditionSinceMs, atMs: change.atMs, latching: false, ackBy: '', foldedInto: '', mdcCode: 0 }
  assert.deepEqual({ ...typedAlarm!.alarm }, expectAlarm)
  assert.deepEqual({ ...jsonAlarm!.alarm }, expectAlarm)
  assert.deepEqual({ ...typedAudit!.audit }, { action: 'alarm-ack', actor: 'nurse:ann', atMs: 1_764_120_011_000, detail: 'alarm acknowledged' })
  assert.deepEqual({ ...jsonAudit!.audit }, { action: 'admission', actor: 'nurse:ann', atMs: 1_764_120_011_000, detail: 'admission 1' })
  // The appended body field gives the same bytes a whole-message encode would.
  const head = { schemaVersion: SCHEMA_VERSION, hubId: 'hub-c', hubSeq: 1, subject: 'bed/b1', subjectKind: 0, keyEpoch: 'e1', bedId: 'b1', hubTimeMs: 5 }
  assert.deepEqual(Buffer.from(encodeEnvelopeWithBody(head, 'alarm', alarmBody(change))), Buffer.from(encodeEnvelope({ ...head, alarm: expectAlarm })))
  db.close()
})
