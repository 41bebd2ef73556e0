/**
 * Pulse Oximeter Service (0x1822): PLX Continuous Measurement 0x2A5F and PLX Spot-Check
 * Measurement 0x2A5E (protocols.md §2.2–2.4, [S-GATT], [S-WS-BTATT], [S-CY]).
 *
 * RFU flag bits 5–7 are ignored and so are bytes after the last announced field: a GATT
 * characteristic may only grow at its end, so the known fields still decode.
 */
import { MDC } from '../codes.js'
import { DecodeError } from '../errors.js'
import { Quality, type Observation } from '../records.js'
import { DATE_TIME_BYTES, readDateTime } from './date-time.js'
import { observation, type DecodeContext } from './decode-context.js'
import { isoOrNull, observationJson, type ObservationJson } from './json.js'
import { deviceSensorStatusNames, deviceSensorStatusQuality, measurementStatusNames, measurementStatusQuality } from './plx-status.js'
import { readSfloat, type Numeric } from './sfloat.js'

export interface SpO2Pr {
  readonly spo2Pct: Numeric
  readonly pulseRateBpm: Numeric
}

/** Fields shared by both measurements (§2.2 rows 5–7, §2.3 rows 4–6). */
interface PlxStatusFields {
  readonly measurementStatus: number | null
  readonly deviceSensorStatus: number | null
  readonly pulseAmplitudeIndexPct: Numeric | null
}

export interface PlxContinuous extends PlxStatusFields {
  readonly normal: SpO2Pr
  readonly fast: SpO2Pr | null
  readonly slow: SpO2Pr | null
}

export interface PlxSpotCheck extends PlxStatusFields {
  readonly spotCheck: SpO2Pr
  /** Device time, ms since the Unix epoch; null when absent, unknown, or the device clock is not set. */
  readonly timestampMs: number | null
  readonly deviceClockNotSet: boolean
}

/** A bounds-checked cursor over one payload; every read names the field it was after. */
class Reader {
  offset = 0
  constructor(readonly protocol: string, readonly buf: Buffer) {}
  need(bytes: number, field: string): number {
    const at = this.offset
    if (at + bytes > this.buf.length) {
      throw new DecodeError(this.protocol, 'truncated', `${field} needs bytes ${at}..${at + bytes - 1}, payload has ${this.buf.length}`)
    }
    this.offset += bytes
    return at
  }
  sfloat(field: string): Numeric {
    return readSfloat(this.buf, this.need(2, field))
  }
  spo2pr(field: string): SpO2Pr {
    return { spo2Pct: this.sfloat(`${field} SpO2`), pulseRateBpm: this.sfloat(`${field} PR`) }
  }
}

function readStatus(r: Reader, hasMs: boolean, hasDss: boolean, hasPai: boolean): PlxStatusFields {
  const measurementStatus = hasMs ? r.buf.readUInt16LE(r.need(2, 'measurement status')) : null
  // Device and Sensor Status is 24-bit (§2.2 row 6); bits 16–23 are RFU.
  const deviceSensorStatus = hasDss ? r.buf.readUIntLE(r.need(3, 'device and sensor status'), 3) : null
  const pulseAmplitudeIndexPct = hasPai ? r.sfloat('pulse amplitude index') : null
  return { measurementStatus, deviceSensorStatus, pulseAmplitudeIndexPct }
}

/** 0x2A5F flags: bit0 Fast, bit1 Slow, bit2 MS, bit3 DSS, bit4 PAI (§2.2). */
export function parsePlxContinuous(payload: Buffer): PlxContinuous {
  const r = new Reader('plx-cont', payload)
  const flags = payload[r.need(1, 'flags')]
  const normal = r.spo2pr('SpO2PR-Normal')
  const fast = flags & 0x01 ? r.spo2pr('SpO2PR-Fast') : null
  const slow = flags & 0x02 ? r.spo2pr('SpO2PR-Slow') : null
  return { normal, fast, slow, ...readStatus(r, (flags & 0x04) !== 0, (flags & 0x08) !== 0, (flags & 0x10) !== 0) }
}

/** 0x2A5E flags: bit0 timestamp, bit1 MS, bit2 DSS, bit3 PAI, bit4 device clock not set (§2.3). */
export function parsePlxSpotCheck(payload: Buffer): PlxSpotCheck {
  const r = new Reader('plx-spot', payload)
  const flags = payload[r.need(1, 'flags')]
  const spotCheck = r.spo2pr('SpO2PR-Spot-Check')
  const deviceClockNotSet = (flags & 0x10) !== 0
  const timeAt = flags & 0x01 ? r.need(DATE_TIME_BYTES, 'timestamp') : -1
  // A timestamp from a clock that was never set is not a time (nor worth validating):
  // the record falls back to hub receive time.
  const timestampMs = timeAt >= 0 && !deviceClockNotSet ? readDateTime('plx-spot', payload, timeAt) : null
  const status = readStatus(r, (flags & 0x02) !== 0, (flags & 0x04) !== 0, (flags & 0x08) !== 0)
  return { spotCheck, timestampMs, deviceClockNotSet, ...status }
}

/** Quality of every value in one measurement, from its status fields (§2.4 via plx-status.ts). */
export function plxStatusQuality(m: PlxStatusFields): number {
  return measurementStatusQuality(m.measurementStatus ?? 0) | deviceSensorStatusQuality(m.deviceSensorStatus ?? 0)
}

/** Quality of one SFLOAT value: the measurement's status plus what a special value says (§2.5). */
export function numericQuality(n: Numeric, statusQuality: number): number {
  if (n.absent === null) return statusQuality
  const range = n.absent === 'nan' || n.absent === 'reserved' ? 0 : Quality.OUT_OF_RANGE
  return statusQuality | Quality.UNAVAILABLE | range
}

function pairRecords(p: SpO2Pr, statusQuality: number, ctx: DecodeContext, timeMs: number | null): Observation[] {
  return [
    observation(ctx, 0, MDC.MDC_PULS_OXIM_SAT_O2, p.spo2Pct.value, '%', numericQuality(p.spo2Pct, statusQuality), timeMs),
    observation(ctx, 1, MDC.MDC_PULS_OXIM_PULS_RATE, p.pulseRateBpm.value, '/min', numericQuality(p.pulseRateBpm, statusQuality), timeMs),
  ]
}

/**
 * Canonical records: SpO2 and pulse rate from the Normal pair only. Fast and Slow are the same
 * quantities averaged differently; emitting them under the same codes would double-count.
 */
export function plxContinuousRecords(m: PlxContinuous, ctx: DecodeContext): Observation[] {
  return pairRecords(m.normal, plxStatusQuality(m), ctx, null)
}

export function plxSpotCheckRecords(m: PlxSpotCheck, ctx: DecodeContext): Observation[] {
  return pairRecords(m.spotCheck, plxStatusQuality(m), ctx, m.timestampMs)
}

export function decodePlxContinuous(payload: Buffer, ctx: DecodeContext): Observation[] {
  return plxContinuousRecords(parsePlxContinuous(payload), ctx)
}

export function decodePlxSpotCheck(payload: Buffer, ctx: DecodeContext): Observation[] {
  return plxSpotCheckRecords(parsePlxSpotCheck(payload), ctx)
}

function pairJson(p: SpO2Pr, q: number): ObservationJson[] {
  return [
    observationJson(MDC.MDC_PULS_OXIM_SAT_O2, p.spo2Pct.value, '%', numericQuality(p.spo2Pct, q), p.spo2Pct.absent),
    observationJson(MDC.MDC_PULS_OXIM_PULS_RATE, p.pulseRateBpm.value, '/min', numericQuality(p.pulseRateBpm, q), p.pulseRateBpm.absent),
  ]
}

// Fast/Slow pairs and PAI carry no MDC code in JSON, so a reader looking for "the" SpO2 finds the Normal one.
function plainPair(p: SpO2Pr | null): object | null {
  return p && { spo2Pct: numericJson(p.spo2Pct), pulseRateBpm: numericJson(p.pulseRateBpm) }
}
function numericJson(n: Numeric): object {
  return n.absent === null ? { value: n.value } : { value: null, absent: n.absent }
}

function statusJson(m: PlxStatusFields): object {
  return {
    measurementStatus: m.measurementStatus === null ? null : measurementStatusNames(m.measurementStatus),
    deviceSensorStatus: m.deviceSensorStatus === null ? null : deviceSensorStatusNames(m.deviceSensorStatus),
    pulseAmplitudeIndexPct: m.pulseAmplitudeIndexPct && numericJson(m.pulseAmplitudeIndexPct),
  }
}

export function plxContinuousJson(payload: Buffer): object {
  const m = parsePlxContinuous(payload)
  return { observations: pairJson(m.normal, plxStatusQuality(m)), fast: plainPair(m.fast), slow: plainPair(m.slow), ...statusJson(m) }
}

export function plxSpotCheckJson(payload: Buffer): object {
  const m = parsePlxSpotCheck(payload)
  return {
    observations: pairJson(m.spotCheck, plxStatusQuality(m)),
    deviceTime: isoOrNull(m.timestampMs),
    deviceClockNotSet: m.deviceClockNotSet,
    ...statusJson(m),
  }
}
