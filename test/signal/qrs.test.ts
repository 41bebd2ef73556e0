import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { QrsDetector } from '../../agent/signal/qrs.js'
import { detectBeats } from '../../agent/commands/qrs.js'
import { gaussianNoise, makeRng, syntheticEcg } from './synthetic.js'

/** Beats after the 3 s learning period: every true beat found within 20 ms, nothing else. */
function assertExact(detected: number[], truth: number[], rateHz: number, label: string): void {
  const tol = Math.round(0.02 * rateHz)
  const expected = truth.filter((r) => r >= 3.2 * rateHz)
  const got = detected.filter((d) => d >= 3.2 * rateHz - tol)
  const missed = expected.filter((r) => !got.some((d) => Math.abs(d - r) <= tol))
  const extra = got.filter((d) => !truth.some((r) => Math.abs(d - r) <= tol))
  assert.deepEqual({ missed, extra }, { missed: [], extra: [] }, label)
}

test('signal: 40 and 220 /min found beat for beat at 125, 130, 360 and 500 Hz', () => {
  for (const rateHz of [125, 130, 360, 500]) {
    for (const bpm of [40, 220]) {
      const ecg = syntheticEcg({ rateHz, seconds: 40, bpm, noiseUv: 15 })
      assertExact(detectBeats(ecg.samplesUv, rateHz), ecg.rPeaks, rateHz, `${bpm}/min at ${rateHz} Hz`)
    }
  }
})

test('signal: output does not depend on how the stream is chunked', () => {
  const ecg = syntheticEcg({ rateHz: 250, seconds: 30, bpm: 75, noiseUv: 30 })
  const whole = detectBeats(ecg.samplesUv, 250, ecg.samplesUv.length)
  assert.ok(whole.length > 30)
  for (const chunk of [1, 13, 250, 4096]) assert.deepEqual(detectBeats(ecg.samplesUv, 250, chunk), whole, `chunk ${chunk}`)
})

test('signal: each ordinary beat is delivered exactly releaseDelaySamples after its R peak', () => {
  for (const rateHz of [130, 360]) {
    const ecg = syntheticEcg({ rateHz, seconds: 20, bpm: 90, noiseUv: 10 })
    const lags: number[] = []
    const det: QrsDetector = new QrsDetector(rateHz, { onBeat: (r) => lags.push(det.sampleCount - r) })
    det.push(ecg.samplesUv)
    assert.ok(lags.length > 20)
    assert.deepEqual(new Set(lags), new Set([det.releaseDelaySamples]))
    assert.ok(det.releaseDelaySamples / rateHz < 0.6, 'documented delay under 0.6 s')
  }
})

test('signal: asystole (baseline noise and wander only) produces no beat, also after re-learning', () => {
  for (const rateHz of [125, 250, 500]) asystole(rateHz)
})

function asystole(rateHz: number): void {
  const ecg = syntheticEcg({ rateHz, seconds: 60, bpm: 70, beatTimesS: Array.from({ length: 20 }, (_, i) => 0.5 + i * 0.857), noiseUv: 0 })
  const rng = makeRng(3)
  const x = Int32Array.from(ecg.samplesUv, (v, i) => v + Math.round(20 * gaussianNoise(rng) + 150 * Math.sin((2 * Math.PI * 0.3 * i) / rateHz)))
  const beats = detectBeats(x, rateHz)
  const lastTrue = ecg.rPeaks[ecg.rPeaks.length - 1]!
  assert.ok(beats.length >= 15, 'the rhythm before the pause is seen')
  assert.deepEqual(beats.filter((b) => b > lastTrue + 0.1 * rateHz), [], `40 s of asystole stay beat-free at ${rateHz} Hz`)
}

test('signal: a flat line (leads off) and a saturated rail produce no beat', () => {
  assert.deepEqual(detectBeats(new Int32Array(130 * 30), 130), [])
  assert.deepEqual(detectBeats(new Int32Array(130 * 30).fill(-5120), 130), [])
})

test('signal: a 2 mV step in the baseline invents no beat and loses at most one', () => {
  const rateHz = 360
  const ecg = syntheticEcg({ rateHz, seconds: 40, bpm: 72, noiseUv: 10 })
  const x = Int32Array.from(ecg.samplesUv, (v, i) => v + (i >= 20.3 * rateHz ? 2000 : 0) + (i >= 30.1 * rateHz ? -2000 : 0))
  const beats = detectBeats(x, rateHz)
  const tol = Math.round(0.02 * rateHz)
  const truth = ecg.rPeaks.filter((r) => r >= 3.2 * rateHz)
  const extra = beats.filter((d) => !ecg.rPeaks.some((r) => Math.abs(d - r) <= tol))
  const missed = truth.filter((r) => !beats.some((d) => Math.abs(d - r) <= tol))
  assert.deepEqual(extra, [])
  assert.ok(missed.length <= 2, `missed ${missed.length} beats around two steps`)
})

test('signal: search-back recovers a small beat that fell under the threshold', () => {
  const rateHz = 250
  const base = syntheticEcg({ rateHz, seconds: 30, bpm: 60, noiseUv: 5 })
  const smallR = base.rPeaks[20]!
  // shrink beat 20 to 20 % of its amplitude: under the threshold (25 % of the QRS level), above half of it
  const from = smallR - 0.25 * rateHz
  const x = Int32Array.from(base.samplesUv, (v, i) => (i >= from && i < smallR + 0.45 * rateHz ? Math.round(v * 0.2) : v))
  const beats = detectBeats(x, rateHz)
  assert.ok(beats.some((b) => Math.abs(b - smallR) <= 5), 'small beat found')
  assertExact(beats, base.rPeaks, rateHz, 'whole record')
})

test('signal: a T wave up to 1.5 × the R wave is not counted as a beat', () => {
  const rateHz = 125
  for (const tRelative of [1, 1.5]) {
    const ecg = syntheticEcg({ rateHz, seconds: 40, bpm: 67, noiseUv: 5, tRelative })
    assertExact(detectBeats(ecg.samplesUv, rateHz), ecg.rPeaks, rateHz, `T at ${tRelative} × R`)
  }
})

test('signal: any partition of the stream into chunks gives the same beats (property)', () => {
  const ecg = syntheticEcg({ rateHz: 130, seconds: 20, bpm: 95, noiseUv: 40, seed: 11 })
  const whole = detectBeats(ecg.samplesUv, 130, ecg.samplesUv.length)
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 50 }), (sizes) => {
      const beats: number[] = []
      const det = new QrsDetector(130, { onBeat: (r) => beats.push(r) })
      for (let i = 0, k = 0; i < ecg.samplesUv.length; k++) {
        const size = sizes[k % sizes.length]!
        det.push(ecg.samplesUv.subarray(i, i + size))
        i += size
      }
      det.finish()
      assert.deepEqual(beats, whole)
    }),
    { numRuns: 25 },
  )
})

test('signal: non-finite samples do not silence the detector', () => {
  const ecg = syntheticEcg({ rateHz: 250, seconds: 30, bpm: 70, noiseUv: 10 })
  const x = Float64Array.from(ecg.samplesUv, (v, i) => (i >= 2500 && i < 2510 ? NaN : i === 4000 ? Infinity : v))
  const beats: number[] = []
  const det = new QrsDetector(250, { onBeat: (r) => beats.push(r) })
  det.push(x)
  det.finish()
  const late = ecg.rPeaks.filter((r) => r > 20 * 250)
  assert.ok(late.length > 5 && late.every((r) => beats.some((b) => Math.abs(b - r) <= 5)))
})
