/**
 * Regression guard: the streaming QRS detector on the MIT-BIH records in shared/data/mitdb,
 * lead 0, scored EC57-style (150 ms, from 05:00, gross over all records). Goal 99.7 % on records
 * the detector was not tuned on (issue 20; BENCHMARKS.md); these 34 are at 99.878 / 99.961 % and
 * this test fails below 99.7 % gross Se or +P (below 99.5 % before issue 20).
 */
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { test } from 'node:test'
import { detectBeats, readFirstSignalUv } from '../../agent/commands/qrs.js'
import { QrsDetector } from '../../agent/signal/qrs.js'
import { adcToMicrovolts, decodeFormat212, parseHeader } from '../../agent/signal/wfdb.js'
import { ppPercent, readAtr, scoreBeats, sePercent, type Score } from './ec57.js'
import { runAnalyzer, secondsOf } from './feed.js'
import { resample } from './resample.js'

const MITDB = new URL('../../../shared/data/mitdb/', import.meta.url).pathname

test('signal: MIT-BIH gross Se and +P of the streaming detector stay at or above 99.7 %', () => {
  const records = readFileSync(`${MITDB}RECORDS`, 'utf8').split(/\s+/).filter((r) => r && existsSync(`${MITDB}${r}.hea`))
  assert.ok(records.length >= 34, `expected the 34 public records, found ${records.length}`)
  const gross: Score = { tp: 0, fn: 0, fp: 0 }
  const lines = ['record     TP   FN   FP    Se %    +P %']
  for (const rec of records) {
    const { rateHz, samplesUv } = readFirstSignalUv(`${MITDB}${rec}`)
    const s = scoreBeats(readAtr(`${MITDB}${rec}`), detectBeats(samplesUv, rateHz), rateHz)
    gross.tp += s.tp
    gross.fn += s.fn
    gross.fp += s.fp
    lines.push(`${rec.padEnd(6)} ${String(s.tp).padStart(6)} ${String(s.fn).padStart(4)} ${String(s.fp).padStart(4)}  ${sePercent(s).toFixed(2).padStart(6)}  ${ppPercent(s).toFixed(2).padStart(6)}`)
  }
  lines.push(`gross  ${String(gross.tp).padStart(6)} ${String(gross.fn).padStart(4)} ${String(gross.fp).padStart(4)}  ${sePercent(gross).toFixed(3)} ${ppPercent(gross).toFixed(3)}`)
  console.log(lines.join('\n'))
  assert.ok(sePercent(gross) >= 99.7, `gross Se ${sePercent(gross).toFixed(3)} % < 99.7 %`)
  assert.ok(ppPercent(gross) >= 99.7, `gross +P ${ppPercent(gross).toFixed(3)} % < 99.7 %`)
})

test('signal: MIT-BIH lead 1 (V1/V2/V4/V5, a generalisation check) stays above 98.5 % Se and 99.1 % +P', () => {
  const records = readFileSync(`${MITDB}RECORDS`, 'utf8').split(/\s+/).filter((r) => r && existsSync(`${MITDB}${r}.hea`))
  const gross: Score = { tp: 0, fn: 0, fp: 0 }
  for (const rec of records) {
    const header = parseHeader(readFileSync(`${MITDB}${rec}.hea`, 'latin1'))
    const adc = decodeFormat212(readFileSync(`${MITDB}${rec}.dat`), header.signalCount, 1, header.samplesPerSignal)
    const s = scoreBeats(readAtr(`${MITDB}${rec}`), detectBeats(adcToMicrovolts(adc, header.signals[1]!), header.rateHz), header.rateHz)
    gross.tp += s.tp
    gross.fn += s.fn
    gross.fp += s.fp
  }
  console.log(`lead 1 gross: TP ${gross.tp} FN ${gross.fn} FP ${gross.fp} Se ${sePercent(gross).toFixed(3)} % +P ${ppPercent(gross).toFixed(3)} %`)
  assert.ok(sePercent(gross) >= 98.5 && ppPercent(gross) >= 99.1) // 98.843 / 99.279 at issue 20
})

test('signal: MIT-BIH HR from the per-patch analyzer matches the HR of the reference beats', () => {
  const records = readFileSync(`${MITDB}RECORDS`, 'utf8').split(/\s+/).filter((r) => r && existsSync(`${MITDB}${r}.hea`))
  let ticks = 0
  let valid = 0
  let within5 = 0
  for (const rec of records) {
    const { rateHz, samplesUv } = readFirstSignalUv(`${MITDB}${rec}`)
    const run = runAnalyzer(samplesUv, rateHz)
    const refMs = referenceBeatTimesMs(readAtr(`${MITDB}${rec}`), rateHz)
    // the reference HR sees the beats the analyzer has seen: those older than the fixed delivery delay
    const delayMs = (new QrsDetector(rateHz, { onBeat: () => {} }).releaseDelaySamples * 1000) / rateHz
    let k = 0
    for (const o of run.hr) {
      const t = secondsOf(o.deviceTimeMs) * 1000
      if (t < 300_000) continue
      ticks++
      if (o.quality !== 0) continue
      valid++
      while (k < refMs.length && refMs[k]! <= t - delayMs) k++
      const last = refMs[k - 1]!
      let first = last
      let n = 0 // same averaging as the analyzer: ≤ 8 intervals within 10 s
      for (let j = k - 2; j >= Math.max(0, k - 9) && t - delayMs - refMs[j]! <= 10_000; j--, n++) first = refMs[j]!
      const rrMs = Math.max(n > 0 ? (last - first) / n : Infinity, t - delayMs - last)
      if (Math.abs(60000 / rrMs - o.value) <= 5) within5++
    }
  }
  console.log(`MIT-BIH HR from 05:00: ${ticks} values, ${(100 * valid / ticks).toFixed(2)} % valid, ${(100 * within5 / valid).toFixed(2)} % of those within 5 /min of the reference beats' HR`)
  assert.ok(valid / ticks >= 0.97, 'clean recordings are rarely flagged')
  assert.ok(within5 / valid >= 0.97)
})

function referenceBeatTimesMs(annotations: readonly { sample: number; code: number }[], rateHz: number): number[] {
  const beats = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 25, 30, 31, 34, 35, 38, 41])
  return annotations.filter((a) => beats.has(a.code)).map((a) => (a.sample * 1000) / rateHz)
}

test('signal: MIT-BIH resampled to 130 Hz (Polar PMD) and 500 Hz keeps gross Se and +P at or above 99.7 %', () => {
  const records = readFileSync(`${MITDB}RECORDS`, 'utf8').split(/\s+/).filter((r) => r && existsSync(`${MITDB}${r}.hea`))
  for (const toHz of [130, 500]) {
    const gross: Score = { tp: 0, fn: 0, fp: 0 }
    for (const rec of records) {
      const { rateHz, samplesUv } = readFirstSignalUv(`${MITDB}${rec}`)
      const annotations = readAtr(`${MITDB}${rec}`).map((a) => ({ sample: Math.round((a.sample * toHz) / rateHz), code: a.code }))
      const s = scoreBeats(annotations, detectBeats(resample(samplesUv, rateHz, toHz), toHz), toHz)
      gross.tp += s.tp
      gross.fn += s.fn
      gross.fp += s.fp
    }
    console.log(`resampled to ${toHz} Hz: TP ${gross.tp} FN ${gross.fn} FP ${gross.fp} Se ${sePercent(gross).toFixed(3)} % +P ${ppPercent(gross).toFixed(3)} %`)
    assert.ok(sePercent(gross) >= 99.7 && ppPercent(gross) >= 99.7, `${toHz} Hz`)
  }
})
