/**
 * Polar PMD measurement settings: repeated `[setting type u8][count u8][value × count]`, values LE
 * (protocols.md §5.2, [S-POLAR-SETTING]).
 */
import { DecodeError } from '../../errors.js'

/** Setting type id → value size in bytes (§5.2 table). FACTOR is a float32's bits. */
const SETTING_BYTES: readonly number[] = [2, 2, 2, 4, 1, 4]
const SETTING_NAMES = ['sampleRate', 'resolution', 'range', 'rangeMilliunit', 'channels', 'factor'] as const
export type SettingName = (typeof SETTING_NAMES)[number]

/** Each setting with the values the sensor offers (or the one value a start request carries). */
export type PmdSettings = Partial<Record<SettingName, number[]>>

export function parsePmdSettings(protocol: string, buf: Buffer, offset = 0): PmdSettings {
  const out: PmdSettings = {}
  let at = offset
  while (at < buf.length) {
    const type = buf[at]
    const size = SETTING_BYTES[type]
    if (size === undefined) throw new DecodeError(protocol, 'bad-setting', `unknown PMD setting type ${type} at byte ${at}`)
    if (at + 2 > buf.length) throw new DecodeError(protocol, 'truncated', `PMD setting ${type} has no count byte`)
    const count = buf[at + 1]
    const end = at + 2 + count * size
    if (end > buf.length) throw new DecodeError(protocol, 'truncated', `PMD setting ${type} needs ${end} bytes, have ${buf.length}`)
    const values = new Array<number>(count)
    for (let i = 0; i < count; i++) values[i] = readValue(buf, at + 2 + i * size, type)
    out[SETTING_NAMES[type]] = values
    at = end
  }
  return out
}

function readValue(buf: Buffer, at: number, type: number): number {
  if (type === 5) return buf.readFloatLE(at)
  const size = SETTING_BYTES[type]
  return size === 1 ? buf[at] : size === 2 ? buf.readUInt16LE(at) : buf.readUInt32LE(at)
}

/** Serialises a start request's settings: one value per setting, in setting-id order; FACTOR is never sent (§5.2). */
export function encodePmdSettings(settings: PmdSettings): Buffer {
  const parts: number[] = []
  for (let type = 0; type < 5; type++) {
    const values = settings[SETTING_NAMES[type]]
    if (!values || values.length === 0) continue
    const size = SETTING_BYTES[type]
    parts.push(type, values.length)
    for (const v of values) for (let b = 0; b < size; b++) parts.push((v >>> (8 * b)) & 0xff)
  }
  return Buffer.from(parts)
}
