/**
 * Signal benchmarks (issue 5): QRS detector and per-patch ECG analyzer throughput on one core,
 * and the detector's EC57 score on the MIT-BIH records at hand (shared/data/mitdb).
 * Goal: at least 2 million samples/s for the detector; gross Se and +P ≥ 99.7 %.
 * Reproduce: npm run bench -- signal
 */
import { existsSync, readFileSync } from 'node:fs'
import { detectBeats, readFirstSignalUv } from '../agent/commands/qrs.js'
import { EcgAnalyzer } from '../agent/signal/heart-rate.js'
import { QrsDetector } from '../agent/signal/qrs.js'
import { ppPercent, readAtr, scoreBeats, sePercent, type Score } from '../test/signal/ec57.js'
import { syntheticEcg } from '../test/signal/synthetic.js'
import type { BenchFigure } from './harness.js'

const MITDB = new URL('../../shared/data/mitdb/', import.meta.url).pathname

/** Best of `runs` timings of `fn`, in samples per second. */
function bestRate(samples: number, runs: number, fn: () => void): number {
  let best = Infinity
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint()
    fn()
    best = Math.min(best, Number(process.hrtime.bigint() - t) / 1e9)
  }
  return samples / best
}

function detectorRate(samplesUv: Int32Array, rateHz: number): number {
  let beats = 0
  const sink = { onBeat: () => void beats++ }
  const chunk = Math.round(rateHz)
  return bestRate(samplesUv.length, 5, () => {
    const d = new QrsDetector(rateHz, sink)
    for (let i = 0; i < samplesUv.length; i += chunk) d.push(samplesUv.subarray(i, i + chunk))
  })
}

function analyzerRate(rateHz: number): number {
  const ecg = syntheticEcg({ rateHz, seconds: 600, bpm: 75, noiseUv: 20 })
  const sink = { observation: () => {}, condition: () => {} }
  const chunk = 73 // Polar PMD sends 73 ECG samples per notification at 130 Hz
  return bestRate(ecg.samplesUv.length, 5, () => {
    const a = new EcgAnalyzer({ deviceId: 'bench', sink })
    for (let i = 0; i < ecg.samplesUv.length; i += chunk) {
      const t0Us = 1_764_000_000_000_000 + Math.round((i * 1e6) / rateHz)
      a.push({ kind: 'wave', deviceId: 'bench', code: 131330, rateHz, t0Us, samplesUv: ecg.samplesUv.subarray(i, i + chunk), hubTimeMs: t0Us / 1000, deviceSeq: i, quality: 0 })
    }
  })
}

function mitdbScore(): Score | undefined {
  if (!existsSync(`${MITDB}RECORDS`)) return undefined
  const gross: Score = { tp: 0, fn: 0, fp: 0 }
  for (const rec of readFileSync(`${MITDB}RECORDS`, 'utf8').split(/\s+/).filter((r) => r && existsSync(`${MITDB}${r}.hea`))) {
    const { rateHz, samplesUv } = readFirstSignalUv(`${MITDB}${rec}`)
    const s = scoreBeats(readAtr(`${MITDB}${rec}`), detectBeats(samplesUv, rateHz), rateHz)
    gross.tp += s.tp
    gross.fn += s.fn
    gross.fp += s.fp
  }
  return gross
}

export default async function signalBench(): Promise<BenchFigure[]> {
  const figures: BenchFigure[] = []
  const real = existsSync(`${MITDB}100.hea`)
  const { rateHz, samplesUv } = real ? readFirstSignalUv(`${MITDB}100`) : { rateHz: 360, samplesUv: syntheticEcg({ rateHz: 360, seconds: 1800, bpm: 75, noiseUv: 20 }).samplesUv }
  const qrs = detectorRate(samplesUv, rateHz)
  figures.push({ name: 'signal.qrs', value: qrs, unit: 'samples/s', note: `${real ? 'MIT-BIH 100' : 'synthetic'}, 360 Hz, 1 s chunks, one core; goal ≥ 2,000,000` })
  const an = analyzerRate(130)
  figures.push({ name: 'signal.analyzer', value: an, unit: 'samples/s', note: `detector + quality + HR at 130 Hz in 73-sample chunks = ${Math.floor(an / 130).toLocaleString('en-US')} Polar patches per core` })
  const score = mitdbScore()
  if (score) {
    const beats = `${score.tp + score.fn} reference beats from 05:00, 150 ms window, lead 0; goal 99.7 %`
    figures.push({ name: 'signal.mitdb.se', value: sePercent(score), unit: '%', note: `gross ${sePercent(score).toFixed(3)} %, ${score.fn} missed, ${beats}` })
    figures.push({ name: 'signal.mitdb.ppv', value: ppPercent(score), unit: '%', note: `gross ${ppPercent(score).toFixed(3)} %, ${score.fp} false, ${beats}` })
  }
  return figures
}
