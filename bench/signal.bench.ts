/**
 * Signal benchmarks (issue 5): QRS detector and per-patch ECG analyzer throughput on one core.
 * Goal: at least 2 million samples/s for the detector. Input: MIT-BIH record 100 lead 0 from
 * shared/data (a synthetic spike train when the data is absent). The EC57 score is printed by
 * test/signal/mitdb.test.ts (nothing here imports from test/, DESIGN.md dependency rules).
 * Issue 20: the analyzer with rhythm analysis beside the analyzer without it, and the rhythm
 * goals scored EC57 style on the 34 public MIT-BIH records (scripts/testkit/rhythm-score.ts, the
 * same scorer as test/signal/rhythm-mitdb.test.ts): AF duration Se ≥ 95 % and +P ≥ 95 %, every
 * VF episode found, no false asystole or VF, VT reported.
 * Reproduce: npm run bench -- signal
 */
import { existsSync } from 'node:fs'
import { readFirstSignalUv } from '../agent/commands/qrs.js'
import { EcgAnalyzer } from '../agent/signal/heart-rate.js'
import { QrsDetector } from '../agent/signal/qrs.js'
import { publicRecords, scoreRecord, total } from '../scripts/testkit/rhythm-score.js'
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

function analyzerRate(samplesUv: Int32Array, rateHz: number, rhythm: boolean): number {
  const sink = { observation: () => {}, condition: () => {}, rhythm: () => {} }
  return bestRate(samplesUv.length, 5, () => {
    const a = new EcgAnalyzer({ deviceId: 'bench', sink, rhythm })
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
  const an = analyzerRate(samplesUv, rateHz, false)
  const rh = analyzerRate(samplesUv, rateHz, true)
  return [
    { name: 'signal.qrs', value: qrs, unit: 'samples/s', note: `${input}, ${rateHz} Hz, 1 s chunks, one core; goal ≥ 2,000,000` },
    { name: 'signal.analyzer', value: an, unit: 'samples/s', note: `detector + quality + HR, rhythm off, ${input} in ${PMD_CHUNK}-sample chunks: ${Math.floor(an / 130).toLocaleString('en-US')} patches at 130 Hz per core` },
    { name: 'signal.analyzer.rhythm', value: rh, unit: 'samples/s', note: `the same with rhythm analysis (the agent's default): ${Math.floor(rh / 130).toLocaleString('en-US')} patches at 130 Hz per core, ${(an / rh).toFixed(2)}× the time of rhythm off` },
    ...(real ? rhythmScores() : []),
  ]
}

/** The rhythm goals, EC57 style from 05:00 on the public MIT-BIH records (issue 20). */
function rhythmScores(): BenchFigure[] {
  const t = total(publicRecords().map((r) => scoreRecord(r)))
  const pct = (a: number, b: number) => (b === 0 ? Number.NaN : (100 * a) / b)
  const afSe = pct(t.af.both, t.af.ref)
  const afPp = pct(t.af.both, t.af.det)
  const met = (ok: boolean) => (ok ? 'met' : 'NOT met')
  return [
    { name: 'signal.rhythm.af-se', value: afSe, unit: '%', note: `AF duration sensitivity, 34 MIT-BIH records from 05:00; goal ≥ 95: ${met(afSe >= 95)}` },
    { name: 'signal.rhythm.af-pp', value: afPp, unit: '%', note: `AF duration positive predictivity; goal ≥ 95: ${met(afPp >= 95)}` },
    { name: 'signal.rhythm.vt-se', value: pct(t.vt.tp, t.vt.tp + t.vt.fn), unit: '%', note: `VT episode sensitivity (${t.vt.tp}/${t.vt.tp + t.vt.fn}; ${t.vtLong.tp}/${t.vtLong.tp + t.vtLong.fn} of the episodes with ≥ 5 ventricular beats, the alarm's criterion); reported, no goal` },
    { name: 'signal.rhythm.vt-pp', value: pct(t.vt.tpp, t.vt.tpp + t.vt.fp), unit: '%', note: `VT episode positive predictivity (${t.vt.tpp}/${t.vt.tpp + t.vt.fp}); reported, no goal` },
    { name: 'signal.rhythm.vf-found', value: t.vf.tp, unit: 'episodes', note: `of ${t.vf.tp + t.vf.fn} from 05:00 (${t.vfWhole.tp} of ${t.vfWhole.tp + t.vfWhole.fn} over whole records); goal all: ${met(t.vf.fn === 0)}` },
    { name: 'signal.rhythm.false-vf', value: t.vfWhole.fp, unit: 'episodes', note: `VF calls away from any reference VF, 34 whole records; goal 0: ${met(t.vfWhole.fp === 0)}` },
    { name: 'signal.rhythm.false-asys', value: t.asysFalse, unit: 'episodes', note: `asystole calls where the reference has a beat within 4 s; goal 0: ${met(t.asysFalse === 0)}` },
  ]
}
