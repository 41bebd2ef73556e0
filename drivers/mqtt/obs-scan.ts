/**
 * The common `/obs` payload decoded straight from its bytes, without JSON.parse (issue 23).
 *
 * JSON.parse builds an object per item, a string per code and unit and the payload's whole text
 * before decodeObsPayload reads them; for the 100-observation message that was half of the
 * agent's allocation under load, and the code strings were hashed again for the MDC lookup. This
 * scanner reads the one shape devices send and returns false on anything else, so that the
 * general path (payload.ts: JSON.parse, the structure bounds and the error messages) decides:
 *
 *   {"ts": n, "seq": n, "obs": [{"code": "MDC_…", "value": n | null, "unit": "…", "ts": n}, …]}
 *
 * - Top-level keys ts, seq (optional) and obs, ts and seq before obs; item keys code, value, unit
 *   (optional) and ts (optional), in any order; any other key, a key twice, an escape or a byte
 *   outside printable ASCII in a string, `quality`: false.
 * - Numbers: JSON's grammar without an exponent and with at most 15 significant digits, so that
 *   digits / 10^fraction (both exact doubles) is one correctly rounded division: the double
 *   JSON.parse gives. Anything longer: false.
 * - It accepts only what the general path accepts and gives the same observations in the same
 *   order (test/mqtt/obs-scan.test.ts compares both on generated and mutated payloads); when it
 *   returns false `out` is as it was.
 * - Its cost on a payload it declines is one pass up to the first byte it does not take; the
 *   worst is a fault at the end of a large payload, then parsed again by the general path
 *   (about 2 ms more for a 256 KiB packet, measured in review).
 */
import { MDC_TERMS, type MdcTerm } from '../codes.js'
import { Quality, type Observation } from '../records.js'
import type { PayloadContext } from './payload.js'

const MAX_ITEMS = 10_000
/** Under payload.ts's string bound; units are a few bytes. */
const MAX_UNIT_BYTES = 256
const MAX_TIME_MS = 8.64e15
/** 10^k for k ≤ 22: exact doubles. */
const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k)

const Q = 0x22 // "
const COMMA = 0x2c
const COLON = 0x3a

interface TermBytes { readonly ref: Buffer; readonly unit: Buffer; readonly term: MdcTerm }
/**
 * Numeric terms by the length and last and middle bytes of their reference id (a cheap key,
 * where a hash would read every byte once more; the bytes are compared after).
 */
const termsByShape = new Map<number, TermBytes[]>()
for (const term of MDC_TERMS) {
  if (term.kind !== 'numeric') continue
  const ref = Buffer.from(term.ref, 'latin1')
  const k = shapeOf(ref, 0, ref.length)
  const list = termsByShape.get(k) ?? []
  list.push({ ref, unit: Buffer.from(term.unit, 'latin1'), term })
  termsByShape.set(k, list)
}

function shapeOf(b: Uint8Array, from: number, to: number): number {
  const n = to - from
  return n === 0 ? 0 : (n << 14) | (b[to - 1]! << 7) | b[from + (n >> 1)]!
}

function sameBytes(b: Uint8Array, from: number, to: number, want: Buffer): boolean {
  if (to - from !== want.length) return false
  for (let i = 0; i < want.length; i++) if (b[from + i] !== want[i]) return false
  return true
}

/** One scanner for the process: decoding is synchronous; hot loops keep the cursor in a local. */
class ObsScanner {
  p: Buffer = EMPTY
  i = 0
  /** The last string's bytes: strStart…strEnd. */
  strStart = 0
  strEnd = 0
  /** The last number. */
  num = 0

  ws(): void {
    const p = this.p
    let i = this.i
    for (;;) {
      const c = p[i]
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++
      else break
    }
    this.i = i
  }

  /** A string of printable ASCII without escapes at the cursor. */
  str(): boolean {
    const p = this.p
    let i = this.i
    if (p[i] !== Q) return false
    const from = ++i
    for (;;) {
      const c = p[i]
      if (c === undefined || c < 0x20 || c > 0x7e || c === 0x5c) return false
      if (c === Q) break
      i++
    }
    this.strStart = from
    this.strEnd = i
    this.i = i + 1
    return true
  }

  /** A JSON number at the cursor without exponent and with at most 15 significant digits, into `num`. */
  number(): boolean {
    const p = this.p
    let i = this.i
    let neg = false
    if (p[i] === 0x2d) {
      neg = true
      i++
    }
    let c = p[i]
    if (c === undefined || c < 0x30 || c > 0x39) return false
    let digits = 0
    let mantissa = 0
    if (c === 0x30) {
      c = p[++i]
      if (c !== undefined && c >= 0x30 && c <= 0x39) return false // a leading zero
    } else {
      while (c !== undefined && c >= 0x30 && c <= 0x39) {
        mantissa = mantissa * 10 + (c - 0x30)
        if (++digits > 15) return false
        c = p[++i]
      }
    }
    let scale = 0
    if (c === 0x2e) {
      c = p[++i]
      if (c === undefined || c < 0x30 || c > 0x39) return false
      while (c !== undefined && c >= 0x30 && c <= 0x39) {
        mantissa = mantissa * 10 + (c - 0x30)
        // a fraction's leading zeros (0.05) are counted as digits too: simpler, and on the safe side
        if (++digits > 15) return false
        scale++
        c = p[++i]
      }
    }
    if (c === 0x65 || c === 0x45) return false // an exponent: the general path
    const v = scale === 0 ? mantissa : mantissa / POW10[scale]!
    this.num = neg ? -v : v
    this.i = i
    return true
  }

  literalNull(): boolean {
    const p = this.p
    const i = this.i
    if (p[i] === 0x6e && p[i + 1] === 0x75 && p[i + 2] === 0x6c && p[i + 3] === 0x6c) {
      this.i = i + 4
      return true
    }
    return false
  }

  /** `"key"`, its colon and the blanks after it: which key (KEY_*), 0 for any other, -1 for no key. */
  key(): number {
    if (!this.str()) return -1
    const p = this.p
    const a = this.strStart
    const n = this.strEnd - a
    const c = p[a]
    let k = 0
    if (n === 2) {
      if (c === 0x74 && p[a + 1] === 0x73) k = KEY_TS
    } else if (n === 3) {
      if (c === 0x73 && p[a + 1] === 0x65 && p[a + 2] === 0x71) k = KEY_SEQ
      else if (c === 0x6f && p[a + 1] === 0x62 && p[a + 2] === 0x73) k = KEY_OBS
    } else if (n === 4) {
      if (c === 0x63 && p[a + 1] === 0x6f && p[a + 2] === 0x64 && p[a + 3] === 0x65) k = KEY_CODE
      else if (c === 0x75 && p[a + 1] === 0x6e && p[a + 2] === 0x69 && p[a + 3] === 0x74) k = KEY_UNIT
    } else if (n === 5) {
      if (c === 0x76 && p[a + 1] === 0x61 && p[a + 2] === 0x6c && p[a + 3] === 0x75 && p[a + 4] === 0x65) k = KEY_VALUE
    }
    this.ws()
    if (p[this.i] !== COLON) return -1
    this.i++
    this.ws()
    return k
  }

  /** After a member: true at a comma (and the blanks after it), false at `close` (consumed); -1 on anything else. */
  next(close: number): number {
    this.ws()
    const c = this.p[this.i++]
    if (c === close) return 0
    if (c !== COMMA) return -1
    this.ws()
    return 1
  }

  document(ctx: PayloadContext, out: Observation[]): boolean {
    this.ws()
    if (this.p[this.i] !== 0x7b) return false
    this.i++
    this.ws()
    let ts = -1
    let seq = -1
    let sawObs = false
    for (;;) {
      const k = this.key()
      if (k === KEY_TS && ts < 0) {
        if (!this.number() || !(this.num >= 0 && this.num <= MAX_TIME_MS)) return false
        ts = this.num
      } else if (k === KEY_SEQ && seq < 0 && !sawObs) {
        if (!this.number() || !(this.num >= 0 && Number.isSafeInteger(this.num))) return false
        seq = this.num
      } else if (k === KEY_OBS && !sawObs && ts >= 0) {
        sawObs = true
        if (!this.items(ts, seq >= 0 ? seq : ctx.nextSeq, ctx, out)) return false
      } else return false
      const more = this.next(0x7d)
      if (more < 0) return false
      if (more === 0) break
    }
    this.ws()
    if (this.i !== this.p.length || !sawObs) return false
    ctx.identity = seq >= 0 ? `o${seq}/${ts}` : undefined
    return true
  }

  items(ts: number, seq: number, ctx: PayloadContext, out: Observation[]): boolean {
    if (this.p[this.i] !== 0x5b) return false
    this.i++
    this.ws()
    for (let n = 1; ; n++) {
      if (n > MAX_ITEMS || !this.item(ts, seq, ctx, out)) return false
      const more = this.next(0x5d)
      if (more < 0) return false
      if (more === 0) return true
    }
  }

  item(ts: number, seq: number, ctx: PayloadContext, out: Observation[]): boolean {
    const p = this.p
    if (p[this.i] !== 0x7b) return false
    this.i++
    this.ws()
    let term: TermBytes | undefined
    let value = 0
    let quality: number = Quality.VALID
    let hasValue = false
    let unitFrom = -1
    let unitTo = -1
    let itemTs = -1
    for (;;) {
      const k = this.key()
      if (k === KEY_CODE && term === undefined) {
        if (!this.str()) return false
        term = termOf(p, this.strStart, this.strEnd)
        if (term === undefined) return false
      } else if (k === KEY_VALUE && !hasValue) {
        hasValue = true
        if (this.literalNull()) {
          value = Number.NaN
          quality = Quality.UNAVAILABLE
        } else if (this.number()) value = this.num
        else return false
      } else if (k === KEY_UNIT && unitFrom < 0) {
        if (!this.str() || this.strEnd - this.strStart > MAX_UNIT_BYTES) return false
        unitFrom = this.strStart
        unitTo = this.strEnd
      } else if (k === KEY_TS && itemTs < 0) {
        if (!this.number() || !(this.num >= 0 && this.num <= MAX_TIME_MS)) return false
        itemTs = this.num
      } else return false
      const more = this.next(0x7d)
      if (more < 0) return false
      if (more === 0) break
    }
    if (term === undefined || !hasValue) return false
    out.push({
      kind: 'obs',
      deviceId: ctx.deviceId,
      code: term.term.code,
      value,
      unit: unitFrom < 0 || sameBytes(p, unitFrom, unitTo, term.unit) ? term.term.unit : p.toString('latin1', unitFrom, unitTo),
      deviceTimeMs: itemTs >= 0 ? itemTs : ts,
      hubTimeMs: ctx.hubTimeMs,
      deviceSeq: seq,
      quality,
    })
    return true
  }
}

const KEY_TS = 1
const KEY_SEQ = 2
const KEY_OBS = 3
const KEY_CODE = 4
const KEY_VALUE = 5
const KEY_UNIT = 6
const EMPTY = Buffer.alloc(0)
const scanner = new ObsScanner()

function termOf(p: Buffer, from: number, to: number): TermBytes | undefined {
  const list = termsByShape.get(shapeOf(p, from, to))
  if (list === undefined) return undefined
  for (const t of list) if (sameBytes(p, from, to, t.ref)) return t
  return undefined
}

/**
 * Decodes `payload` into `out` (as decodeObsPayload) when it has the common shape; false, with
 * `out` and `ctx` unchanged, when it does not (the general path then decodes or refuses it).
 */
export function scanObsPayload(payload: Buffer, ctx: PayloadContext, out: Observation[]): boolean {
  const start = out.length
  scanner.p = payload
  scanner.i = 0
  let ok = false
  try {
    ok = scanner.document(ctx, out)
  } finally {
    scanner.p = EMPTY // keeps no view of the socket's read chunk
    if (!ok) out.length = start
  }
  return ok
}
