/**
 * JSON view of decoded BLE values for `bedside-hub decode` (DESIGN.md, CLI): MDC reference ids,
 * UCUM units, quality flag names, and `absent` instead of a number for IEEE 11073 special values.
 */
import { refOf } from '../codes.js'
import { qualityToNames } from '../records.js'
import type { AbsentReason } from './sfloat.js'

export interface ObservationJson {
  code: string
  value: number | null
  unit: string
  quality?: string[]
  absent?: AbsentReason
}

export function observationJson(code: number, value: number, unit: string, quality: number, absent: AbsentReason | null = null): ObservationJson {
  const out: ObservationJson = { code: refOf(code), value: Number.isNaN(value) ? null : value, unit }
  if (quality !== 0) out.quality = qualityToNames(quality)
  if (absent !== null) out.absent = absent
  return out
}

/** ISO-8601 form of a device time, or null when the device sent none / said "unknown". */
export function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString()
}
