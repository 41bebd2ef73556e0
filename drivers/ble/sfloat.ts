/**
 * IEEE 11073-20601 SFLOAT (16-bit) and FLOAT (32-bit), as carried by the GATT PLX and HTS
 * characteristics (protocols.md §2.5, [S-PHD], [S-WS-FLOAT]).
 *
 * Special values are recognised on the WHOLE raw value (exponent 0 only), as Wireshark does
 * (protocols.md §2.5 "Decoder rules"): 0x07FF with a non-zero exponent is an ordinary number
 * (2047 × 10^e), never NaN. Every special value maps to "no value plus a reason" [S-PHD].
 */

/** Why a device sent no number (PHD→FHIR `dataAbsentReason`). */
export type AbsentReason = 'nan' | 'nres' | 'pos-infinity' | 'neg-infinity' | 'reserved'

/** A decoded SFLOAT/FLOAT: `value` is NaN exactly when `absent` is set. */
export interface Numeric {
  readonly value: number
  readonly absent: AbsentReason | null
}

// Powers of ten for exact decimal scaling: dividing by 10^k (rather than multiplying by 10^-k)
// gives the correctly rounded double, so 0xF16E reads as 36.6 and not 36.599999999999994.
const POW10: readonly number[] = Array.from({ length: 129 }, (_, k) => 10 ** k)

function scale(mantissa: number, exponent: number): number {
  return exponent < 0 ? mantissa / POW10[-exponent] : mantissa * POW10[exponent]
}

const NAN_NUMERIC: Record<AbsentReason, Numeric> = {
  nan: { value: Number.NaN, absent: 'nan' },
  nres: { value: Number.NaN, absent: 'nres' },
  'pos-infinity': { value: Number.NaN, absent: 'pos-infinity' },
  'neg-infinity': { value: Number.NaN, absent: 'neg-infinity' },
  reserved: { value: Number.NaN, absent: 'reserved' },
}

/** Reason for a special SFLOAT raw value, or null for an ordinary number (§2.5 table). */
export function sfloatSpecial(raw: number): AbsentReason | null {
  switch (raw) {
    case 0x07ff: return 'nan'
    case 0x0800: return 'nres'
    case 0x07fe: return 'pos-infinity'
    case 0x0802: return 'neg-infinity'
    case 0x0801: return 'reserved'
    default: return null
  }
}

/** Reason for a special FLOAT raw value (uint32), or null for an ordinary number (§2.5 table). */
export function floatSpecial(raw: number): AbsentReason | null {
  switch (raw) {
    case 0x007fffff: return 'nan'
    case 0x00800000: return 'nres'
    case 0x007ffffe: return 'pos-infinity'
    case 0x00800002: return 'neg-infinity'
    case 0x00800001: return 'reserved'
    default: return null
  }
}

/** SFLOAT raw (uint16) → number; NaN for special values. Exponent bits 15–12, mantissa 11–0, both signed. */
export function sfloatToNumber(raw: number): number {
  if (sfloatSpecial(raw) !== null) return Number.NaN
  const exponent = (raw << 16) >> 28 // sign-extend the top 4 bits
  const mantissa = (raw << 20) >> 20 // sign-extend the low 12 bits
  return scale(mantissa, exponent)
}

/** FLOAT raw (uint32) → number; NaN for special values. Exponent = top byte, mantissa = low 24 bits, both signed. */
export function floatToNumber(raw: number): number {
  if (floatSpecial(raw) !== null) return Number.NaN
  const exponent = raw >> 24 // `>>` on the int32 view sign-extends the top byte
  const mantissa = (raw << 8) >> 8
  return scale(mantissa, exponent)
}

/** Reads an SFLOAT at `offset` (caller has checked the length). */
export function readSfloat(buf: Buffer, offset: number): Numeric {
  const raw = buf.readUInt16LE(offset)
  const special = sfloatSpecial(raw)
  return special === null ? { value: sfloatToNumber(raw), absent: null } : NAN_NUMERIC[special]
}

/** Reads a FLOAT at `offset` (caller has checked the length). */
export function readFloat(buf: Buffer, offset: number): Numeric {
  const raw = buf.readUInt32LE(offset)
  const special = floatSpecial(raw)
  return special === null ? { value: floatToNumber(raw | 0), absent: null } : NAN_NUMERIC[special]
}
