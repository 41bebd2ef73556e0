/**
 * Signal benchmarks (issue 5): QRS detector and per-patch ECG analyzer throughput on one core.
 * Goal: at least 2 million samples/s for the detector. Input: MIT-BIH record 100 lead 0 from
 * shared/data (a synthetic spike train when the data is absent). The EC57 score is printed by
 * test/signal/mitdb.test.ts (nothing here imports from test/, DESIGN.md dependency rules).
 * Reproduce: npm run bench -- signal
 */
import { existsSync } from 'node:fs'
import { readFirstSignalUv } from '../agent/commands/qrs.js'
import { EcgAnalyzer } from '../agent/signal/heart-rate.js'
import { QrsDetector } from '../agent/signal/qrs.js'
import type { BenchFigure } from './harness.js'

const RECORD_100 = new URL('../../shared/data/mitdb/100', import.meta.url).pathname
/** Polar PMD sends 73 ECG samples per notification at 130 Hz. */
const PMD_CHUNK = 73

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

/** 30 min at 360 Hz: 1 mV R spikes at 75 /min on a little noise (fallback input). */
function spikeTrain(rateHz: number): Int32Array {
  const x = new Int32Array(rateHz * 1800)
  for (let i = 0; i < x.length; i++) {
    const t = (i % (0.8 * rateHz)) / rateHz - 0.4
    x[i] = Math.round(1000 * Math.exp(-0.5 * (t / 0.012) ** 2) + 20 * Math.sin(i * 1.3))
  }
  return x
}

function detectorRate(samplesUv: Int32Array, rateHz: number): number {
  const sink = { onBeat: () => {} }
  const chunk = Math.round(rateHz)
  return bestRate(samplesUv.length, 5, () => {
    const d = new QrsDetector(rateHz, sink)
    for (let i = 0; i < samplesUv.length; i += chunk) d.push(samplesUv.subarray(i, i + chunk))
  })
}

function analyzerRate(samplesUv: Int32Array, rateHz: number): number {
  const sink = { observation: () => {}, condition: () => {} }
  return bestRate(samplesUv.length, 5, () => {
    const a = new EcgAnalyzer({ deviceId: 'bench', sink })
    for (let i = 0; i < samplesUv.length; i += PMD_CHUNK) {
      const t0Us = 1_764_000_000_000_000 + Math.round((i * 1e6) / rateHz)
      a.push({ kind: 'wave', deviceId: 'bench', code: 131330, rateHz, t0Us, samplesUv: samplesUv.subarray(i, i + PMD_CHUNK), hubTimeMs: t0Us / 1000, deviceSeq: i, quality: 0 })
    }
  })
}

export default async function signalBench(): Promise<BenchFigure[]> {
  const real = existsSync(`${RECORD_100}.hea`)
  const { rateHz, samplesUv } = real ? readFirstSignalUv(RECORD_100) : { rateHz: 360, samplesUv: spikeTrain(360) }
  const input = real ? 'MIT-BIH 100 lead 0' : 'synthetic spikes'
  const qrs = detectorRate(samplesUv, rateHz)
  const an = analyzerRate(samplesUv, rateHz)
  return [
    { name: 'signal.qrs', value: qrs, unit: 'samples/s', note: `${input}, ${rateHz} Hz, 1 s chunks, one core; goal ≥ 2,000,000` },
    { name: 'signal.analyzer', value: an, unit: 'samples/s', note: `detector + quality + HR, ${input} in ${PMD_CHUNK}-sample chunks: ${Math.floor(an / 130).toLocaleString('en-US')} patches at 130 Hz per core` },
  ]
}
