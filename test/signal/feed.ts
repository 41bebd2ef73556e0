/** Test utility: feeds a whole signal to an EcgAnalyzer as WaveformChunks (1 s by default) and collects its output. */
import { codeOf } from '../../drivers/codes.js'
import type { Observation } from '../../drivers/records.js'
import { EcgAnalyzer, type BeatEvent, type EcgAnalyzerOptions, type EcgCondition } from '../../agent/signal/heart-rate.js'

export const T0_MS = 1_764_000_000_000

const RR_CODE = codeOf('MDC_ECG_TIME_PD_RR_GL')

export interface AnalyzerRun {
  /** HR observations (MDC_ECG_HEART_RATE). */
  readonly hr: Observation[]
  /** RR-interval observations (MDC_ECG_TIME_PD_RR_GL), one per beat after the first. */
  readonly rr: Observation[]
  /** Every observation in emission order. */
  readonly all: Observation[]
  readonly beats: BeatEvent[]
  readonly conditions: EcgCondition[]
}

export interface FeedOptions {
  readonly chunkSamples?: number
  /** Quality flags the "device" puts on chunk k. */
  readonly chunkQuality?: (k: number) => number
  /** Chunks that never arrive (lost packets). */
  readonly dropChunk?: (k: number) => boolean
}

export function runAnalyzer(samplesUv: Int32Array, rateHz: number, opts: Partial<EcgAnalyzerOptions> = {}, feed: FeedOptions = {}): AnalyzerRun {
  const out: AnalyzerRun = { hr: [], rr: [], all: [], beats: [], conditions: [] }
  const analyzer = new EcgAnalyzer({
    deviceId: 'patch-1',
    sink: { observation: (o) => (out.all.push(o), (o.code === RR_CODE ? out.rr : out.hr).push(o)), beat: (b) => out.beats.push(b), condition: (c) => out.conditions.push(c) },
    ...opts,
  })
  const size = feed.chunkSamples ?? Math.round(rateHz)
  for (let i = 0, k = 0; i < samplesUv.length; i += size, k++) {
    if (feed.dropChunk?.(k)) continue
    const t0Us = T0_MS * 1000 + Math.round((i * 1e6) / rateHz)
    const quality = feed.chunkQuality?.(k) ?? 0
    analyzer.push({ kind: 'wave', deviceId: 'patch-1', code: 131330, rateHz, t0Us, samplesUv: samplesUv.subarray(i, i + size), hubTimeMs: t0Us / 1000 + 40, deviceSeq: k, quality })
  }
  analyzer.finish()
  return out
}

/** Seconds since T0 of a record's device time. */
export function secondsOf(deviceTimeMs: number): number {
  return (deviceTimeMs - T0_MS) / 1000
}
