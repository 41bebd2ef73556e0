/**
 * Health Thermometer (0x1809): Temperature Measurement 0x2A1C; Intermediate Temperature 0x2A1E
 * has the same format (protocols.md §3, [S-GATT]).
 *
 * Layout: flags, FLOAT temperature, optional Date Time, optional Temperature Type.
 * Flags: bit0 unit (0 °C, 1 °F), bit1 timestamp present, bit2 type present; bits 3–7 RFU, ignored.
 */
import { MDC } from '../codes.js'
import { DecodeError } from '../errors.js'
import { Quality, type Observation } from '../records.js'
import { DATE_TIME_BYTES, readDateTime } from './date-time.js'
import { observation, type DecodeContext } from './decode-context.js'
import { isoOrNull, observationJson } from './json.js'
import { readFloat, type Numeric } from './sfloat.js'

const PROTOCOL = 'hts'

/** Temperature Type enum (§3 table; ISO/IEEE 11073-10408 sites). 0 and 10–255 are RFU. */
export const TEMPERATURE_TYPES = ['', 'armpit', 'body', 'ear', 'finger', 'gi-tract', 'mouth', 'rectum', 'toe', 'tympanum'] as const
export type TemperatureType = Exclude<(typeof TEMPERATURE_TYPES)[number], ''> | 'unknown'

export interface TemperatureMeasurement {
  /** Temperature in Cel, whatever unit the device sent (NaN when absent). */
  readonly temperature: Numeric
  /** The value as sent, and its unit, kept for audit and the CLI. */
  readonly sentValue: number
  readonly sentUnit: 'Cel' | '[degF]'
  readonly timestampMs: number | null
  readonly temperatureType: TemperatureType | null
}

export function parseTemperatureMeasurement(payload: Buffer): TemperatureMeasurement {
  if (payload.length < 5) throw truncated('temperature', 5, payload.length)
  const flags = payload[0]
  const sent = readFloat(payload, 1)
  let offset = 5
  let timestampMs: number | null = null
  if (flags & 0x02) {
    if (payload.length < offset + DATE_TIME_BYTES) throw truncated('timestamp', offset + DATE_TIME_BYTES, payload.length)
    timestampMs = readDateTime(PROTOCOL, payload, offset)
    offset += DATE_TIME_BYTES
  }
  let temperatureType: TemperatureType | null = null
  if (flags & 0x04) {
    if (payload.length < offset + 1) throw truncated('temperature type', offset + 1, payload.length)
    temperatureType = typeName(payload[offset])
  }
  const fahrenheit = (flags & 0x01) !== 0
  const temperature = fahrenheit && sent.absent === null ? { value: fahrenheitToCelsius(sent.value), absent: null } : sent
  return { temperature, sentValue: sent.value, sentUnit: fahrenheit ? '[degF]' : 'Cel', timestampMs, temperatureType }
}

/** UCUM `Cel` is the canonical unit (DESIGN.md); °F devices are converted here, once. */
export function fahrenheitToCelsius(f: number): number {
  return ((f - 32) * 5) / 9
}

function typeName(raw: number): TemperatureType {
  return raw >= 1 && raw < TEMPERATURE_TYPES.length ? (TEMPERATURE_TYPES[raw] as TemperatureType) : 'unknown'
}

function truncated(field: string, need: number, got: number): DecodeError {
  return new DecodeError(PROTOCOL, 'truncated', `${field} needs ${need} bytes, payload has ${got}`)
}

function temperatureQuality(m: TemperatureMeasurement): number {
  const a = m.temperature.absent
  if (a === null) return Quality.VALID
  return Quality.UNAVAILABLE | (a === 'nan' || a === 'reserved' ? 0 : Quality.OUT_OF_RANGE)
}

/**
 * Canonical record: MDC_TEMP_BODY in Cel. The site (armpit, rectum…) travels only in the JSON view:
 * protocols.md §8 lists site-specific LOINC codes but no site-specific MDC codes we could confirm.
 */
export function temperatureRecords(m: TemperatureMeasurement, ctx: DecodeContext): Observation[] {
  return [observation(ctx, 0, MDC.MDC_TEMP_BODY, m.temperature.value, 'Cel', temperatureQuality(m), m.timestampMs)]
}

export function decodeTemperatureMeasurement(payload: Buffer, ctx: DecodeContext): Observation[] {
  return temperatureRecords(parseTemperatureMeasurement(payload), ctx)
}

export function temperatureJson(payload: Buffer): object {
  const m = parseTemperatureMeasurement(payload)
  const value = Number.isNaN(m.temperature.value) ? m.temperature.value : Math.round(m.temperature.value * 1e4) / 1e4
  return {
    observations: [observationJson(MDC.MDC_TEMP_BODY, value, 'Cel', temperatureQuality(m), m.temperature.absent)],
    sent: { value: Number.isNaN(m.sentValue) ? null : m.sentValue, unit: m.sentUnit },
    deviceTime: isoOrNull(m.timestampMs),
    temperatureType: m.temperatureType,
  }
}
