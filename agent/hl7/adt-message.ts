/**
 * One ADT message (HL7 v2.6 chapter 3, Patient Administration) read into what the ward needs: the
 * event, the patient (PID-3 MRN with its assigning authority, PID-5 name, PID-7 birth date), where
 * they are (PV1-3) and the visit (PV1-19), and for A40 the merged-away identifier (MRG-1). Pure.
 *
 * Every refusal names the field that caused it (AdtFieldError: segment, its sequence in the
 * message, field, component), so the ACK's ERR-2 can point the interface engine's analyst at it.
 * Segment and field positions: v2.6 §2.14.9 MSH, §3.4.2 PID, §3.4.3 PV1, §3.4.9 MRG, §3.4.1 EVN.
 */
import { isUtf8 } from 'node:buffer'
import { DecodeError } from '../../drivers/errors.js'
import { parseDtm } from '../../drivers/serial/hl7/time.js'
import { component, parseMessage, text, type Hl7Delimiters, type Hl7Message, type Hl7Segment } from '../../drivers/serial/hl7/message.js'
import type { PatientLocation } from './locations.js'

/** The trigger events the ward acts on (v2.6 table 0003). */
export const ADT_TRIGGERS = ['A01', 'A02', 'A03', 'A04', 'A08', 'A11', 'A12', 'A13', 'A40'] as const
export type AdtTrigger = (typeof ADT_TRIGGERS)[number]

export interface AdtPatient {
  /** PID-3 CX-1 of the chosen repetition. */
  readonly mrn: string
  /** Its CX-4 (assigning authority, namespace id), '' when the sender gave none. */
  readonly authority: string
  /** PID-5 as "Family, Given Middle"; null when absent. */
  readonly name: string | null
  /** PID-7 as YYYY-MM-DD; null when absent. */
  readonly birthDate: string | null
}

export interface AdtEvent {
  readonly message: Hl7Message
  /** MSH-10. */
  readonly controlId: string
  /** MSH-3.1 and MSH-4.1: who sent it (the key of its re-send window, and the audit actor). */
  readonly sendingApp: string
  readonly sendingFacility: string
  readonly trigger: AdtTrigger
  readonly patient: AdtPatient
  /** PV1-3; null when PV1 or PV1-3 is absent. */
  readonly location: PatientLocation | null
  /** PV1-19.1 visit number; null when absent. */
  readonly visit: string | null
  /**
   * PV1-44 admit date/time (v2.6 §3.4.3.44): when the visit began, the same in every message of the
   * visit, so two wards' gateways agree on it (issue 24: the encounter's key epoch); NaN when absent.
   */
  readonly admitMs: number
  /** A40: MRG-1.1, the identifier merged into PID-3. */
  readonly priorMrn: string | null
  /**
   * When the event happened, in the sender's clock: EVN-6 (event occurred), else EVN-2 (recorded),
   * else MSH-7; a time without offset is the gateway's local time (same hospital). NaN when none
   * parses: then no late-event check.
   */
  readonly eventMs: number
}

/** Where a refused message went wrong, in ERR-2's terms (ERL: segment ^ sequence ^ field ^ repetition ^ component). */
export interface ErrorLocation {
  readonly segment: string
  readonly sequence: number
  readonly field: number
  readonly component?: number
}

/** HL7 table 0357 codes used here. */
export const HL7_ERR = {
  segmentSequence: '100^Segment sequence error',
  requiredFieldMissing: '101^Required field missing',
  dataType: '102^Data type error',
  tableValueNotFound: '103^Table value not found',
  unsupportedMessageType: '200^Unsupported message type',
  unsupportedEvent: '201^Unsupported event code',
  unsupportedVersion: '203^Unsupported version id',
  unknownKey: '204^Unknown key identifier',
  applicationError: '207^Application internal error',
} as const

/** A message refused: AE (fix the field and re-send) or AR (this receiver will not take it). */
export class AdtFieldError extends Error {
  readonly code = 'BEDSIDE_ERR_HL7_ADT'
  constructor(
    readonly ack: 'AE' | 'AR',
    /** Stable reason for counters and tests, e.g. `missing-mrn`, `unknown-location`. */
    readonly reason: string,
    /** HL7 table 0357 code^text. */
    readonly hl7Error: string,
    readonly location: ErrorLocation | null,
    message: string,
  ) {
    super(message)
    this.name = 'AdtFieldError'
  }
}

const MAX_MRN = 64 // as the admissions API
const MAX_NAME = 200

export type AdtRead =
  | { readonly ok: true; readonly event: AdtEvent }
  /** `message` is set when at least MSH was read (for the ACK header); `controlId` '' when unknown. */
  | { readonly ok: false; readonly message?: Hl7Message; readonly controlId: string; readonly error: AdtFieldError }

/** Reads one message body; never throws for bad input (the result names the field). */
export function readAdt(body: string, mrnAuthority?: string): AdtRead {
  let message: Hl7Message
  try {
    message = parseMessage(body)
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err
    const bad = err.reason === 'bad-segment'
    const where = bad ? null : { segment: 'MSH', sequence: 1, field: err.reason === 'bad-msh' ? 2 : 0 }
    return { ok: false, controlId: '', error: new AdtFieldError(bad ? 'AE' : 'AR', err.reason, bad ? HL7_ERR.segmentSequence : HL7_ERR.dataType, where, err.message) }
  }
  try {
    return { ok: true, event: readParsed(message, mrnAuthority) }
  } catch (err) {
    if (!(err instanceof AdtFieldError)) throw err
    let controlId = ''
    try {
      controlId = controlIdOf(message)
    } catch {
      // an MSH-10 with a bad escape: answered without MSA-2
    }
    return { ok: false, message, controlId, error: err }
  }
}

/**
 * The text of a message body in the character set MSH-18 names (v2.6 table 0211): `8859/1` (and
 * the other ISO 8859 parts, read as Latin-1) byte for byte; `UNICODE UTF-8` as UTF-8; without
 * MSH-18, UTF-8 when the bytes are valid UTF-8, else Latin-1 (engines that leave MSH-18 empty
 * send either; both agree on ASCII). Accented names come through either way.
 */
export function decodeBody(body: Uint8Array): string {
  const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  const cr = bytes.indexOf(0x0d)
  const msh = bytes.subarray(0, cr < 0 ? Math.min(bytes.length, 1024) : cr).toString('latin1')
  const sep = msh.startsWith('MSH') ? msh[3] : undefined
  const charset = sep ? (msh.split(sep)[17] ?? '').split(msh[4] ?? '^')[0]!.trim().toUpperCase() : ''
  if (charset.startsWith('8859/')) return bytes.toString('latin1')
  if (charset === '' && !isUtf8(bytes)) return bytes.toString('latin1')
  return bytes.toString('utf8')
}

/** The MSH-10 of a message that may be refused later, for the ACK's MSA-2. */
export function controlIdOf(m: Hl7Message): string {
  return safeText(m.msh, 10, 1, m.delimiters)
}

function readParsed(m: Hl7Message, mrnAuthority: string | undefined): AdtEvent {
  const d = m.delimiters
  const msh = m.msh
  const controlId = safeText(msh, 10, 1, d)
  if (!controlId) throw new AdtFieldError('AR', 'missing-control-id', HL7_ERR.requiredFieldMissing, at(m, msh, 10), 'MSH-10 (message control id) is empty')
  const version = component(msh, 12, 1, d)
  if (!version.startsWith('2.')) throw new AdtFieldError('AR', 'unsupported-version', HL7_ERR.unsupportedVersion, at(m, msh, 12), `MSH-12 version "${version.slice(0, 20)}" is not HL7 v2`)
  const type = component(msh, 9, 1, d)
  const event = component(msh, 9, 2, d) || component(segment(m, 'EVN'), 1, 1, d)
  if (type !== 'ADT') throw new AdtFieldError('AR', 'unsupported-message-type', HL7_ERR.unsupportedMessageType, at(m, msh, 9, 1), `MSH-9 message type "${type.slice(0, 20)}" is not ADT`)
  if (!(ADT_TRIGGERS as readonly string[]).includes(event)) {
    throw new AdtFieldError('AR', 'unsupported-event', HL7_ERR.unsupportedEvent, at(m, msh, 9, 2), `MSH-9 trigger event "${event.slice(0, 20)}" is not one this ward acts on (${ADT_TRIGGERS.join(', ')})`)
  }
  const trigger = event as AdtTrigger
  const pid = segment(m, 'PID')
  if (!pid) throw new AdtFieldError('AE', 'missing-pid', HL7_ERR.segmentSequence, { segment: 'PID', sequence: 1, field: 0 }, 'the message has no PID segment')
  const pv1 = segment(m, 'PV1')
  if (!pv1 && trigger !== 'A08' && trigger !== 'A40') throw new AdtFieldError('AE', 'missing-pv1', HL7_ERR.segmentSequence, { segment: 'PV1', sequence: 1, field: 0 }, `ADT^${trigger} has no PV1 segment`)
  const location = pv1 ? readLocation(m, pv1) : null
  const mrg = segment(m, 'MRG')
  let priorMrn: string | null = null
  if (trigger === 'A40') {
    priorMrn = mrg ? safeText(mrg, 1, 1, d) : ''
    if (!priorMrn) throw new AdtFieldError('AE', 'missing-prior-mrn', HL7_ERR.requiredFieldMissing, { segment: 'MRG', sequence: 1, field: 1 }, 'ADT^A40 needs MRG-1 (the prior patient identifier)')
  }
  return {
    message: m, controlId, trigger, location, priorMrn,
    sendingApp: safeText(msh, 3, 1, d), sendingFacility: safeText(msh, 4, 1, d),
    patient: readPatient(m, pid, mrnAuthority),
    visit: pv1 ? safeText(pv1, 19, 1, d) || null : null,
    admitMs: pv1 ? dtmOrNaN(component(pv1, 44, 1, d)) : NaN,
    eventMs: eventTime(m),
  }
}

/** A DTM field in ms, NaN when empty or malformed (a bad PV1-44 is not worth an AE). */
function dtmOrNaN(raw: string): number {
  if (!raw) return NaN
  try {
    return parseDtm(raw, -new Date().getTimezoneOffset())
  } catch {
    return NaN
  }
}

function eventTime(m: Hl7Message): number {
  const evn = segment(m, 'EVN')
  const offsetMin = -new Date().getTimezoneOffset()
  for (const raw of [component(evn, 6, 1, m.delimiters), component(evn, 2, 1, m.delimiters), component(m.msh, 7, 1, m.delimiters)]) {
    if (!raw) continue
    try {
      return parseDtm(raw, offsetMin)
    } catch {
      // a malformed time is not worth an AE: the next one, or no late-event check
    }
  }
  return NaN
}

/** PID-3 (CX, repeating): the repetition from `authority`, else the first typed MR (CX-5), else the first. */
function readPatient(m: Hl7Message, pid: Hl7Segment, authority: string | undefined): AdtPatient {
  const d = m.delimiters
  const reps = (pid.fields[3] ?? '').split(d.repetition).filter((r) => r.length > 0)
  const one = (raw: string) => ({ fields: ['PID', '', '', raw] as const, id: 'PID' })
  const cx = reps.map((raw) => {
    const seg = one(raw)
    return { id: safeText(seg, 3, 1, d), authority: safeText(seg, 3, 4, d), type: safeText(seg, 3, 5, d) }
  })
  const chosen = authority !== undefined ? cx.find((c) => c.authority === authority) : cx.find((c) => c.type === 'MR') ?? cx[0]
  if (!chosen || !chosen.id) {
    const why = reps.length === 0 ? 'PID-3 (patient identifier list) is empty' : authority !== undefined ? `PID-3 has no identifier from assigning authority "${authority}"` : 'PID-3 has no identifier (CX-1 empty)'
    throw new AdtFieldError('AE', 'missing-mrn', HL7_ERR.requiredFieldMissing, at(m, pid, 3, 1), why)
  }
  if (chosen.id.length > MAX_MRN) throw new AdtFieldError('AE', 'bad-mrn', HL7_ERR.dataType, at(m, pid, 3, 1), `PID-3.1 is longer than ${MAX_MRN} characters`)
  return { mrn: chosen.id, authority: chosen.authority, name: readName(m, pid), birthDate: readBirthDate(m, pid) }
}

/** PID-5 (XPN): family ^ given ^ further given names ^ suffix ^ prefix; first repetition. */
function readName(m: Hl7Message, pid: Hl7Segment): string | null {
  const d = m.delimiters
  const family = safeText(pid, 5, 1, d).split(d.subcomponent)[0]!.trim() // FN-1 surname
  const given = [safeText(pid, 5, 2, d), safeText(pid, 5, 3, d)].map((s) => s.trim()).filter(Boolean).join(' ')
  const name = family && given ? `${family}, ${given}` : family || given
  if (!name) return null
  return name.length > MAX_NAME ? name.slice(0, MAX_NAME) : name
}

/** PID-7 (DTM, at least YYYYMMDD for a birth date) → YYYY-MM-DD. */
function readBirthDate(m: Hl7Message, pid: Hl7Segment): string | null {
  const raw = safeText(pid, 7, 1, m.delimiters)
  if (!raw) return null
  const hit = /^(\d{4})(\d{2})(\d{2})(?:\d{0,6}(?:\.\d{1,4})?)?(?:[+-]\d{4})?$/.exec(raw)
  const iso = hit ? `${hit[1]}-${hit[2]}-${hit[3]}` : ''
  const date = new Date(`${iso}T00:00:00Z`)
  if (!hit || Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== iso) {
    throw new AdtFieldError('AE', 'bad-birth-date', HL7_ERR.dataType, at(m, pid, 7), `PID-7 "${raw.slice(0, 30)}" is not a birth date (YYYYMMDD)`)
  }
  return iso
}

/** PV1-3 (PL): point of care ^ room ^ bed. */
function readLocation(m: Hl7Message, pv1: Hl7Segment): PatientLocation | null {
  const d = m.delimiters
  const loc = { pointOfCare: safeText(pv1, 3, 1, d), room: safeText(pv1, 3, 2, d), bed: safeText(pv1, 3, 3, d) }
  return loc.pointOfCare || loc.room || loc.bed ? loc : null
}

function segment(m: Hl7Message, id: string): Hl7Segment | undefined {
  return m.segments.find((s) => s.id === id)
}

/** ERR-2 of SEG-field(.component) for the first segment `seg` of its kind. */
export function at(m: Hl7Message, seg: Hl7Segment, field: number, comp?: number): ErrorLocation {
  const sequence = m.segments.filter((s) => s.id === seg.id).indexOf(seg) + 1
  return { segment: seg.id, sequence, field, ...(comp !== undefined ? { component: comp } : {}) }
}

/** Un-escaped component text; a bad escape sequence in that field is the sender's AE. */
function safeText(seg: Pick<Hl7Segment, 'fields' | 'id'>, n: number, c: number, d: Hl7Delimiters): string {
  try {
    return text(seg as Hl7Segment, n, c, d)
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err
    throw new AdtFieldError('AE', 'bad-escape', HL7_ERR.dataType, { segment: seg.id, sequence: 1, field: n, component: c }, `${seg.id}-${n}: ${err.message}`)
  }
}

/** ERR-2 in wire form: `PV1^1^3` or `PID^1^3^1^1` (ERL: segment ^ sequence ^ field ^ repetition ^ component). */
export function formatErrorLocation(l: ErrorLocation): string {
  return l.component !== undefined ? `${l.segment}^${l.sequence}^${l.field}^1^${l.component}` : `${l.segment}^${l.sequence}^${l.field}`
}
