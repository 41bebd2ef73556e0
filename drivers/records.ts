/**
 * Canonical records: the only thing a driver emits and the only thing the agent consumes.
 * Nothing downstream knows which device or protocol produced a record (DESIGN.md, Canonical records).
 *
 * Hot-path note: records are plain objects with numeric codes and a quality bitmask so that the
 * pipeline can move hundreds of thousands per second without per-record string work.
 */

/** Quality flags travel with every value. 0 means valid; any bit set means "do not trust as a value". */
export const Quality = {
  VALID: 0,
  QUESTIONABLE: 1 << 0,
  LEADS_OFF: 1 << 1,
  SENSOR_OFF: 1 << 2,
  CALIBRATING: 1 << 3,
  OUT_OF_RANGE: 1 << 4,
  /** The device sent a "no value" marker (IEEE 11073 NaN/NRes, Datex invalid, HL7 empty OBX-5). */
  UNAVAILABLE: 1 << 5,
  /** The hub re-timed the record because the device clock drifted past the configured bound. */
  RETIMED: 1 << 6,
  /** Demo or test data (PLX measurement status "Data for Demonstration/Testing"). */
  DEMO: 1 << 7,
} as const
export type QualityFlag = (typeof Quality)[keyof typeof Quality]

const qualityNames: ReadonlyArray<readonly [number, string]> = [
  [Quality.QUESTIONABLE, 'questionable'],
  [Quality.LEADS_OFF, 'leads-off'],
  [Quality.SENSOR_OFF, 'sensor-off'],
  [Quality.CALIBRATING, 'calibrating'],
  [Quality.OUT_OF_RANGE, 'out-of-range'],
  [Quality.UNAVAILABLE, 'unavailable'],
  [Quality.RETIMED, 'retimed'],
  [Quality.DEMO, 'demo'],
]

/** Human/JSON form of a quality bitmask: `[]` means valid. */
export function qualityToNames(quality: number): string[] {
  const out: string[] = []
  for (const [bit, name] of qualityNames) if (quality & bit) out.push(name)
  return out
}

export function qualityFromNames(names: readonly string[]): number {
  let q = 0
  for (const n of names) {
    const hit = qualityNames.find(([, name]) => name === n)
    if (!hit) throw new RangeError(`unknown quality flag "${n}"`)
    q |= hit[0]
  }
  return q
}

/** One numeric reading. */
export interface Observation {
  readonly kind: 'obs'
  /** Configured device id (never the device's serial number). */
  readonly deviceId: string
  /** IEEE 11073-10101 MDC numeric code (see codes.ts). */
  readonly code: number
  /** The value in `unit`; NaN when the device said "no value" (then quality has UNAVAILABLE). */
  readonly value: number
  /** UCUM unit string: `/min`, `%`, `mm[Hg]`, `Cel`. */
  readonly unit: string
  /** Device time, ms since the Unix epoch. */
  readonly deviceTimeMs: number
  /** Hub receive time, ms since the Unix epoch. */
  readonly hubTimeMs: number
  /** Per-device sequence number (from the device when it has one, else assigned by the driver). */
  readonly deviceSeq: number
  /** Bitmask of `Quality` flags. */
  readonly quality: number
}

/** A run of equally spaced samples of one waveform. */
export interface WaveformChunk {
  readonly kind: 'wave'
  readonly deviceId: string
  /** MDC code of the waveform, e.g. MDC_ECG_ELEC_POTL_II. */
  readonly code: number
  /** Samples per second. */
  readonly rateHz: number
  /** Device time of sample 0, µs since the Unix epoch. */
  readonly t0Us: number
  /** Samples in µV (integers). */
  readonly samplesUv: Int32Array
  readonly hubTimeMs: number
  readonly deviceSeq: number
  readonly quality: number
}

export type DeviceRecord = Observation | WaveformChunk
