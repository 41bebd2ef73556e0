/** Test utility: feeds a whole signal to an EcgAnalyzer as 1 s WaveformChunks and collects its output. */
import type { Observation } from '../../drivers/records.js'
import { EcgAnalyzer, type BeatEvent, type EcgAnalyzerOptions, type EcgCondition } from '../../agent/signal/heart-rate.js'

export const T0_MS = 1_764_000_000_000

export interface AnalyzerRun {
  readonly hr: Observation[]
  readonly beats: BeatEvent[]
  readonly conditions: EcgCondition[]
}

export function runAnalyzer(samplesUv: Int32Array, rateHz: number, opts: Partial<EcgAnalyzerOptions> = {}, chunkSamples = Math.round(rateHz)): AnalyzerRun {
  const out: AnalyzerRun = { hr: [], beats: [], conditions: [] }
  const analyzer = new EcgAnalyzer({
    deviceId: 'patch-1',
    sink: { observation: (o) => out.hr.push(o), beat: (b) => out.beats.push(b), condition: (c) => out.conditions.push(c) },
    ...opts,
  })
  for (let i = 0, seq = 0; i < samplesUv.length; i += chunkSamples, seq++) {
    const t0Us = T0_MS * 1000 + Math.round((i * 1e6) / rateHz)
    analyzer.push({ kind: 'wave', deviceId: 'patch-1', code: 131330, rateHz, t0Us, samplesUv: samplesUv.subarray(i, i + chunkSamples), hubTimeMs: t0Us / 1000, deviceSeq: seq, quality: 0 })
  }
  analyzer.finish()
  return out
}
