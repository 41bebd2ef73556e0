/**
 * ORU^R01 (IHE PCD-01 style) → numeric values with MDC codes, UCUM units, time and quality
 * (protocols.md §7.3, §7.5). Pure.
 *
 * Accept/reject policy (what the ACK says, §7.4):
 * - a message we cannot or will not process as a whole (no MSH, wrong type, version,
 *   processing id, no control id) throws a DecodeError that the ACK turns into AR;
 * - a message whose content is malformed (bad escape, bad segment, NM value that is not a
 *   number, bad DTM) throws a DecodeError that becomes AE; nothing of it is emitted, so the
 *   ACK means exactly what was taken;
 * - a well-formed OBX we have no mapping for (a LOINC or unit we do not know, a non-numeric
 *   type) is skipped and listed in `skipped` with a reason, and the message is still AA:
 *   gateways send many parameters we do not use, and one of them must not cost the heart rate.
 */
import { DecodeError } from '../../errors.js'
import { Quality } from '../../records.js'
import { canonicalUnit, identifierToMdc, toCanonical, unitToUcum } from './coding.js'
import { components, text, type Hl7Delimiters, type Hl7Message, type Hl7Segment } from './message.js'
import { parseDtm } from './time.js'

export interface Hl7Value {
  readonly code: number
  /** NaN when OBX-5 is empty or OBX-11 is X ("cannot obtain"); quality then has UNAVAILABLE. */
  readonly value: number
  readonly unit: string
  readonly quality: number
  /** OBX-14, else OBR-7, else MSH-7; NaN when none is present. */
  readonly timeMs: number
  /** OBX-4 sub-id (PCD containment `MDS.VMD.CHANNEL.METRIC`). */
  readonly subId: string
}

export interface OruContent {
  readonly controlId: string
  /** MSH-7 as sent (the message's date/time), part of its identity: MSH-10 alone repeats after a sender restarts its counter. */
  readonly messageTime: string
  /** MSH-3 universal id (PCD-01: the sender's EUI-64), else its namespace id. */
  readonly senderId: string
  readonly values: Hl7Value[]
  /** Reasons for OBX rows that were well-formed but not mapped. */
  readonly skipped: string[]
}

/** MSH checks whose failure is an AR (§7.4). Returns the control id. */
export function checkHeader(msg: Hl7Message): string {
  const d = msg.delimiters
  const type = `${text(msg.msh, 9, 1, d)}^${text(msg.msh, 9, 2, d)}`
  if (type !== 'ORU^R01') throw new DecodeError('hl7', 'unsupported-message-type', `message type ${type} is not ORU^R01`)
  const version = text(msg.msh, 12, 1, d)
  if (!version.startsWith('2.')) throw new DecodeError('hl7', 'unsupported-version', `version "${version}" is not HL7 v2`)
  const processing = text(msg.msh, 11, 1, d)
  if (!['P', 'T', 'D'].includes(processing)) {
    throw new DecodeError('hl7', 'unsupported-processing-id', `processing id "${processing}" is not P, T or D`)
  }
  const controlId = text(msg.msh, 10, 1, d)
  if (controlId === '') throw new DecodeError('hl7', 'missing-control-id', 'MSH-10 message control id is empty')
  return controlId
}

/** Reads every OBX of an accepted ORU^R01. */
export function readOru(msg: Hl7Message, defaultOffsetMin = 0): OruContent {
  const d = msg.delimiters
  const controlId = checkHeader(msg)
  // Training and debugging messages (MSH-11 T/D) are kept but flagged as demo data.
  const baseQuality = text(msg.msh, 11, 1, d) === 'P' ? Quality.VALID : Quality.DEMO
  const mshTime = timeOf(msg.msh, 7, d, defaultOffsetMin, NaN)
  let obrTime = mshTime
  const values: Hl7Value[] = []
  const skipped: string[] = []
  for (const seg of msg.segments) {
    if (seg.id === 'OBR') obrTime = timeOf(seg, 7, d, defaultOffsetMin, mshTime)
    else if (seg.id === 'OBX') readObx(seg, d, timeOf(seg, 14, d, defaultOffsetMin, obrTime), baseQuality, values, skipped)
  }
  const senderId = text(msg.msh, 3, 2, d) || text(msg.msh, 3, 1, d)
  return { controlId, messageTime: text(msg.msh, 7, 1, d), senderId, values, skipped }
}

function timeOf(seg: Hl7Segment, n: number, d: Hl7Delimiters, offsetMin: number, fallback: number): number {
  const dtm = text(seg, n, 1, d)
  return dtm === '' ? fallback : parseDtm(dtm, offsetMin)
}

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)$/

function readObx(seg: Hl7Segment, d: Hl7Delimiters, timeMs: number, baseQuality: number, out: Hl7Value[], skipped: string[]): void {
  const valueType = text(seg, 2, 1, d)
  const rawValue = text(seg, 5, 1, d)
  if (valueType === '' && rawValue === '') return // PCD device/VMD/channel header row (§7.5)
  if (valueType !== 'NM') {
    skipped.push('unsupported-value-type')
    return
  }
  const code = identifierToMdc(components(seg, 3, d))
  if (code === undefined) {
    skipped.push('unmapped-code')
    return
  }
  const unit = unitToUcum(components(seg, 6, d)) || canonicalUnit(code)
  if (unit === undefined) {
    skipped.push('unmapped-unit')
    return
  }
  const status = text(seg, 11, 1, d)
  if (rawValue === '' || status === 'X') {
    out.push({ code, value: NaN, unit: canonicalUnit(code) ?? unit, quality: baseQuality | Quality.UNAVAILABLE, timeMs, subId: text(seg, 4, 1, d) })
    return
  }
  if (!NUMBER.test(rawValue)) throw new DecodeError('hl7', 'bad-value', `OBX-5 "${rawValue.slice(0, 20)}" is not a number`)
  const canon = toCanonical(code, Number(rawValue), unit)
  if (!canon) {
    skipped.push('unit-mismatch')
    return
  }
  out.push({ code, value: canon.value, unit: canon.unit, quality: baseQuality, timeMs, subId: text(seg, 4, 1, d) })
}
