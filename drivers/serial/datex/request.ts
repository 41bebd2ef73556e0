/**
 * Displayed-values request: start and stop periodic transmission (protocols.md §6.4,
 * [S-VSC RequestTransfer]). Pure.
 */
import { DecodeError } from '../../errors.js'
import { encodeFrame, HEADER_BYTES } from './frame.js'
import { decodeHeader, encodeHeader, MainType } from './header.js'

/** Request length: 40-byte header + 9-byte dri_phdb_req (§6.4). */
export const REQUEST_BYTES = 49
/** sr_type 0 = "physiological data transmission request" (§6.4). */
export const SR_PHDB_REQUEST = 0
/** phdb_rcrd_type 1 = DRI_PH_DISPL, displayed values (§6.4). */
export const DRI_PH_DISPL = 1
/** phdb_class_bf: bit0 set denies Basic; bits 1–3 ask for Ext1–3. 0 = Basic only (§6.4). */
export const CLASS_BASIC_ONLY = 0

/**
 * DRI levels to ask for, newest first. VSCapture sends one request per level and the monitor
 * answers the one matching its own level (rationale UNCONFIRMED, §6.4).
 */
export const DEFAULT_DRI_LEVELS: readonly number[] = [11, 10, 9, 8, 7]

/** One request record (not yet framed). `intervalS` 0 = stop transmission (§6.4). */
export function buildRequestRecord(driLevel: number, intervalS: number, classBits = CLASS_BASIC_ONLY): Buffer {
  if (!Number.isInteger(intervalS) || intervalS < -1 || intervalS > 0x7fff) {
    throw new RangeError(`tx interval ${intervalS} s is not an int16 of -1..32767`)
  }
  const rec = Buffer.alloc(REQUEST_BYTES)
  encodeHeader(rec, { lengthBytes: REQUEST_BYTES, driLevel, timeS: 0, mainType: MainType.PHDB }, [
    { offset: 0, type: SR_PHDB_REQUEST },
  ])
  rec[HEADER_BYTES] = DRI_PH_DISPL
  rec.writeInt16LE(intervalS, HEADER_BYTES + 1)
  rec.writeUInt32LE(classBits >>> 0, HEADER_BYTES + 3)
  // reserved int16 at +7 stays 0
  return rec
}

/** The framed request for every level in `levels` (start with intervalS > 0, stop with 0). */
export function buildRequestFrames(intervalS: number, levels: readonly number[] = DEFAULT_DRI_LEVELS): Buffer {
  return Buffer.concat(levels.map((level) => encodeFrame(buildRequestRecord(level, intervalS))))
}

export interface DatexRequest {
  readonly driLevel: number
  readonly recordType: number
  readonly intervalS: number
  readonly classBits: number
}

/** Reads a request record (the device emulator's side). Throws DecodeError if it is not one. */
export function decodeRequest(record: Buffer): DatexRequest {
  const h = decodeHeader(record)
  if (h.lengthBytes !== REQUEST_BYTES || h.subrecords[0]?.type !== SR_PHDB_REQUEST) {
    throw new DecodeError('datex', 'not-a-request', `record of ${h.lengthBytes} bytes is not a PHDB request`)
  }
  return {
    driLevel: h.driLevel,
    recordType: record[HEADER_BYTES]!,
    intervalS: record.readInt16LE(HEADER_BYTES + 1),
    classBits: record.readUInt32LE(HEADER_BYTES + 3),
  }
}
