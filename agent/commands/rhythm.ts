/**
 * `bedside-hub rhythm RECORD`: runs the agent's per-patch ECG analysis (QRS detection, signal
 * quality and rhythm analysis, agent/signal/heart-rate.ts) over the first signal of a WFDB record
 * and prints one episode per line, `START END LABEL`, in sample indices of that signal, ordered by
 * start (DESIGN.md, CLI). Exit 2 with one line on stderr when the record is missing or malformed.
 * The samples go in as 1 s WaveformChunks, as a patch's would, so the episodes are those the
 * agent would alarm on, but for VT: the command reports EC57's ventricular runs (≥ EC57_RUN_BEATS
 * ventricular beats at ≥ VT_MIN_RATE), where the alarm waits for VT_MIN_BEATS (rhythm.ts), so that
 * its output scores against the MIT-BIH `(VT` annotations as EC57 defines them.
 */
import { EcgAnalyzer, type RhythmEvent } from '../signal/heart-rate.js'
import { EC57_RUN_BEATS } from '../signal/rhythm.js'
import { recordArg } from './qrs.js'

/** MDC_ECG_ELEC_POTL_II: the record's first signal stands for lead II (the analyzer does not care which). */
const LEAD_II = 131330

export interface Episode {
  readonly start: number
  readonly end: number
  readonly label: string
}

/**
 * Runs the analyzer over a whole signal in `chunkSamples` pieces; returns the completed episodes,
 * by start. VT needs `vtMinBeats` ventricular beats in a row (the alarm's VT_MIN_BEATS for what
 * the agent would raise).
 */
export function detectRhythm(samplesUv: Int32Array, rateHz: number, chunkSamples = Math.round(rateHz), vtMinBeats = EC57_RUN_BEATS): Episode[] {
  const episodes: Episode[] = []
  const sink = {
    observation: () => {},
    condition: () => {},
    rhythm: (e: RhythmEvent) => {
      if (e.phase === 'offset') episodes.push({ start: e.startSample, end: e.endSample, label: e.label })
    },
  }
  const analyzer = new EcgAnalyzer({ deviceId: 'record', sink, vtMinBeats })
  for (let i = 0; i < samplesUv.length; i += chunkSamples) {
    const t0Us = Math.round((i * 1e6) / rateHz)
    const samples = samplesUv.subarray(i, i + chunkSamples)
    analyzer.push({ kind: 'wave', deviceId: 'record', code: LEAD_II, rateHz, t0Us, samplesUv: samples, hubTimeMs: t0Us / 1000, deviceSeq: i / chunkSamples, quality: 0 })
  }
  analyzer.finish()
  return episodes.sort((a, b) => a.start - b.start || a.end - b.end)
}

export async function main(argv: string[]): Promise<number> {
  const signal = recordArg('rhythm', argv, 'data/mitdb/201')
  if (!signal) return 2
  const lines = detectRhythm(signal.samplesUv, signal.rateHz).map((e) => `${e.start} ${e.end} ${e.label}\n`)
  process.stdout.write(lines.join(''))
  return 0
}
