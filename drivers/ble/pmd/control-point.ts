/**
 * Polar PMD control point (FB005C81-…): commands the hub writes and the responses the sensor
 * indicates back on the same characteristic (protocols.md §5.2–5.3, [S-POLAR-CMD], [S-POLAR-RESP]).
 */
import { DecodeError } from '../../errors.js'
import { encodePmdSettings, parsePmdSettings, type PmdSettings } from './settings.js'

const PROTOCOL = 'pmd-cp'

export const PmdOp = {
  GET_MEASUREMENT_SETTINGS: 0x01,
  REQUEST_MEASUREMENT_START: 0x02,
  STOP_MEASUREMENT: 0x03,
} as const

/** Measurement type ids (§5.2, [S-POLAR-MTYPE]); decoders mask the type byte with 0x3F. */
export const PmdMeasurement = { ECG: 0, PPG: 1, ACC: 2, PPI: 3 } as const
export const MEASUREMENT_TYPE_MASK = 0x3f

/** Response status codes (§5.3 table). */
export const PMD_STATUS = [
  'success', 'invalid-op-code', 'invalid-measurement-type', 'not-supported', 'invalid-length',
  'invalid-parameter', 'already-in-state', 'invalid-resolution', 'invalid-sample-rate', 'invalid-range',
  'invalid-mtu', 'invalid-number-of-channels', 'invalid-state', 'device-in-charger', 'disk-full',
] as const

/** The H10's only ECG setting: 130 Hz, 14-bit (§5.2, [S-CARP]). */
export const H10_ECG_SETTINGS: PmdSettings = { sampleRate: [130], resolution: [14] }

/** `01 00`: ask which ECG settings the sensor supports. */
export function getSettingsCommand(type: number = PmdMeasurement.ECG): Buffer {
  return Buffer.from([PmdOp.GET_MEASUREMENT_SETTINGS, type])
}
/** `02 00 00 01 82 00 01 01 0E 00` for the H10 ECG (online stream: type byte bit7 = 0). */
export function startCommand(settings: PmdSettings, type: number = PmdMeasurement.ECG): Buffer {
  return Buffer.concat([Buffer.from([PmdOp.REQUEST_MEASUREMENT_START, type]), encodePmdSettings(settings)])
}
/** `03 00`: stop the ECG stream. */
export function stopCommand(type: number = PmdMeasurement.ECG): Buffer {
  return Buffer.from([PmdOp.STOP_MEASUREMENT, type])
}

/** One control point indication, parsed. */
export type PmdIndication =
  | { readonly kind: 'response'; readonly op: number; readonly measurementType: number; readonly status: number; readonly statusName: string; readonly more: boolean; readonly parameters: Buffer }
  /** Sensor-initiated `0x01`: the listed online measurements were stopped (§5.3). */
  | { readonly kind: 'stopped'; readonly measurementTypes: number[] }

/** Layout `F0 [op] [type] [status] [more] [parameters…]` (§5.3). */
export function parseControlPointIndication(buf: Buffer): PmdIndication {
  if (buf.length < 1) throw new DecodeError(PROTOCOL, 'truncated', 'empty control point indication')
  if (buf[0] === 0x01) {
    return { kind: 'stopped', measurementTypes: Array.from(buf.subarray(1), (t) => t & MEASUREMENT_TYPE_MASK) }
  }
  if (buf[0] !== 0xf0) throw new DecodeError(PROTOCOL, 'unknown-indication', `control point indication starts with 0x${hex(buf[0])}`)
  if (buf.length < 4) throw new DecodeError(PROTOCOL, 'truncated', `control point response needs 4 bytes, got ${buf.length}`)
  const status = buf[3]
  return {
    kind: 'response',
    op: buf[1],
    measurementType: buf[2] & MEASUREMENT_TYPE_MASK,
    status,
    statusName: PMD_STATUS[status] ?? `status-${status}`,
    more: buf.length > 4 && buf[4] !== 0,
    parameters: buf.subarray(Math.min(5, buf.length)),
  }
}

/**
 * Joins a response split over several indications: while `more` ≠ 0, append the next
 * indication's bytes from offset 5 (§5.3). Feed every indication; a complete response comes back.
 */
export class ControlPointAssembler {
  private head: PmdIndication & { kind: 'response' } | null = null
  private parts: Buffer[] = []

  feed(buf: Buffer): PmdIndication | null {
    const ind = parseControlPointIndication(buf)
    if (ind.kind !== 'response') return ind
    if (this.head === null) this.head = ind
    this.parts.push(ind.parameters)
    if (ind.more) return null
    const done = { ...this.head, more: false, parameters: Buffer.concat(this.parts) }
    this.head = null
    this.parts = []
    return done
  }
}

/** Settings carried by a successful GET_MEASUREMENT_SETTINGS response. */
export function settingsOfResponse(parameters: Buffer): PmdSettings {
  return parsePmdSettings(PROTOCOL, parameters)
}

function hex(b: number): string {
  return b.toString(16).padStart(2, '0')
}
