/**
 * HL7 v2 segment and field parsing with escape sequences (protocols.md §7.2, [S-HL7ENC],
 * [S-HL7ESC]). Pure. Fields stay in their escaped wire form until a leaf value is read:
 * "split on the delimiters first, then un-escape each leaf value" (§7.2).
 */
import { DecodeError } from '../../errors.js'

export interface Hl7Delimiters {
  readonly field: string
  readonly component: string
  readonly repetition: string
  readonly escape: string
  readonly subcomponent: string
}

export const STANDARD_DELIMITERS: Hl7Delimiters = { field: '|', component: '^', repetition: '~', escape: '\\', subcomponent: '&' }

export interface Hl7Segment {
  readonly id: string
  /**
   * `fields[n]` is SEG-n in wire form. For MSH, fields[1] is the field separator and fields[2]
   * the encoding characters, so MSH-n is `fields[n]` too.
   */
  readonly fields: readonly string[]
}

export interface Hl7Message {
  readonly delimiters: Hl7Delimiters
  readonly segments: readonly Hl7Segment[]
  readonly msh: Hl7Segment
}

const SEGMENT_ID = /^[A-Z][A-Z0-9]{2}$/

/** Splits a message into segments and fields. Throws DecodeError `missing-msh`, `bad-msh`, `bad-segment`. */
export function parseMessage(text: string): Hl7Message {
  if (!text.startsWith('MSH')) throw new DecodeError('hl7', 'missing-msh', 'message does not start with an MSH segment')
  const delimiters = readDelimiters(text)
  const segments: Hl7Segment[] = []
  for (const line of text.split(/\r\n|\r|\n/)) {
    if (line.length === 0) continue
    const parts = line.split(delimiters.field)
    const id = parts[0]!
    if (!SEGMENT_ID.test(id)) throw new DecodeError('hl7', 'bad-segment', `segment ${segments.length + 1} has no valid segment id`)
    if (id === 'MSH') parts.splice(1, 0, delimiters.field) // MSH-1 is the separator itself
    segments.push({ id, fields: parts })
  }
  return { delimiters, segments, msh: segments[0]! }
}

/** MSH-1 and MSH-2 (§7.2): the field separator and `^~\&` (a fifth truncation char is allowed). */
function readDelimiters(text: string): Hl7Delimiters {
  const field = text[3]
  const end = field === undefined ? -1 : text.indexOf(field, 4)
  const enc = end < 0 ? '' : text.slice(4, end)
  if (field === undefined || /[A-Za-z0-9\r\n]/.test(field) || enc.length < 4 || enc.length > 5) {
    throw new DecodeError('hl7', 'bad-msh', 'MSH-1/MSH-2 do not define the field separator and four encoding characters')
  }
  const all = field + enc
  if (new Set(all).size !== all.length || /[A-Za-z0-9\r\n]/.test(enc)) {
    throw new DecodeError('hl7', 'bad-msh', 'MSH encoding characters are not distinct punctuation')
  }
  return { field, component: enc[0]!, repetition: enc[1]!, escape: enc[2]!, subcomponent: enc[3]! }
}

/** Wire form of SEG-n, component c (1-based), first repetition; '' when absent. Scans, no split. */
export function component(seg: Hl7Segment | undefined, n: number, c: number, d: Hl7Delimiters): string {
  const raw = seg?.fields[n]
  if (!raw) return ''
  if (n <= 2 && seg!.id === 'MSH') return c === 1 ? raw : '' // separator and encoding chars are literal
  let end = raw.indexOf(d.repetition)
  if (end < 0) end = raw.length
  let start = 0
  for (let k = 1; k < c; k++) {
    const at = raw.indexOf(d.component, start)
    if (at < 0 || at >= end) return ''
    start = at + 1
  }
  const stop = raw.indexOf(d.component, start)
  return raw.slice(start, stop < 0 || stop > end ? end : stop)
}

/** Un-escaped components of SEG-n (first repetition), split once. */
export function components(seg: Hl7Segment | undefined, n: number, d: Hl7Delimiters): string[] {
  const raw = seg?.fields[n]
  if (!raw) return []
  const end = raw.indexOf(d.repetition)
  const parts = (end < 0 ? raw : raw.slice(0, end)).split(d.component)
  for (let i = 0; i < parts.length; i++) parts[i] = unescape(parts[i]!, d)
  return parts
}

/** Un-escaped text of SEG-n component c. */
export function text(seg: Hl7Segment | undefined, n: number, c: number, d: Hl7Delimiters): string {
  return unescape(component(seg, n, c, d), d)
}

/** Decodes `\F\ \S\ \T\ \R\ \E\ \Xhh..\ \.br\` (§7.2). Formatting escapes (`\H\`, `\N\`, `\.sp\`...) drop out. */
export function unescape(value: string, d: Hl7Delimiters): string {
  const esc = d.escape
  if (value.indexOf(esc) < 0) return value
  let out = ''
  let i = 0
  while (i < value.length) {
    const at = value.indexOf(esc, i)
    if (at < 0) return out + value.slice(i)
    const close = value.indexOf(esc, at + 1)
    if (close < 0) throw new DecodeError('hl7', 'bad-escape', `unterminated escape sequence at character ${at}`)
    out += value.slice(i, at) + escapeMeaning(value.slice(at + 1, close), d)
    i = close + 1
  }
  return out
}

function escapeMeaning(name: string, d: Hl7Delimiters): string {
  switch (name) {
    case 'F': return d.field
    case 'S': return d.component
    case 'T': return d.subcomponent
    case 'R': return d.repetition
    case 'E': return d.escape
    case '.br': return '\n'
    default:
      if (name[0] === 'X') return hexText(name.slice(1))
      if (name.length === 0) throw new DecodeError('hl7', 'bad-escape', 'empty escape sequence')
      return '' // highlighting and other formatting commands carry no data
  }
}

function hexText(hex: string): string {
  if (hex.length === 0 || hex.length % 2 !== 0 || !/^[0-9A-Fa-f]+$/.test(hex)) {
    throw new DecodeError('hl7', 'bad-escape', `\\X${hex}\\ is not an even run of hex digits`)
  }
  return Buffer.from(hex, 'hex').toString('latin1')
}

/** Encodes one leaf value: escape first, then join with delimiters (§7.2). */
export function escape(value: string, d: Hl7Delimiters = STANDARD_DELIMITERS): string {
  let out = ''
  for (const ch of value) {
    if (ch === d.escape) out += `${d.escape}E${d.escape}`
    else if (ch === d.field) out += `${d.escape}F${d.escape}`
    else if (ch === d.component) out += `${d.escape}S${d.escape}`
    else if (ch === d.subcomponent) out += `${d.escape}T${d.escape}`
    else if (ch === d.repetition) out += `${d.escape}R${d.escape}`
    else if (ch === '\r' || ch === '\n') out += `${d.escape}.br${d.escape}`
    else out += ch
  }
  return out
}

/** A field in wire form re-encoded from one delimiter set to another (components kept). */
export function reencode(raw: string, from: Hl7Delimiters, to: Hl7Delimiters = STANDARD_DELIMITERS): string {
  const same = from.field === to.field && from.component === to.component && from.repetition === to.repetition &&
    from.escape === to.escape && from.subcomponent === to.subcomponent
  if (same) return raw
  return raw.split(from.component).map((c) => escape(unescape(c, from), to)).join(to.component)
}
