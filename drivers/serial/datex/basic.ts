/**
 * Datex Basic physiological class (270 bytes) → values with MDC codes, UCUM units and quality
 * (protocols.md §6.6, [S-VSC Class2.cs], [S-WEI]). Pure.
 *
 * Special values below −32001 are markers, never values: they become NaN plus a quality flag.
 */
import { MDC } from '../../codes.js'
import { Quality } from '../../records.js'
import { LOCAL_TERMS } from '../local-codes.js'

/** Size of the Basic class data (§6.6). */
export const BASIC_CLASS_BYTES = 270

export interface DatexValue {
  readonly code: number
  /** In `unit`; NaN when a marker or an inactive group said "no value". */
  readonly value: number
  readonly unit: string
  readonly quality: number
  /** Channel label for multi-channel groups (`ART`, `P3`, `T2`). */
  readonly label?: string
}

/** Datex special values (§6.6, [S-VSC DataConstants]). */
const DATA_INVALID = -32767
const NOT_UPDATED = -32766
const DISCONTINUITY = -32765
const UNDER_RANGE = -32764
const OVER_RANGE = -32763
const NOT_CALIBRATED = -32762
const SPECIAL_BELOW = -32001

/** Quality for a raw int16: 0 for a value, a flag for a marker (the value is then NaN). */
export function markerQuality(raw: number): number {
  if (raw >= SPECIAL_BELOW) return Quality.VALID
  switch (raw) {
    case DATA_INVALID:
    case NOT_UPDATED:
      return Quality.UNAVAILABLE
    case DISCONTINUITY: // "e.g. calibration" (§6.6)
    case NOT_CALIBRATED:
      return Quality.CALIBRATING
    case UNDER_RANGE:
    case OVER_RANGE:
      return Quality.OUT_OF_RANGE
    default: // another special value we have no name for: still never a value
      return Quality.UNAVAILABLE | Quality.QUESTIONABLE
  }
}

/** Invasive pressure labels (label_info) [S-VSCW], index = label number. */
const PRESSURE_LABELS = ['', 'ART', 'CVP', 'PA', 'RAP', 'RVP', 'LAP', 'ICP', 'ABP', 'P1', 'P2', 'P3', 'P4', 'P5', 'P6',
  'SP', 'FEM', 'UAC', 'UVC', 'ICP2', 'P7', 'P8', 'FEMV']
/** Arterial sites get the arterial codes; CVP its mean code; every other site the generic "any site" codes (§8). */
const ARTERIAL = new Set(['ART', 'ABP', 'FEM', 'UAC'])

const GROUP_EXISTS = 1 << 0
const GROUP_ACTIVE = 1 << 1

/** Group quality from group_hdr.status_bits: -1 = group absent (emit nothing); exact semantics UNCONFIRMED (§6.6). */
function groupQuality(rec: Buffer, groupAt: number): number {
  const status = rec.readUInt32LE(groupAt)
  if (!(status & GROUP_EXISTS)) return -1
  return status & GROUP_ACTIVE ? Quality.VALID : Quality.UNAVAILABLE
}

function push(out: DatexValue[], code: number, raw: number, divisor: number, unit: string, gq: number, label?: string): void {
  const quality = gq | markerQuality(raw)
  const value = quality === Quality.VALID ? raw / divisor : NaN
  out.push(label === undefined ? { code, value, unit, quality } : { code, value, unit, quality, label })
}

/**
 * Appends the values of one Basic class whose first byte is `rec[at]`.
 * Offsets below are within the class (§6.6 table); the caller has checked the 270 bytes exist.
 */
export function decodeBasic(rec: Buffer, at: number, out: DatexValue[]): void {
  const ecg = groupQuality(rec, at)
  if (ecg >= 0) push(out, MDC.MDC_ECG_HEART_RATE!, rec.readInt16LE(at + 6), 1, '/min', ecg)
  decodeRespRate(rec, at, ecg, out)
  for (let i = 0; i < 4; i++) decodePressure(rec, at + 16 + 14 * i, i, out)
  for (let i = 0; i < 2; i++) decodePressure(rec, at + 240 + 14 * i, 4 + i, out)
  decodeNibp(rec, at + 72, out)
  for (let i = 0; i < 4; i++) decodeTemp(rec, at + 86 + 8 * i, i, out)
  decodeSpo2(rec, at + 118, out)
  decodeEtco2(rec, at + 132, out)
}

/**
 * One MDC_RESP_RATE per record, so a device never sends two different rates at once: the
 * impedance rate (ecg.imp_rr @14) when valid, else the CO2 rate (co2.rr @142) when valid, else
 * whichever group exists, carrying its marker's quality.
 */
function decodeRespRate(rec: Buffer, at: number, ecg: number, out: DatexValue[]): void {
  const co2 = groupQuality(rec, at + 132)
  const imp = rec.readInt16LE(at + 14)
  const co2Rr = rec.readInt16LE(at + 142)
  const impValid = ecg === Quality.VALID && markerQuality(imp) === Quality.VALID
  const co2Valid = co2 === Quality.VALID && markerQuality(co2Rr) === Quality.VALID
  if (ecg >= 0 && (impValid || !co2Valid)) push(out, MDC.MDC_RESP_RATE!, imp, 1, '/min', ecg)
  else if (co2 >= 0) push(out, MDC.MDC_RESP_RATE!, co2Rr, 1, '/min', co2)
}

function decodePressure(rec: Buffer, g: number, channel: number, out: DatexValue[]): void {
  const gq = groupQuality(rec, g)
  if (gq < 0) return
  const label = PRESSURE_LABELS[rec.readUInt16LE(g + 4)] || `P${channel + 1}` // unknown label: the channel name
  if (label === 'CVP') {
    // CVP is displayed as a mean; MDC sys/dia codes for it are not in our sources.
    push(out, LOCAL_TERMS.MDC_PRESS_BLD_VEN_CENT_MEAN.code, rec.readInt16LE(g + 10), 100, 'mm[Hg]', gq, label)
    return
  }
  const art = ARTERIAL.has(label)
  push(out, art ? MDC.MDC_PRESS_BLD_ART_SYS! : MDC.MDC_PRESS_BLD_SYS!, rec.readInt16LE(g + 6), 100, 'mm[Hg]', gq, label)
  push(out, art ? MDC.MDC_PRESS_BLD_ART_DIA! : MDC.MDC_PRESS_BLD_DIA!, rec.readInt16LE(g + 8), 100, 'mm[Hg]', gq, label)
  push(out, art ? MDC.MDC_PRESS_BLD_ART_MEAN! : MDC.MDC_PRESS_BLD_MEAN!, rec.readInt16LE(g + 10), 100, 'mm[Hg]', gq, label)
}

function decodeNibp(rec: Buffer, g: number, out: DatexValue[]): void {
  const gq = groupQuality(rec, g)
  if (gq < 0) return
  push(out, MDC.MDC_PRESS_BLD_NONINV_SYS!, rec.readInt16LE(g + 6), 100, 'mm[Hg]', gq)
  push(out, MDC.MDC_PRESS_BLD_NONINV_DIA!, rec.readInt16LE(g + 8), 100, 'mm[Hg]', gq)
  push(out, MDC.MDC_PRESS_BLD_NONINV_MEAN!, rec.readInt16LE(g + 10), 100, 'mm[Hg]', gq)
  // nibp.hr scale ×1 is UNCONFIRMED (§6.6; VSCapture does not use it).
  push(out, MDC.MDC_PULS_RATE_NON_INV!, rec.readInt16LE(g + 12), 1, '/min', gq)
}

/** T1 is reported as body temperature; T2–T4 as site-unspecified MDC_TEMP (site labels are not in §6.6). */
function decodeTemp(rec: Buffer, g: number, channel: number, out: DatexValue[]): void {
  const gq = groupQuality(rec, g)
  if (gq < 0) return
  const code = channel === 0 ? MDC.MDC_TEMP_BODY! : LOCAL_TERMS.MDC_TEMP.code
  push(out, code, rec.readInt16LE(g + 6), 100, 'Cel', gq, `T${channel + 1}`)
}

function decodeSpo2(rec: Buffer, g: number, out: DatexValue[]): void {
  const gq = groupQuality(rec, g)
  if (gq < 0) return
  push(out, MDC.MDC_PULS_OXIM_SAT_O2!, rec.readInt16LE(g + 6), 100, '%', gq)
  // spo2.pr scale ×1 is UNCONFIRMED (§6.6; VSCapture does not output it).
  push(out, MDC.MDC_PULS_OXIM_PULS_RATE!, rec.readInt16LE(g + 8), 1, '/min', gq)
}

/** etCO2 in mmHg = (et/100 %) × (amb/10 mmHg) / 100, as VSCapture computes it (§6.6). */
function decodeEtco2(rec: Buffer, g: number, out: DatexValue[]): void {
  const gq = groupQuality(rec, g)
  if (gq < 0) return
  const et = rec.readInt16LE(g + 6)
  const amb = rec.readInt16LE(g + 12)
  let q = gq | markerQuality(et)
  if (q === Quality.VALID && (markerQuality(amb) !== Quality.VALID || amb <= 0)) q = Quality.UNAVAILABLE
  out.push({ code: MDC.MDC_AWAY_CO2_ET!, value: q === Quality.VALID ? (et * amb) / 1e5 : NaN, unit: 'mm[Hg]', quality: q })
}
