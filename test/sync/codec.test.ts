/**
 * The one-pass WaveformChunk encoder (proto/codec.ts) must write the same bytes as protobufjs'
 * generated encoder it replaces, for any chunk, and envelopes carrying it must decode to the same
 * samples.
 */
import assert from 'node:assert/strict'
import test from 'node:test'
import fc from 'fast-check'
import { decodeEnvelope, encodeEnvelope, SCHEMA_VERSION, waveformEncoders, type WaveformMsg } from '../../proto/codec.js'

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
