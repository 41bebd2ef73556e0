/**
 * Byte encoders for simulated BLE peripherals: the exact notification bytes a real device sends,
 * built from the same layouts the decoders follow (protocols.md §1–5). The demo ward and the tests
 * feed these bytes through the real decoders, so a layout mistake shows up as a failing round trip.
 */
import type { AbsentReason } from '../../ble/sfloat.js'

const SFLOAT_SPECIAL: Record<AbsentReason, number> = { nan: 0x07ff, nres: 0x0800, 'pos-infinity': 0x07fe, 'neg-infinity': 0x0802, reserved: 0x0801 }
const FLOAT_SPECIAL: Record<AbsentReason, number> = { nan: 0x007fffff, nres: 0x00800000, 'pos-infinity': 0x007ffffe, 'neg-infinity': 0x00800002, reserved: 0x00800001 }

/** value × 10^exponent fits: mantissa = round(value / 10^exponent), 12-bit signed (§2.5). */
export function encodeSfloat(value: number | AbsentReason, exponent = 0): number {
  if (typeof value === 'string') return SFLOAT_SPECIAL[value]
  const mantissa = Math.round(exponent < 0 ? value * 10 ** -exponent : value / 10 ** exponent)
  if (mantissa < -2048 || mantissa > 2047) throw new RangeError(`SFLOAT mantissa ${mantissa} out of range`)
  return ((exponent & 0x0f) << 12) | (mantissa & 0x0fff)
}

/** FLOAT: 8-bit signed exponent, 24-bit signed mantissa (§2.5). */
export function encodeFloat(value: number | AbsentReason, exponent = 0): number {
  if (typeof value === 'string') return FLOAT_SPECIAL[value]
  const mantissa = Math.round(exponent < 0 ? value * 10 ** -exponent : value / 10 ** exponent)
  if (mantissa < -0x800000 || mantissa > 0x7fffff) throw new RangeError(`FLOAT mantissa ${mantissa} out of range`)
  return (((exponent & 0xff) << 24) | (mantissa & 0xffffff)) >>> 0
}

/** 7-byte Date Time 0x2A08, UTC (§2.3). */
export function encodeDateTime(ms: number): Buffer {
  const d = new Date(ms)
  const b = Buffer.alloc(7)
  b.writeUInt16LE(d.getUTCFullYear(), 0)
  b[2] = d.getUTCMonth() + 1
  b[3] = d.getUTCDate()
  b[4] = d.getUTCHours()
  b[5] = d.getUTCMinutes()
  b[6] = d.getUTCSeconds()
  return b
}

export interface HeartRateFields {
  heartRateBpm: number
  contact?: 'unsupported' | 'detected' | 'not-detected'
  energyExpendedKj?: number
  /** RR intervals in 1/1024 s ticks, oldest first. */
  rrTicks?: readonly number[]
}

/** Heart Rate Measurement 0x2A37 (§1.2); uint16 HR only when the value needs it. */
export function encodeHeartRate(f: HeartRateFields): Buffer {
  const wide = f.heartRateBpm > 255
  const contact = f.contact === 'detected' ? 0x06 : f.contact === 'not-detected' ? 0x04 : 0
  const flags = (wide ? 0x01 : 0) | contact | (f.energyExpendedKj !== undefined ? 0x08 : 0) | (f.rrTicks?.length ? 0x10 : 0)
  const bytes: number[] = [flags]
  pushLe(bytes, f.heartRateBpm, wide ? 2 : 1)
  if (f.energyExpendedKj !== undefined) pushLe(bytes, f.energyExpendedKj, 2)
  for (const rr of f.rrTicks ?? []) pushLe(bytes, rr, 2)
  return Buffer.from(bytes)
}

export interface PlxFields {
  spo2Pct: number | AbsentReason
  pulseRateBpm: number | AbsentReason
  measurementStatus?: number
  deviceSensorStatus?: number
  pulseAmplitudeIndexPct?: number
}

/** PLX Continuous 0x2A5F (§2.2): Normal pair plus the optional status fields. */
export function encodePlxContinuous(f: PlxFields): Buffer {
  const flags = (f.measurementStatus !== undefined ? 0x04 : 0) | (f.deviceSensorStatus !== undefined ? 0x08 : 0) | (f.pulseAmplitudeIndexPct !== undefined ? 0x10 : 0)
  const bytes: number[] = [flags]
  pushLe(bytes, encodeSfloat(f.spo2Pct), 2)
  pushLe(bytes, encodeSfloat(f.pulseRateBpm), 2)
  pushStatus(bytes, f)
  return Buffer.from(bytes)
}

/** PLX Spot-Check 0x2A5E (§2.3), with a timestamp when `timeMs` is given. */
export function encodePlxSpotCheck(f: PlxFields & { timeMs?: number }): Buffer {
  const flags = (f.timeMs !== undefined ? 0x01 : 0) | (f.measurementStatus !== undefined ? 0x02 : 0) | (f.deviceSensorStatus !== undefined ? 0x04 : 0) | (f.pulseAmplitudeIndexPct !== undefined ? 0x08 : 0)
  const bytes: number[] = [flags]
  pushLe(bytes, encodeSfloat(f.spo2Pct), 2)
  pushLe(bytes, encodeSfloat(f.pulseRateBpm), 2)
  if (f.timeMs !== undefined) bytes.push(...encodeDateTime(f.timeMs))
  pushStatus(bytes, f)
  return Buffer.from(bytes)
}

function pushStatus(bytes: number[], f: PlxFields): void {
  if (f.measurementStatus !== undefined) pushLe(bytes, f.measurementStatus, 2)
  if (f.deviceSensorStatus !== undefined) pushLe(bytes, f.deviceSensorStatus, 3)
  if (f.pulseAmplitudeIndexPct !== undefined) pushLe(bytes, encodeSfloat(f.pulseAmplitudeIndexPct, -1), 2)
}

export interface TemperatureFields {
  value: number | AbsentReason
  unit?: 'Cel' | '[degF]'
  timeMs?: number
  /** Temperature Type enum value (§3), e.g. 2 = body. */
  type?: number
}

/** Temperature Measurement 0x2A1C (§3), FLOAT with one decimal. */
export function encodeTemperature(f: TemperatureFields): Buffer {
  const flags = (f.unit === '[degF]' ? 0x01 : 0) | (f.timeMs !== undefined ? 0x02 : 0) | (f.type !== undefined ? 0x04 : 0)
  const bytes: number[] = [flags]
  pushLe(bytes, encodeFloat(f.value, -1), 4)
  if (f.timeMs !== undefined) bytes.push(...encodeDateTime(f.timeMs))
  if (f.type !== undefined) bytes.push(f.type)
  return Buffer.from(bytes)
}

/** Polar PMD ECG data frame, frame type 0 (§5.4): type, ts of the last sample (ns since 2000), samples. */
export function encodeEcgFrame(timestampNs: bigint, samplesUv: ArrayLike<number>): Buffer {
  const b = Buffer.alloc(10 + 3 * samplesUv.length)
  b[0] = 0 // ECG, online
  b.writeBigUInt64LE(timestampNs, 1)
  b[9] = 0 // raw 24-bit frame
  for (let i = 0; i < samplesUv.length; i++) b.writeIntLE(samplesUv[i], 10 + 3 * i, 3)
  return b
}

function pushLe(bytes: number[], value: number, size: number): void {
  for (let i = 0; i < size; i++) bytes.push((value >>> (8 * i)) & 0xff)
}
