/**
 * The segments PCD-01 and PCD-04 share (HL7 v2.6; shared/protocols.md §7.3): MSH with the IHE
 * profile in MSH-21, PID from the admission, PV1 with the bed's location. Pure: the same inputs give
 * the same bytes, which is what lets a retry after a crash re-send exactly the message the receiver
 * may already hold (same MSH-10, so it can drop the duplicate).
 *
 * Identities go out here: the receiver is the hospital's own interface engine on the hospital
 * network, like the ADT feed that sent them (never a pseudonym, never to the cloud).
 */
import { escape } from '../../drivers/serial/hl7/message.js'
import { formatDtmUtc } from '../../drivers/serial/hl7/time.js'
import type { Admission } from '../store/admissions.js'

export interface MshInput {
  /** MSH-3 namespace id (the hub) and MSH-4 facility (the site). */
  readonly sendingApplication: string
  readonly sendingFacility: string
  readonly receivingApplication: string
  readonly receivingFacility: string
  /** MSH-9, e.g. `ORU^R01^ORU_R01`. */
  readonly messageType: string
  /** MSH-10: unique per message, identical on every retry of it. */
  readonly controlId: string
  /** MSH-7: a time fixed by the records (never the clock at sending), so a retry is byte-identical. */
  readonly timeMs: number
  /** MSH-21: the IHE PCD message profile (EI: entity ^ namespace ^ universal id ^ type). */
  readonly profile: string
}

/** PL for PV1-3: point of care ^ room ^ bed. */
export interface BedLocation {
  readonly pointOfCare: string
  readonly room: string
  readonly bed: string
}

export const dtm = formatDtmUtc

export function msh(m: MshInput): string {
  // MSH-15 AL / MSH-16 NE as the PCD samples (§7.5): the receiver answers with an accept ACK only.
  return ['MSH', '^~\\&', escape(m.sendingApplication), escape(m.sendingFacility), escape(m.receivingApplication), escape(m.receivingFacility),
    dtm(m.timeMs), '', m.messageType, escape(m.controlId), 'P', '2.6', '', '', 'AL', 'NE', '', 'UNICODE UTF-8', '', '', m.profile].join('|')
}

/** PID-3 MRN (CX: id ^^^ authority ^ MR), PID-5 name (XPN family ^ given), PID-7 birth date (YYYYMMDD). */
export function pid(a: Admission): string {
  const mrn = `${escape(a.mrn)}^^^${a.authority ? escape(a.authority) : ''}^MR`
  return ['PID', '1', '', mrn, '', xpn(a.name), '', a.birthDate ? a.birthDate.replaceAll('-', '') : ''].join('|')
}

/** PV1-2 patient class I (inpatient), PV1-3 the bed (PL). */
export function pv1(loc: BedLocation): string {
  return ['PV1', '1', 'I', [loc.pointOfCare, loc.room, loc.bed].map((c) => escape(c)).join('^').replace(/\^+$/, '')].join('|')
}

/** The stored name is "Family, Given names" (adt-message.ts readName) or a nurse's free text. */
function xpn(name: string | null): string {
  if (!name) return ''
  const comma = name.indexOf(', ')
  return comma < 0 ? escape(name) : `${escape(name.slice(0, comma))}^${escape(name.slice(comma + 2))}`
}

/** OBX-18 (EI): the device id within this hub's namespace (PCD prefers the EUI-64, which our records do not carry). */
export function equipment(deviceId: string | null, hubId: string): string {
  return deviceId ? `${escape(deviceId)}^${escape(hubId)}` : ''
}

/** One message: segments joined and terminated by CR (protocols.md §7.1). */
export function message(segments: readonly string[]): string {
  return segments.map((s) => s.replace(/\|+$/, '')).join('\r') + '\r' // trailing empty fields left out (HL7 v2 §2.5.3)
}
