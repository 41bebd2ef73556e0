import assert from 'node:assert/strict'
import { test } from 'node:test'
import { codeOf } from '../../drivers/codes.js'
import { Quality } from '../../drivers/records.js'
import { EcgAnalysis, EcgAnalyzer } from '../../agent/signal/index.js'
import { runAnalyzer, secondsOf } from './feed.js'
import { gaussianNoise, makeRng, syntheticEcg } from './synthetic.js'

const RATE = 130 // Polar PMD ECG

/** HR values at ticks in [fromS, toS). */
function hrBetween(run: ReturnType<typeof runAnalyzer>, fromS: number, toS: number) {
  return run.hr.filter((o) => secondsOf(o.deviceTimeMs) >= fromS && secondsOf(o.deviceTimeMs) < toS)
}

test('signal: HR at 40, 72 and 220 /min, one Observation per second of device time', () => {
  for (const bpm of [40, 72, 220]) {
    const ecg = syntheticEcg({ rateHz: RATE, seconds: 60, bpm, noiseUv: 15 })
    const run = runAnalyzer(ecg.samplesUv, RATE, {}, { chunkSamples: 73 })
    assert.equal(run.hr.length, 60, 'one value per second')
    assert.deepEqual(run.all.map((o) => o.deviceSeq), run.all.map((_, k) => k), 'HR and RR share one sequence, in emission order')
    run.hr.forEach((o) => {
      assert.equal(o.deviceTimeMs % 1000, 0)
      assert.equal(o.code, codeOf('MDC_ECG_HEART_RATE'))
      assert.equal(o.unit, '/min')
      assert.equal(o.deviceId, 'patch-1')
    })
    const settled = hrBetween(run, 15, 60)
    for (const o of settled) {
      assert.equal(o.quality, 0, `${bpm}/min at ${secondsOf(o.deviceTimeMs)} s: quality ${o.quality}`)
      assert.ok(Math.abs(o.value - bpm) <= 1, `${bpm}/min: HR ${o.value} at ${secondsOf(o.deviceTimeMs)} s`)
    }
    const first = run.hr[0]!
    assert.ok(Number.isNaN(first.value) && first.quality & Quality.UNAVAILABLE, 'no value while learning')
    const rr = run.beats.map((b) => b.rrMs).filter(Number.isFinite)
    assert.ok(rr.length > 20 && rr.every((ms) => Math.abs(ms - 60000 / bpm) <= 2 * (1000 / RATE) + 1), 'RR intervals')
  }
})

test('signal: every beat after the first is an RR observation (MDC_ECG_TIME_PD_RR_GL, ms) at its R peak', () => {
  const beatTimesS = Array.from({ length: 50 }, (_, i) => 0.5 + i * 0.8 + (i % 2 ? 0.1 : 0)) // 0.7 / 0.9 s alternating
  const ecg = syntheticEcg({ rateHz: RATE, seconds: 42, bpm: 75, beatTimesS, noiseUv: 10 })
  const seq = { nextSeq: 1000 } // the patch's own records came first
  const run = runAnalyzer(ecg.samplesUv, RATE, { seq }, { chunkSamples: 73 })
  assert.equal(run.rr.length, run.beats.length - 1)
  assert.ok(run.rr.length >= 40, `${run.rr.length} RR observations`)
  run.rr.forEach((o, k) => {
    const beat = run.beats[k + 1]!
    assert.equal(o.code, codeOf('MDC_ECG_TIME_PD_RR_GL'))
    assert.equal(o.unit, 'ms')
    assert.equal(o.deviceTimeMs, beat.deviceTimeMs)
    assert.ok(Math.abs(o.value - beat.rrMs) <= 0.05, `RR ${o.value} against the beat's ${beat.rrMs}`)
    assert.equal(o.quality, 0)
  })
  const settled = run.rr.filter((o) => secondsOf(o.deviceTimeMs) > 5)
  for (const o of settled) assert.ok(Math.abs(o.value - 700) <= 16 || Math.abs(o.value - 900) <= 16, `RR ${o.value} ms`)
  const seqs = run.all.map((o) => o.deviceSeq)
  assert.deepEqual(seqs, seqs.map((_, k) => 1000 + k), 'HR and RR continue the patch sequence, each number once')
  assert.equal(seq.nextSeq, 1000 + seqs.length)
})

test('signal: asystole drives HR to 0 /min within 7 s, as a valid value', () => {
  const beatTimesS = Array.from({ length: 25 }, (_, i) => 0.5 + i * 0.8) // 75 /min until 19.7 s
  const ecg = syntheticEcg({ rateHz: RATE, seconds: 40, bpm: 75, beatTimesS, noiseUv: 20 })
  const run = runAnalyzer(ecg.samplesUv, RATE)
  const before = hrBetween(run, 12, 20)
  assert.ok(before.every((o) => o.quality === 0 && Math.abs(o.value - 75) <= 1))
  const after = hrBetween(run, 27, 40)
  assert.ok(after.length > 10 && after.every((o) => o.value === 0 && o.quality === 0), JSON.stringify(after.map((o) => [o.value, o.quality])))
  const falling = hrBetween(run, 20, 27).map((o) => o.value)
  assert.ok(falling.some((v) => v > 0 && v < 70), `HR falls during the pause: ${falling}`)
})

test('signal: leads off (device flag or flat line) flags HR and raises then clears the condition', () => {
  const ecg = syntheticEcg({ rateHz: RATE, seconds: 70, bpm: 80, noiseUv: 15 })
  const flat = Int32Array.from(ecg.samplesUv, (v, i) => (i >= 40 * RATE && i < 50 * RATE ? 0 : v))
  const run = runAnalyzer(flat, RATE, {}, { chunkQuality: (k) => (k >= 20 && k < 25 ? Quality.LEADS_OFF : 0) })
  const leads = run.conditions.filter((c) => c.condition === 'leads-off').map((c) => [c.active, secondsOf(c.atMs)])
  assert.deepEqual(leads, [[true, 22], [false, 28], [true, 42], [false, 53]])
  for (const o of [...hrBetween(run, 21, 26), ...hrBetween(run, 41, 51)]) assert.ok(o.quality & Quality.LEADS_OFF, `HR at ${secondsOf(o.deviceTimeMs)} s not flagged`)
  assert.ok(hrBetween(run, 64, 70).every((o) => o.quality === 0 && Math.abs(o.value - 80) <= 1), 'valid again once the window is clean')
})

test('signal: muscle noise marks HR questionable and raises ecg-noise; HR from it is never valid', () => {
  const ecg = syntheticEcg({ rateHz: RATE, seconds: 60, bpm: 70, noiseUv: 10 })
  const rng = makeRng(9)
  const noisy = Int32Array.from(ecg.samplesUv, (v, i) => (i >= 20 * RATE && i < 35 * RATE ? v + Math.round(250 * gaussianNoise(rng)) : v))
  const run = runAnalyzer(noisy, RATE)
  const noise = run.conditions.filter((c) => c.condition === 'ecg-noise')
  assert.ok(noise.length === 2 && noise[0]!.active && !noise[1]!.active, JSON.stringify(noise))
  assert.ok(secondsOf(noise[0]!.atMs) <= 23 && secondsOf(noise[1]!.atMs) >= 35)
  for (const o of hrBetween(run, 21, 36)) assert.ok(o.quality & Quality.QUESTIONABLE, `HR at ${secondsOf(o.deviceTimeMs)} s valid in noise`)
  assert.ok(hrBetween(run, 10, 20).every((o) => o.quality === 0))
})

test('signal: a clipped signal marks HR out of range and raises ecg-saturation', () => {
  const ecg = syntheticEcg({ rateHz: RATE, seconds: 50, bpm: 70, noiseUv: 10 })
  const clipped = Int32Array.from(ecg.samplesUv, (v, i) => (i >= 20 * RATE && i < 30 * RATE ? Math.min(v, 60) : v))
  const run = runAnalyzer(clipped, RATE)
  const sat = run.conditions.filter((c) => c.condition === 'ecg-saturation').map((c) => [c.active, secondsOf(c.atMs)])
  assert.deepEqual(sat, [[true, 22], [false, 33]])
  for (const o of hrBetween(run, 21, 31)) assert.ok(o.quality & Quality.OUT_OF_RANGE)
  // known rails: samples at or beyond them count even when the block is otherwise flat
  const railed = Int32Array.from(ecg.samplesUv, (v, i) => (i >= 20 * RATE && i < 30 * RATE ? 4000 : v))
  const run2 = runAnalyzer(railed, RATE, { railUv: 4000 })
  for (const o of hrBetween(run2, 21, 31)) assert.ok(o.quality & Quality.OUT_OF_RANGE && o.quality & Quality.LEADS_OFF)
})

test('signal: a lost chunk is bridged, a long gap restarts detection without a false HR', () => {
  const ecg = syntheticEcg({ rateHz: RATE, seconds: 60, bpm: 66, noiseUv: 10 })
  const short = runAnalyzer(ecg.samplesUv, RATE, {}, { chunkSamples: 26, dropChunk: (k) => k === 100 }) // 200 ms lost at 20 s
  assert.equal(short.hr.length, 60)
  assert.ok(hrBetween(short, 21, 22).every((o) => o.quality & Quality.QUESTIONABLE), 'a beat may hide in the gap')
  assert.ok(hrBetween(short, 30, 60).every((o) => o.quality === 0 && Math.abs(o.value - 66) <= 1))
  const long = runAnalyzer(ecg.samplesUv, RATE, {}, { dropChunk: (k) => k >= 20 && k < 25 }) // 5 s lost
  const gap = long.hr.map((o) => secondsOf(o.deviceTimeMs)).filter((s) => s > 21 && s <= 25)
  assert.deepEqual(gap, [], 'no HR for time without data')
  for (const o of hrBetween(long, 26, 60)) assert.ok(Number.isNaN(o.value) ? o.quality & Quality.UNAVAILABLE : Math.abs(o.value - 66) <= 1)
})

test('signal: a device clock jumping back restarts the stream instead of discarding it', () => {
  const hr: Array<[number, number]> = []
  const analyzer = new EcgAnalyzer({ deviceId: 'p', sink: { observation: (o) => void (o.code === codeOf('MDC_ECG_HEART_RATE') && hr.push([o.deviceTimeMs, o.value])), condition: () => {} } })
  const ecg = syntheticEcg({ rateHz: RATE, seconds: 40, bpm: 66, noiseUv: 10 })
  const jumpUs = 3_600_000_000 // the patch clock is reset one hour back at 20 s
  for (let k = 0; k < 40; k++) {
    const t0Us = 1_764_000_000_000_000 + k * 1_000_000 - (k >= 20 ? jumpUs : 0)
    analyzer.push({ kind: 'wave', deviceId: 'p', code: 131330, rateHz: RATE, t0Us, samplesUv: ecg.samplesUv.subarray(k * RATE, (k + 1) * RATE), hubTimeMs: 0, deviceSeq: k, quality: 0 })
  }
  assert.equal(hr.length, 40)
  const afterJump = hr.slice(20)
  assert.ok(afterJump.every(([t]) => t < 1_764_000_000_000 - 3_000_000), 'new device time base')
  assert.ok(afterJump.slice(-10).every(([, v]) => Math.abs(v - 66) <= 1), JSON.stringify(afterJump.slice(-10)))
})

test('signal: EcgAnalysis routes ECG chunks per device, one lead each, and ignores other waveforms', () => {
  const hr: string[] = []
  const analysis = new EcgAnalysis({ sink: { observation: (o) => hr.push(o.deviceId), condition: () => {} } })
  const ecg = syntheticEcg({ rateHz: RATE, seconds: 5, bpm: 60 })
  const chunk = (deviceId: string, code: number, k: number) => ({
    kind: 'wave' as const, deviceId, code, rateHz: RATE, t0Us: 1_764_000_000_000_000 + k * 1_000_000,
    samplesUv: ecg.samplesUv.subarray(k * RATE, (k + 1) * RATE), hubTimeMs: 0, deviceSeq: k, quality: 0,
  })
  for (let k = 0; k < 5; k++) {
    assert.equal(analysis.push(chunk('a', codeOf('MDC_ECG_ELEC_POTL_II'), k)), true)
    assert.equal(analysis.push(chunk('a', codeOf('MDC_ECG_ELEC_POTL_V5'), k)), false, 'second lead of the same device')
    assert.equal(analysis.push(chunk('b', codeOf('MDC_ECG_ELEC_POTL_I'), k)), true)
    assert.equal(analysis.push(chunk('c', codeOf('MDC_PULS_OXIM_SAT_O2'), k)), false, 'not ECG')
  }
  assert.equal(analysis.deviceCount, 2)
  assert.deepEqual([hr.filter((d) => d === 'a').length, hr.filter((d) => d === 'b').length], [5, 5])
  analysis.stop('a')
  assert.equal(analysis.deviceCount, 1)
})
