import assert from 'node:assert/strict'
import { test } from 'node:test'
import { codeOf } from '../../drivers/codes.js'
import { DecodeError } from '../../drivers/errors.js'
import { ControlPointAssembler, getSettingsCommand, H10_ECG_SETTINGS, parseControlPointIndication, settingsOfResponse, startCommand, stopCommand } from '../../drivers/ble/pmd/control-point.js'
import { decodeEcgFrame, ecgFrameJson, parseEcgFrame, polarNsToUnixUs, sampleIntervalUs } from '../../drivers/ble/pmd/ecg-frame.js'
import { parsePmdSettings } from '../../drivers/ble/pmd/settings.js'
import { encodeEcgFrame } from '../../drivers/sim/ble/encode.js'

const hex = (s: string) => Buffer.from(s.replace(/\s/g, ''), 'hex')
const ctx = { deviceId: 'patch-1', hubTimeMs: 1_700_000_000_000, deviceSeq: 12 }

test('pmd: control point commands are byte-exact (§5.2)', () => {
  assert.equal(getSettingsCommand().toString('hex'), '0100')
  assert.equal(startCommand(H10_ECG_SETTINGS).toString('hex'), '02000001820001010e00')
  assert.equal(stopCommand().toString('hex'), '0300')
})

test('pmd: settings parse the SDK vector and round-trip the start request (§5.5 example 3)', () => {
  assert.deepEqual(parsePmdSettings('t', hex('00 01 34 00 01 01 10 00 02 04 F5 00 F4 01 E8 03 D0 07 04 01 03')), {
    sampleRate: [52], resolution: [16], range: [245, 500, 1000, 2000], channels: [3],
  })
  assert.deepEqual(parsePmdSettings('t', startCommand(H10_ECG_SETTINGS), 2), { sampleRate: [130], resolution: [14] })
  assert.throws(() => parsePmdSettings('t', hex('09 01 00')), (e: unknown) => e instanceof DecodeError && e.reason === 'bad-setting')
  assert.throws(() => parsePmdSettings('t', hex('00 02 82 00')), (e: unknown) => e instanceof DecodeError && e.reason === 'truncated')
})

test('pmd: control point responses, errors and sensor-initiated stops (§5.3)', () => {
  const r = parseControlPointIndication(hex('F0 01 00 00 00 00 01 82 00 01 01 0E 00'))
  assert.ok(r.kind === 'response')
  assert.deepEqual([r.op, r.measurementType, r.status, r.statusName, r.more], [1, 0, 0, 'success', false])
  assert.deepEqual(settingsOfResponse(r.parameters), { sampleRate: [130], resolution: [14] })
  const err = parseControlPointIndication(hex('F0 02 00 08'))
  assert.ok(err.kind === 'response' && err.statusName === 'invalid-sample-rate' && err.parameters.length === 0)
  assert.deepEqual(parseControlPointIndication(hex('01 00 82')), { kind: 'stopped', measurementTypes: [0, 2] })
  assert.throws(() => parseControlPointIndication(hex('F0 01')), (e: unknown) => e instanceof DecodeError && e.reason === 'truncated')
  assert.throws(() => parseControlPointIndication(hex('AA 01 00 00')), (e: unknown) => e instanceof DecodeError && e.reason === 'unknown-indication')
})

test('pmd: a response split over indications is joined from offset 5 of each', () => {
  const a = new ControlPointAssembler()
  assert.equal(a.feed(hex('F0 01 00 00 01 00 01 82 00')), null)
  const done = a.feed(hex('F0 01 00 00 00 01 01 0E 00'))
  assert.ok(done?.kind === 'response')
  assert.deepEqual(settingsOfResponse(done.parameters), { sampleRate: [130], resolution: [14] })
})

test('pmd: ECG worked frames decode to µV samples (§5.5 examples 1 and 2)', () => {
  const f = parseEcgFrame(hex('00 DA EB C3 9E 98 43 52 08 00 85 FF FF C8 01 00 FF FF FF'))
  assert.equal(f.timestampNs, 599_616_023_171_427_290n)
  assert.deepEqual(Array.from(f.samplesUv), [-123, 456, -1])
  const g = parseEcgFrame(hex('00 00 94 35 77 00 00 00 00 00 02 80 FF 02 80 00'))
  assert.equal(g.timestampNs, 2_000_000_000n)
  assert.deepEqual(Array.from(g.samplesUv), [-32766, 32770])
})

test('pmd: the frame timestamp is of the last sample; t0 is n−1 intervals earlier, in Unix µs', () => {
  const chunk = decodeEcgFrame(hex('00 DA EB C3 9E 98 43 52 08 00 85 FF FF C8 01 00 FF FF FF'), ctx)
  // Unix ns of the last sample: 1 546 300 823 171 427 290 (§5.5); two 1/130 s steps earlier.
  assert.equal(polarNsToUnixUs(599_616_023_171_427_290n), 1_546_300_823_171_427.29)
  assert.equal(chunk.t0Us, Math.round(1_546_300_823_171_427.29 - 2 * (1e6 / 130)))
  assert.deepEqual([chunk.code, chunk.rateHz, chunk.deviceSeq, chunk.deviceId], [codeOf('MDC_ECG_ELEC_POTL_I'), 130, 12, 'patch-1'])
})

test('pmd: with a previous frame, consecutive 73-sample chunks abut at the measured interval', () => {
  const stepNs = 7_692_308n // 1/130 s, rounded as a sensor clock would
  const ts1 = 800_000_000_000_000_000n
  const ts2 = ts1 + 73n * stepNs
  const first = decodeEcgFrame(encodeEcgFrame(ts1, new Int32Array(73)), ctx, null)
  const second = decodeEcgFrame(encodeEcgFrame(ts2, new Int32Array(73)), ctx, ts1)
  assert.equal(second.t0Us - first.t0Us, Math.round(Number(73n * stepNs) / 1000))
  assert.equal(second.t0Us, Math.round(polarNsToUnixUs(ts1) + Number(stepNs) / 1000))
  // A gap (lost frames) or a clock jump falls back to the nominal rate.
  assert.equal(sampleIntervalUs(ts2, ts2 - 3n * 73n * stepNs, 73, 130), 1e6 / 130)
  assert.equal(sampleIntervalUs(ts1, ts2, 73, 130), 1e6 / 130)
})

test('pmd: wrong measurement type, compressed or other frame types and torn samples are rejected', () => {
  const cases: Array<[string, string]> = [
    ['02 00 94 35 77 00 00 00 00 00 02 80 FF', 'wrong-measurement-type'],
    ['00 00 94 35 77 00 00 00 00 80 02 80 FF', 'unsupported-frame-type'],
    ['00 00 94 35 77 00 00 00 00 01 02 80 FF', 'unsupported-frame-type'],
    ['00 00 94 35 77 00 00 00 00 00 02 80 FF 02', 'bad-length'],
    ['00 00 94 35 77 00 00 00 00 00', 'truncated'],
    ['00', 'truncated'],
  ]
  for (const [bytes, reason] of cases) {
    assert.throws(() => parseEcgFrame(hex(bytes)), (e: unknown) => e instanceof DecodeError && e.protocol === 'pmd-ecg' && e.reason === reason, bytes)
  }
  // The type byte is masked with 0x3F (§5.2): bit 7 (offline recording) still reads as ECG.
  assert.equal(parseEcgFrame(hex('80 00 94 35 77 00 00 00 00 00 02 80 FF')).samplesUv[0], -32766)
})

test('pmd: JSON view names the lead, unit, rate and sample times', () => {
  const j = ecgFrameJson(hex('00 DA EB C3 9E 98 43 52 08 00 85 FF FF C8 01 00 FF FF FF')) as Record<string, any>
  assert.deepEqual(j.waveform.samples, [-123, 456, -1])
  assert.equal(j.waveform.code, 'MDC_ECG_ELEC_POTL_I')
  assert.equal(j.lastSampleTime, '2019-01-01T00:00:23.171Z')
  assert.equal(j.sensorTimestampNs, '599616023171427290')
})
