/**
 * Heart Rate Service (0x180D): Heart Rate Measurement 0x2A37 and Body Sensor Location 0x2A38
 * (protocols.md §1.2–1.3, [S-GATT], cross-checked with [S-WS-BTATT]).
 */
import { MDC } from '../codes.js'
import { DecodeError } from '../errors.js'
import { Quality, type Observation } from '../records.js'
import { observation, type DecodeContext } from './decode-context.js'
import { observationJson } from './json.js'

const PROTOCOL = 'hrs'

// 0x2A37 flags (§1.2).
const FLAG_HR_UINT16 = 0x01
const FLAG_CONTACT_DETECTED = 0x02
const FLAG_CONTACT_SUPPORTED = 0x04
const FLAG_ENERGY_EXPENDED = 0x08
const FLAG_RR_PRESENT = 0x10

/** RR intervals are sent in 1/1024 s (§1.2). */
const RR_MS_PER_TICK = 1000 / 1024

export type SensorContact = 'unsupported' | 'detected' | 'not-detected'

export interface HeartRateMeasurement {
  readonly heartRateBpm: number
  readonly sensorContact: SensorContact
  /** Cumulative energy expended in kJ, or null when the flag is clear. */
  readonly energyExpendedKj: number | null
  /** Oldest first (§1.2: value 0 is the oldest and is sent first). */
  readonly rrIntervalsMs: number[]
}

/**
 * Parses 0x2A37. RFU flag bits 5–7 are ignored (§1.2: "do not reject the packet"); bytes after
 * the last field the flags announce are ignored too, as GATT lets a characteristic grow at its end.
 */
export function parseHeartRateMeasurement(payload: Buffer): HeartRateMeasurement {
  if (payload.length < 2) throw truncated(payload.length, 2)
  const flags = payload[0]
  const hrBytes = flags & FLAG_HR_UINT16 ? 2 : 1
  const eeBytes = flags & FLAG_ENERGY_EXPENDED ? 2 : 0
  const fixed = 1 + hrBytes + eeBytes
  if (payload.length < fixed) throw truncated(payload.length, fixed)
  const heartRateBpm = hrBytes === 2 ? payload.readUInt16LE(1) : payload[1]
  const energyExpendedKj = eeBytes ? payload.readUInt16LE(1 + hrBytes) : null
  return { heartRateBpm, sensorContact: contactOf(flags), energyExpendedKj, rrIntervalsMs: readRr(payload, flags, fixed) }
}

// §1.2: bit2 = feature supported, bit1 = contact detected; read bit1 only when bit2 is set.
function contactOf(flags: number): SensorContact {
  if (!(flags & FLAG_CONTACT_SUPPORTED)) return 'unsupported'
  return flags & FLAG_CONTACT_DETECTED ? 'detected' : 'not-detected'
}

function readRr(payload: Buffer, flags: number, offset: number): number[] {
  if (!(flags & FLAG_RR_PRESENT)) return []
  // §1.2: "the number of values is whatever remains of the payload, divided by 2": an odd
  // trailing byte is not half an interval we could use, so it is dropped (integer division),
  // as the public contract's `decode hrs 1996003412000003` expects.
  const out = new Array<number>((payload.length - offset) >> 1)
  for (let i = 0; i < out.length; i++) out[i] = payload.readUInt16LE(offset + 2 * i) * RR_MS_PER_TICK
  return out
}

function truncated(got: number, need: number): DecodeError {
  return new DecodeError(PROTOCOL, 'truncated', `heart rate measurement needs ${need} bytes, got ${got}`)
}

/** Sensor contact supported but lost means the value is not from a person (IEC 60601-1-8 technical condition). */
export function heartRateQuality(m: HeartRateMeasurement): number {
  return m.sensorContact === 'not-detected' ? Quality.SENSOR_OFF : Quality.VALID
}

/** Canonical records: one MDC_ECG_HEART_RATE observation (the strap measures from ECG). HRS carries no time. */
export function heartRateRecords(m: HeartRateMeasurement, ctx: DecodeContext): Observation[] {
  return [observation(ctx, 0, MDC.MDC_ECG_HEART_RATE, m.heartRateBpm, '/min', heartRateQuality(m), null)]
}

export function decodeHeartRateMeasurement(payload: Buffer, ctx: DecodeContext): Observation[] {
  return heartRateRecords(parseHeartRateMeasurement(payload), ctx)
}

/** JSON view for `bedside-hub decode hrs HEX`. */
export function heartRateJson(payload: Buffer): object {
  const m = parseHeartRateMeasurement(payload)
  return {
    observations: [observationJson(MDC.MDC_ECG_HEART_RATE, m.heartRateBpm, '/min', heartRateQuality(m))],
    sensorContact: m.sensorContact,
    energyExpendedKj: m.energyExpendedKj,
    rrIntervalsMs: m.rrIntervalsMs,
  }
}

/** Body Sensor Location 0x2A38 (§1.3). Values 7–255 are RFU and read as 'unknown', not rejected. */
export const BODY_SENSOR_LOCATIONS = ['other', 'chest', 'wrist', 'finger', 'hand', 'ear-lobe', 'foot'] as const
export type BodySensorLocation = (typeof BODY_SENSOR_LOCATIONS)[number] | 'unknown'

export function parseBodySensorLocation(payload: Buffer): BodySensorLocation {
  if (payload.length < 1) throw new DecodeError(PROTOCOL, 'truncated', 'body sensor location is empty')
  return BODY_SENSOR_LOCATIONS[payload[0]] ?? 'unknown'
}
