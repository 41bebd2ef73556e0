/**
 * GATT Date Time (0x2A08), 7 bytes, as embedded in PLX Spot-Check and HTS measurements
 * (protocols.md §2.3, [S-GATT date_time]).
 *
 * The characteristic carries no time zone. We read it as UTC: bedside devices are set by the hub
 * or by biomed in UTC, and a device whose clock is off is caught by the pipeline's drift check.
 */
import { DecodeError } from '../errors.js'

export const DATE_TIME_BYTES = 7

/**
 * ms since the Unix epoch, or null when the device says "unknown" (year, month or day = 0).
 * Throws DecodeError(`bad-timestamp`) for out-of-range fields: a value outside the
 * characteristic's ranges is a device bug, and guessing a time for a clinical value is worse
 * than rejecting it.
 */
export function readDateTime(protocol: string, buf: Buffer, offset: number): number | null {
  const year = buf.readUInt16LE(offset)
  const month = buf[offset + 2]
  const day = buf[offset + 3]
  const hours = buf[offset + 4]
  const minutes = buf[offset + 5]
  const seconds = buf[offset + 6]
  if (hours > 23 || minutes > 59 || seconds > 59 || month > 12 || day > 31 || (year !== 0 && (year < 1582 || year > 9999))) {
    throw new DecodeError(protocol, 'bad-timestamp', `date time field out of range (${year}-${month}-${day} ${hours}:${minutes}:${seconds})`)
  }
  if (year === 0 || month === 0 || day === 0) return null
  if (day > daysInMonth(year, month)) {
    throw new DecodeError(protocol, 'bad-timestamp', `day ${day} does not exist in ${year}-${month}`)
  }
  return Date.UTC(year, month - 1, day, hours, minutes, seconds)
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate()
}
