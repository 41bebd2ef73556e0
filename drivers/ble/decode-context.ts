/**
 * What a BLE decoder needs besides the payload: who sent it, when the hub received it and the
 * sequence number to give its first record. Decoders are pure functions of (payload, context).
 */
import type { Observation } from '../records.js'

export interface DecodeContext {
  /** Configured device id (never the device's serial number). */
  readonly deviceId: string
  /** Hub receive time, ms since the Unix epoch. */
  readonly hubTimeMs: number
  /** Sequence number of the first record this payload yields; later ones count up from it. */
  readonly deviceSeq: number
}

/** Context for the `decode` CLI: no device, no clock (the JSON view carries no hub time). */
export const CLI_CONTEXT: DecodeContext = { deviceId: 'cli', hubTimeMs: 0, deviceSeq: 0 }

/** Builds one Observation; `deviceTimeMs` falls back to hub time when the device sends none. */
export function observation(
  ctx: DecodeContext,
  index: number,
  code: number,
  value: number,
  unit: string,
  quality: number,
  deviceTimeMs: number | null,
): Observation {
  return {
    kind: 'obs',
    deviceId: ctx.deviceId,
    code,
    value,
    unit,
    deviceTimeMs: deviceTimeMs ?? ctx.hubTimeMs,
    hubTimeMs: ctx.hubTimeMs,
    deviceSeq: ctx.deviceSeq + index,
    quality,
  }
}
