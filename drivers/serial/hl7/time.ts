/**
 * HL7 v2 DTM: `YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]` (protocols.md §7.3 OBX-14,
 * OBR-7, MSH-7). Pure.
 */
import { DecodeError } from '../../errors.js'

const DTM = /^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.(\d{1,4}))?([+-]\d{4})?$/

/**
 * Milliseconds since the epoch. Without an offset the time is the sender's local time (HL7);
 * the sender's offset is not knowable from the message, so the caller supplies it
 * (`defaultOffsetMin`, 0 = UTC unless configured). Throws DecodeError `bad-time`.
 */
export function parseDtm(dtm: string, defaultOffsetMin = 0): number {
  // PCD-01 messages repeat one timestamp in every OBX: a one-entry memo skips the regex.
  if (dtm === last.text && defaultOffsetMin === last.offsetMin) return last.ms
  const ms = parseUncached(dtm, defaultOffsetMin)
  last.text = dtm
  last.offsetMin = defaultOffsetMin
  last.ms = ms
  return ms
}

const last = { text: '', offsetMin: 0, ms: 0 }

function parseUncached(dtm: string, defaultOffsetMin: number): number {
  const m = DTM.exec(dtm)
  if (!m) throw new DecodeError('hl7', 'bad-time', `"${dtm.slice(0, 40)}" is not an HL7 DTM`)
  const [, y, mo = '01', d = '01', h = '00', mi = '00', s = '00', frac = '', tz] = m
  const month = Number(mo)
  const day = Number(d)
  if (month < 1 || month > 12 || day < 1 || day > 31 || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) {
    throw new DecodeError('hl7', 'bad-time', `"${dtm}" has a field out of range`)
  }
  const ms = frac ? Math.round(Number(`0.${frac}`) * 1000) : 0
  const utc = Date.UTC(Number(y), month - 1, day, Number(h), Number(mi), Number(s), ms)
  const offsetMin = tz ? Math.sign(Number(tz)) * (Number(tz.slice(1, 3)) * 60 + Number(tz.slice(3, 5))) : defaultOffsetMin
  return utc - offsetMin * 60_000
}

/** `YYYYMMDDHHMMSS+0000` in UTC, for the ACK's MSH-7. */
export function formatDtmUtc(ms: number): string {
  const iso = new Date(ms).toISOString() // 2024-03-15T14:30:06.000Z
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}+0000`
}
