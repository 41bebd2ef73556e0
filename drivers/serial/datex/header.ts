/**
 * Datex `datex_hdr`: the 40-byte record header, packed little-endian (protocols.md §6.3,
 * [S-VSC Class2.cs], [S-WEI]). Pure.
 */
import { DecodeError } from '../../errors.js'
import { HEADER_BYTES, MAX_RECORD_BYTES } from './frame.js'

/** r_maintype values (§6.3). */
export const MainType = { PHDB: 0, WAVE: 1, ALARM: 4 } as const
/** sr_type that ends the subrecord list (DRI_EOL_SUBR_LIST). */
export const SR_EOL = 0xff
/** Up to 8 `{int16 sr_offset; uint8 sr_type}` descriptors at offset 16 (§6.3). */
const MAX_SUBRECORDS = 8

export interface DatexSubrecordDesc {
  /** Offset relative to the start of the data area (record byte 40). */
  readonly offset: number
  readonly type: number
}

export interface DatexHeader {
  /** r_len: total record length including the header. */
  readonly lengthBytes: number
  readonly recordNumber: number
  /** r_dri_level: 9 = 2005, 10 = 2009, 11 = 2015 (§6.3). */
  readonly driLevel: number
  readonly plugId: number
  /** r_time, Unix seconds (UTC per VSCapture). */
  readonly timeS: number
  readonly mainType: number
  readonly subrecords: readonly DatexSubrecordDesc[]
}

/** Reads and checks the header of one un-escaped, checksum-stripped record. */
export function decodeHeader(record: Buffer): DatexHeader {
  if (record.length < HEADER_BYTES) {
    throw new DecodeError('datex', 'truncated', `record of ${record.length} bytes is shorter than its 40-byte header`)
  }
  const lengthBytes = record.readInt16LE(0)
  if (lengthBytes !== record.length) {
    const reason = lengthBytes > record.length ? 'truncated' : 'length-mismatch'
    throw new DecodeError('datex', reason, `r_len ${lengthBytes} but the frame holds ${record.length} record bytes`)
  }
  return {
    lengthBytes,
    recordNumber: record[2]!,
    driLevel: record[3]!,
    plugId: record.readUInt16LE(4),
    timeS: record.readUInt32LE(6),
    mainType: record.readInt16LE(14),
    subrecords: readSubrecordList(record),
  }
}

function readSubrecordList(record: Buffer): DatexSubrecordDesc[] {
  const list: DatexSubrecordDesc[] = []
  for (let i = 0; i < MAX_SUBRECORDS; i++) {
    const at = 16 + 3 * i
    const type = record[at + 2]!
    if (type === SR_EOL) return list
    list.push({ offset: record.readInt16LE(at), type })
  }
  // No EOL within the 8 slots: VSCapture stops at 8 as well; keep the 8 we read.
  return list
}

/** Builds a 40-byte header; used for requests and by the device emulator. */
export function encodeHeader(
  out: Buffer,
  h: { lengthBytes: number; recordNumber?: number; driLevel: number; plugId?: number; timeS: number; mainType: number },
  subrecords: readonly DatexSubrecordDesc[],
): void {
  if (h.lengthBytes > MAX_RECORD_BYTES) throw new RangeError(`record of ${h.lengthBytes} bytes exceeds ${MAX_RECORD_BYTES}`)
  if (subrecords.length >= MAX_SUBRECORDS) throw new RangeError('at most 7 subrecords plus the end-of-list marker')
  out.fill(0, 0, HEADER_BYTES)
  out.writeInt16LE(h.lengthBytes, 0)
  out[2] = h.recordNumber ?? 0
  out[3] = h.driLevel
  out.writeUInt16LE(h.plugId ?? 0, 4)
  out.writeUInt32LE(h.timeS >>> 0, 6)
  out.writeInt16LE(h.mainType, 14)
  subrecords.forEach((sr, i) => {
    out.writeInt16LE(sr.offset, 16 + 3 * i)
    out[18 + 3 * i] = sr.type
  })
  out[18 + 3 * subrecords.length] = SR_EOL
}
