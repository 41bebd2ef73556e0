/**
 * One Datex record (header + subrecords) → values; one complete frame → JSON for the CLI.
 * Pure (protocols.md §6.3–§6.6).
 */
import { DecodeError } from '../../errors.js'
import { qualityToNames } from '../../records.js'
import { serialRefOf } from '../local-codes.js'
import { BASIC_CLASS_BYTES, decodeBasic, type DatexValue } from './basic.js'
import { DatexDeframer, FLAG, HEADER_BYTES } from './frame.js'
import { decodeHeader, MainType, type DatexHeader } from './header.js'

/** sr_type of a displayed-values PHDB subrecord (DRI_PH_DISPL, §6.4/§6.5). */
export const SR_DISPLAYED = 1
/** dri_phdb: 4-byte time + 270-byte class + marker, reserved, cl_drilvl_subt (§6.5). */
export const PHDB_SUBRECORD_BYTES = 278

export interface DatexRecord {
  readonly header: DatexHeader
  /** r_time (Unix s), else the subrecord's time; 0 when neither is set. */
  readonly timeS: number
  /** Empty for WAVE/ALARM records and for PHDB subrecords we do not decode. */
  readonly values: DatexValue[]
}

/**
 * Decodes one un-escaped, checksum-checked record.
 *
 * Which subrecord is the Basic class: the class lives in `cl_drilvl_subt`, whose bit layout is
 * UNCONFIRMED (§6.5). The driver requests the Basic class only (class bitfield 0, §6.4), so the
 * first PHDB subrecord is Basic; VSCapture relies on the same ordering. We prefer the first
 * subrecord typed 1 (displayed) and otherwise take the first one, because whether the monitor
 * sets sr_type to the subtype is UNCONFIRMED too and VSCapture ignores it. Further subrecords
 * (a monitor that ignored our class bits) are skipped rather than guessed at.
 */
export function decodeRecord(record: Buffer): DatexRecord {
  const header = decodeHeader(record)
  const values: DatexValue[] = []
  // Time: the header's r_time (§6.3); the subrecord's own time only when r_time is unset.
  if (header.mainType !== MainType.PHDB) return { header, timeS: header.timeS, values }
  const sr = header.subrecords.find((d) => d.type === SR_DISPLAYED) ?? header.subrecords[0]
  if (!sr) return { header, timeS: header.timeS, values }
  const start = HEADER_BYTES + sr.offset
  if (sr.offset < 0 || start + 4 + BASIC_CLASS_BYTES > record.length) {
    throw new DecodeError('datex', 'bad-subrecord', `subrecord at data offset ${sr.offset} overruns the ${record.length}-byte record`)
  }
  decodeBasic(record, start + 4, values)
  return { header, timeS: header.timeS || record.readUInt32LE(start), values }
}

/** JSON form of one decoded record: MDC reference ids, UCUM units, quality names (CLI contract). */
export function recordToJson(rec: DatexRecord): object {
  const h = rec.header
  return {
    protocol: 'datex',
    observations: rec.values.map((v) => ({
      code: serialRefOf(v.code),
      value: Number.isNaN(v.value) ? null : v.value,
      unit: v.unit,
      quality: qualityToNames(v.quality),
      ...(v.label === undefined ? {} : { label: v.label }),
    })),
    deviceTimeMs: rec.timeS * 1000,
    header: {
      lengthBytes: h.lengthBytes,
      recordNumber: h.recordNumber,
      driLevel: h.driLevel,
      plugId: h.plugId,
      mainType: h.mainType,
      subrecords: h.subrecords,
    },
  }
}

/**
 * `bedside-hub decode datex HEX`: exactly one complete frame, flags included.
 * Throws DecodeError (`no-flag`, `truncated`, `bad-escape`, `bad-checksum`, `length-mismatch`,
 * `trailing-bytes`, ...) so the CLI exits 2 naming the reason.
 */
export function decodeDatexFrame(frame: Buffer): object {
  if (frame[0] !== FLAG) throw new DecodeError('datex', 'no-flag', 'frame does not start with the 0x7E flag')
  if (frame.length < 2 || frame[frame.length - 1] !== FLAG) {
    throw new DecodeError('datex', 'truncated', 'frame does not end with the 0x7E flag')
  }
  const found: DatexRecord[] = []
  let error: DecodeError | undefined
  const deframer = new DatexDeframer({
    frame: (record) => {
      if (found.length > 0) error ??= new DecodeError('datex', 'trailing-bytes', 'more than one frame in the input')
      else found.push(decodeRecord(record))
    },
    reject: (err) => {
      error ??= err
    },
  })
  deframer.push(frame)
  if (error) throw error
  const rec = found[0]
  if (!rec) throw new DecodeError('datex', 'truncated', 'empty frame')
  return recordToJson(rec)
}
