/**
 * `bedside-hub qrs RECORD`: runs the agent's streaming QRS detector over the first signal of a WFDB
 * record (RECORD = path without extension; `.hea` + format-212 `.dat`) and prints one R-peak sample
 * index per line (DESIGN.md, CLI). Exit 2 with one line on stderr when the record is missing or
 * malformed. The samples are fed in 1 s chunks through the same code path the agent runs per patch.
 */
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { QrsDetector } from '../signal/qrs.js'
import { adcToMicrovolts, decodeFormat212, parseHeader, WfdbError } from '../signal/wfdb.js'

/** Reads a record's first signal in µV; throws WfdbError (or a file-system error) when it cannot. */
export function readFirstSignalUv(record: string): { rateHz: number; samplesUv: Int32Array } {
  const header = parseHeader(readFileSync(`${record}.hea`, 'latin1'))
  const signal = header.signals[0]
  if (!signal) throw new WfdbError('no-signal', 'header lists no signal')
  if (signal.format !== 212) throw new WfdbError('unsupported-format', `signal format ${signal.format} (only 212 is supported)`)
  const bytes = readFileSync(join(dirname(record), signal.fileName))
  const adc = decodeFormat212(bytes, header.signalCount, 0, header.samplesPerSignal)
  return { rateHz: header.rateHz, samplesUv: adcToMicrovolts(adc, signal) }
}

/** Runs the detector over a whole signal in `chunkSamples` pieces; returns the R-peak indices. */
export function detectBeats(samplesUv: Int32Array, rateHz: number, chunkSamples = Math.round(rateHz)): number[] {
  const beats: number[] = []
  const detector = new QrsDetector(rateHz, { onBeat: (r) => beats.push(r) })
  for (let i = 0; i < samplesUv.length; i += chunkSamples) detector.push(samplesUv.subarray(i, i + chunkSamples))
  detector.finish()
  return beats
}

/**
 * The one RECORD argument of `qrs` and `rhythm`, read as the first signal in µV; undefined (with
 * one line on stderr, for exit 2) when it is missing or the record cannot be read.
 */
export function recordArg(command: string, argv: string[], example: string): { rateHz: number; samplesUv: Int32Array } | undefined {
  const record = argv[0]
  if (!record || argv.length > 1) {
    process.stderr.write(`usage: bedside-hub ${command} RECORD (path without extension, e.g. ${example})\n`)
    return undefined
  }
  try {
    return readFirstSignalUv(record.replace(/\.(hea|dat)$/, ''))
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err)
    process.stderr.write(`${command} ${record}: ${msg.split('\n')[0]}\n`)
    return undefined
  }
}

export async function main(argv: string[]): Promise<number> {
  const signal = recordArg('qrs', argv, 'data/mitdb/100')
  if (!signal) return 2
  const beats = detectBeats(signal.samplesUv, signal.rateHz)
  process.stdout.write(beats.length === 0 ? '' : beats.join('\n') + '\n')
  return 0
}
