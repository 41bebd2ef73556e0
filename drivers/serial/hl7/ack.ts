/**
 * HL7 ACK for an ORU^R01: MSA-1 AA/AE/AR, MSA-2 = the acknowledged MSH-10, and an ERR segment
 * with the reason on AE/AR (protocols.md §7.4, [S-0008]). Pure.
 *
 * PCD-01 senders set MSH-15 AL / MSH-16 NE (enhanced mode, §7.5), which strictly asks for a
 * commit ACK (CA). We answer with the original-mode AA/AE/AR that issue 4 asks for and that
 * gateways in the field accept; CA/CE/CR would be a small change here if a sender insists.
 */

import { mllpFrame } from './mllp.js'
import { escape, reencode, STANDARD_DELIMITERS, type Hl7Message } from './message.js'
import { formatDtmUtc } from './time.js'

export type AckCode = 'AA' | 'AE' | 'AR'

/** Reject reasons that mean "will not process this kind of message" (AR); all others are AE. */
const AR_REASONS = new Set(['unknown-source', 'missing-msh', 'bad-msh', 'unsupported-message-type', 'unsupported-version', 'unsupported-processing-id', 'missing-control-id'])

/** HL7 table 0357 error codes for ERR-3. */
const ERR_0357: Record<string, string> = {
  'unsupported-message-type': '200^Unsupported message type',
  'unsupported-version': '203^Unsupported version id',
  'unsupported-processing-id': '202^Unsupported processing id',
  'missing-control-id': '101^Required field missing',
  'unknown-source': '204^Unknown key identifier',
  'missing-msh': '100^Segment sequence error',
  'bad-msh': '102^Data type error',
  'bad-segment': '100^Segment sequence error',
  'bad-value': '102^Data type error',
  'bad-time': '102^Data type error',
  'bad-escape': '102^Data type error',
}

export function ackCodeFor(err: { readonly reason: string }): 'AE' | 'AR' {
  return AR_REASONS.has(err.reason) ? 'AR' : 'AE'
}

export interface AckInput {
  /** The message being acknowledged; undefined when even its MSH could not be read. */
  readonly message?: Hl7Message
  /** Its MSH-10 ('' when unknown). */
  readonly controlId: string
  readonly code: AckCode
  /** What went wrong: `reason` picks ERR-3 (unless `hl7Error`), `message` is ERR-8. */
  readonly error?: { readonly reason: string; readonly message: string }
  /** MSH-10 of the ACK itself. */
  readonly ackControlId: string
  readonly nowMs: number
  /** MSH-9 of the ACK; default `ACK^R01^ACK` (ADT answers `ACK^<its trigger>^ACK`). */
  readonly messageType?: string
  /** ERR-2 (ERL, wire form: segment ^ sequence ^ field ^ repetition ^ component), e.g. `PV1^1^3`. */
  readonly errorLocation?: string
  /** ERR-3 identifier^text from table 0357, instead of the one derived from the error's reason. */
  readonly hl7Error?: string
}

/** The ACK message text (segments end with CR, §7.1). */
export function buildAck(a: AckInput): string {
  const m = a.message
  const f = (n: number) => (m ? safeReencode(m, n) : '')
  const version = m ? safeReencode(m, 12).split('^')[0] || '2.6' : '2.6'
  const msh = ['MSH', '^~\\&', f(5), f(6), f(3), f(4), formatDtmUtc(a.nowMs), '', a.messageType ?? 'ACK^R01^ACK', escape(a.ackControlId), 'P', version].join('|')
  let out = `${msh}\rMSA|${a.code}|${escape(a.controlId)}\r`
  if (a.code !== 'AA') {
    const reason = a.error?.reason ?? 'application-error'
    const err0357 = a.hl7Error ?? ERR_0357[reason] ?? '207^Application internal error'
    const text = escape(a.error?.message ?? reason, STANDARD_DELIMITERS)
    // v2.6 §2.14.5: ERR-2 error location (ERL), ERR-3 HL7 error code (CWE, table 0357), ERR-4 severity, ERR-8 user message.
    out += `ERR||${a.errorLocation ?? ''}|${err0357}^HL70357|E||||${text}\r`
  }
  return out
}

/** The ACK framed for MLLP. */
export function buildAckFrame(a: AckInput): Buffer {
  return mllpFrame(buildAck(a))
}

/** A header field of the acknowledged message, in our delimiters; '' if it does not re-encode. */
function safeReencode(m: Hl7Message, n: number): string {
  try {
    return reencode(m.msh.fields[n] ?? '', m.delimiters)
  } catch {
    // A bad escape inside a header field we only echo: leave the field empty rather than fail the ACK.
    return ''
  }
}
