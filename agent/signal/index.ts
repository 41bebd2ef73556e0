/**
 * agent/signal: QRS detection, HR/RR derivation and ECG signal quality (DESIGN.md, Layout).
 *
 * `EcgAnalysis` is the seam the pipeline uses: it routes each ECG WaveformChunk to the analyzer of
 * its device (one per device, created on the device's first ECG chunk, on the first ECG lead the
 * device sends, so a multi-lead device yields one HR) and forwards HR Observations, beats and
 * technical conditions to one sink. Non-ECG waveforms are ignored. Pure, like the rest of the
 * folder: the caller owns the clock and the I/O. Call `stop(deviceId)` when a device goes away.
 */
import type { WaveformChunk } from '../../drivers/records.js'
import type { DeviceSequence } from '../../drivers/types.js'
import { EcgAnalyzer, type EcgSink } from './heart-rate.js'

export { EcgAnalyzer, NOISE_RATIO_LIMIT, NOISE_REJECTS_PER_S, type BeatEvent, type EcgAnalyzerOptions, type EcgCondition, type EcgSink, type RhythmEvent } from './heart-rate.js'
export { RhythmAnalyzer, RHYTHM_LABELS, type RhythmLabel } from './rhythm.js'
export { QrsDetector, type BeatSink } from './qrs.js'

/** MDC_ECG_ELEC_POTL (partition 2, term 256) plus the lead: 131328 + lead number (I = 1, II = 2, …, V6 = 8 and beyond). */
const ECG_LEAD_BASE = 131328
const ECG_LEAD_LAST = ECG_LEAD_BASE + 255

export function isEcgLead(code: number): boolean {
  return code > ECG_LEAD_BASE && code <= ECG_LEAD_LAST
}

export interface EcgAnalysisOptions {
  readonly sink: EcgSink
  readonly cadenceMs?: number
  /** Saturation rails per device id, in µV, when the device profile knows them. */
  readonly railUv?: (deviceId: string) => number | undefined
  /** The device's sequence, which the derived HR observations continue (drivers/types.ts DeviceSequence). */
  readonly sequenceOf?: (deviceId: string) => DeviceSequence | undefined
}

export class EcgAnalysis {
  private readonly streams = new Map<string, { code: number; analyzer: EcgAnalyzer }>()

  constructor(private readonly opts: EcgAnalysisOptions) {}

  /** Feeds one chunk; returns false when it is not analysed (not ECG, or another lead of an analysed device). */
  push(chunk: WaveformChunk): boolean {
    if (!isEcgLead(chunk.code)) return false
    let stream = this.streams.get(chunk.deviceId)
    if (!stream) {
      const analyzer = new EcgAnalyzer({ deviceId: chunk.deviceId, sink: this.opts.sink, cadenceMs: this.opts.cadenceMs, railUv: this.opts.railUv?.(chunk.deviceId), seq: this.opts.sequenceOf?.(chunk.deviceId) })
      stream = { code: chunk.code, analyzer }
      this.streams.set(chunk.deviceId, stream)
    }
    if (stream.code !== chunk.code) return false
    stream.analyzer.push(chunk)
    return true
  }

  /** The device stopped streaming (disconnected, removed): finishes and forgets its analyzer. */
  stop(deviceId: string): void {
    this.streams.get(deviceId)?.analyzer.finish()
    this.streams.delete(deviceId)
  }

  get deviceCount(): number {
    return this.streams.size
  }
}
