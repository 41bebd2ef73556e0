/**
 * WFDB record reading, pure part: header text and format-212 bytes in, samples out.
 * The command module does the file I/O (agent/signal is pure, DESIGN.md Dependency rules).
 *
 * Sources: WFDB header(5) and signal(5) man pages, as summarised in shared/data/README.md §1.4
 * (header fields) and §1.5 (format 212 bit layout).
 */

/** A malformed or unsupported record, with a stable reason for callers and tests. */
export class WfdbError extends Error {
  readonly code = 'BEDSIDE_ERR_WFDB'
  constructor(
    /** Stable reason: `bad-header`, `unsupported-format`, `truncated`, `no-signal`. */
    readonly reason: string,
    message: string,
  ) {
    super(message)
    this.name = 'WfdbError'
  }
}

export interface WfdbSignal {
  readonly fileName: string
  readonly format: number
  /** ADC units per physical unit (WFDB default 200 when absent or 0). */
  readonly adcGain: number
  /** ADC value that corresponds to 0 physical units (defaults to adcZero, README §1.4). */
  readonly baseline: number
  readonly units: string
  readonly adcResolutionBits: number
  readonly adcZero: number
  readonly initialValue: number | undefined
  readonly description: string
}

export interface WfdbHeader {
  readonly recordName: string
  readonly signalCount: number
  readonly rateHz: number
  /** Samples per signal; undefined when the header omits it. */
  readonly samplesPerSignal: number | undefined
  readonly signals: readonly WfdbSignal[]
}

/** Parses a `.hea` text (CRLF or LF; `#` comments and blank lines ignored). */
export function parseHeader(text: string): WfdbHeader {
  const lines = text.split('\n').map((l) => l.replace(/\r$/, '').trim()).filter((l) => l !== '' && !l.startsWith('#'))
  const recordLine = lines[0]
  if (recordLine === undefined) throw new WfdbError('bad-header', 'header has no record line')
  const [name, nsig, freq, nsamp] = recordLine.split(/\s+/)
  const signalCount = Number(nsig)
  // Record line: "name nsig fs[/counterfreq[(base)]] nsamp ..." (header(5)); fs defaults to 250.
  const rateHz = freq === undefined ? 250 : Number.parseFloat(freq.split('/')[0] ?? '')
  if (!name || !Number.isInteger(signalCount) || signalCount < 1) throw new WfdbError('bad-header', `bad record line "${recordLine}"`)
  if (!Number.isFinite(rateHz) || rateHz <= 0) throw new WfdbError('bad-header', `bad sampling frequency "${freq}"`)
  if (lines.length < 1 + signalCount) throw new WfdbError('bad-header', `header announces ${signalCount} signals but has ${lines.length - 1} signal lines`)
  const samplesPerSignal = nsamp === undefined ? undefined : Number(nsamp)
  if (samplesPerSignal !== undefined && !(Number.isInteger(samplesPerSignal) && samplesPerSignal >= 0)) {
    throw new WfdbError('bad-header', `bad sample count "${nsamp}"`)
  }
  const signals = lines.slice(1, 1 + signalCount).map(parseSignalLine)
  return { recordName: name, signalCount, rateHz, samplesPerSignal, signals }
}

/** Signal line: "file format[xsamp][:skew][+offset] gain[(baseline)][/units] adcres adczero init checksum blocksize desc". */
function parseSignalLine(line: string): WfdbSignal {
  const f = line.split(/\s+/)
  const fileName = f[0] ?? ''
  const format = Number.parseInt(f[1] ?? '', 10)
  if (!fileName || !Number.isInteger(format)) throw new WfdbError('bad-header', `bad signal line "${line}"`)
  const gainField = /^([-+0-9.eE]+)?(?:\(([-0-9]+)\))?(?:\/(\S+))?$/.exec(f[2] ?? '')
  if (f[2] !== undefined && !gainField) throw new WfdbError('bad-header', `bad ADC gain "${f[2]}"`)
  const gain = gainField?.[1] === undefined ? 0 : Number(gainField[1])
  const adcResolutionBits = f[3] === undefined ? 12 : Number(f[3])
  const adcZero = f[4] === undefined ? 0 : Number(f[4])
  const baseline = gainField?.[2] === undefined ? adcZero : Number(gainField[2])
  if (![gain, adcResolutionBits, adcZero, baseline].every(Number.isFinite)) throw new WfdbError('bad-header', `bad numbers in signal line "${line}"`)
  return {
    fileName,
    format,
    adcGain: gain === 0 ? 200 : gain, // header(5): a gain of 0 or none means 200 units per mV
    baseline,
    units: gainField?.[3] ?? 'mV',
    adcResolutionBits,
    adcZero,
    initialValue: f[5] === undefined ? undefined : Number(f[5]),
    description: f.slice(8).join(' '),
  }
}

/**
 * Decodes one signal of a format-212 file holding `signalCount` interleaved signals
 * (README §1.5: two 12-bit two's-complement samples per 3 bytes, low nibble of byte 1 = high bits of the first).
 */
export function decodeFormat212(bytes: Uint8Array, signalCount: number, signalIndex: number, samplesPerSignal?: number): Int16Array {
  if (signalIndex < 0 || signalIndex >= signalCount) throw new WfdbError('no-signal', `signal ${signalIndex} not in a ${signalCount}-signal record`)
  const totalAvailable = Math.floor((bytes.length * 2) / 3)
  const frames = Math.floor(totalAvailable / signalCount)
  if (samplesPerSignal !== undefined && frames < samplesPerSignal) {
    throw new WfdbError('truncated', `data has ${frames} frames, header announces ${samplesPerSignal}`)
  }
  const n = samplesPerSignal ?? frames
  const out = new Int16Array(n)
  for (let i = 0; i < n; i++) out[i] = sample212(bytes, i * signalCount + signalIndex)
  return out
}

function sample212(bytes: Uint8Array, k: number): number {
  const g = (k >> 1) * 3
  const mid = bytes[g + 1]!
  const v = (k & 1) === 0 ? bytes[g]! | ((mid & 0x0f) << 8) : bytes[g + 2]! | ((mid & 0xf0) << 4)
  return v >= 2048 ? v - 4096 : v
}

/** ADC units to integer µV: (adc − baseline) / gain is in the signal's units (mV here). */
export function adcToMicrovolts(adc: Int16Array, signal: WfdbSignal): Int32Array {
  const scale = unitsToMicrovolts(signal.units) / signal.adcGain
  const out = new Int32Array(adc.length)
  for (let i = 0; i < adc.length; i++) out[i] = Math.round((adc[i]! - signal.baseline) * scale)
  return out
}

function unitsToMicrovolts(units: string): number {
  switch (units) {
    case 'mV':
      return 1000
    case 'uV':
      return 1
    case 'V':
      return 1e6
    default:
      throw new WfdbError('bad-header', `signal unit "${units}" is not a voltage`)
  }
}
