/**
 * The packed observations of a run row (`records.items`, schema v9): one device message's
 * observations stored as ONE row covering hub_seq .. hub_seq + n - 1 (issue 23: a row per
 * observation cost INSERT 15 %, COMMIT 8 % and Outbox.read 9 % of the 100-obs profile).
 *
 * Fixed binary layout, little endian, so a reader walks it without a decoder object per item:
 *   byte 0: layout version (1)
 *   then per item: code u32, present u8 (bit 0 value, 1 device time, 2 device seq, 3 quality,
 *   4 unit), value f64, device time ms f64, device seq f64, quality u32, unit length u8, unit UTF-8.
 * 34 bytes per item plus its unit. Absent fields are written as 0 and read back as null. Not
 * protobuf: the drain reads the items on its hot path, and reads at fixed offsets need no
 * varint decoding and no protobufjs Reader or message object per item.
 */
export const RUN_ITEMS_VERSION = 1

/** One observation of a run, as the `records` columns it replaces hold it. */
export interface RunItem {
  code: number
  value: number | null
  unit: string | null
  deviceTimeMs: number | null
  deviceSeq: number | null
  quality: number | null
}

const FIXED = 4 + 1 + 8 + 8 + 8 + 4 + 1

/**
 * Byte offsets within a packed item, for readers that write straight from the blob (the sync's
 * run Envelopes, agent/sync/run-field.ts) instead of building a RunItem each.
 */
export const RunItemLayout = {
  CODE: 0,
  PRESENT: 4,
  VALUE: 5,
  DEVICE_TIME_MS: 13,
  DEVICE_SEQ: 21,
  QUALITY: 29,
  UNIT_LENGTH: 33,
  /** Bytes before the unit; the item ends at FIXED + its unit length. */
  FIXED,
} as const

/** `present` bits of a packed item. */
export const RunItemPresent = { VALUE: 1, DEVICE_TIME_MS: 2, DEVICE_SEQ: 4, QUALITY: 8, UNIT: 16 } as const

/** Byte offset after `count` items from byte `at` of a blob countRunItems has checked. */
export function skipRunItems(blob: Buffer, at: number, count: number): number {
  for (let i = 0; i < count; i++) at += FIXED + blob[at + 33]!
  return at
}

export class RunItemsError extends Error {
  constructor(message: string) {
    super(`BEDSIDE_ERR_RUN_ITEMS: ${message}`)
    this.name = 'RunItemsError'
  }
}

/** Packs `items` (at least one). Throws RunItemsError naming the item and field it cannot hold. */
export function packRunItems(items: readonly RunItem[]): Buffer {
  if (items.length === 0) throw new RunItemsError('a run needs at least one observation')
  const units: (Buffer | null)[] = new Array<Buffer | null>(items.length)
  let size = 1
  for (let i = 0; i < items.length; i++) {
    const it = items[i]!
    if (!Number.isInteger(it.code) || it.code < 0 || it.code > 0xffffffff) throw new RunItemsError(`item ${i}: code ${it.code} is not an unsigned 32-bit integer`)
    if (it.quality !== null && (!Number.isInteger(it.quality) || it.quality < 0 || it.quality > 0xffffffff)) throw new RunItemsError(`item ${i}: quality ${it.quality} is not an unsigned 32-bit bitmask`)
    const u = it.unit === null ? null : Buffer.from(it.unit, 'utf8')
    if (u !== null && u.length > 255) throw new RunItemsError(`item ${i}: unit is ${u.length} bytes of UTF-8, at most 255 fit`)
    units[i] = u
    size += FIXED + (u?.length ?? 0)
  }
  const out = Buffer.allocUnsafe(size)
  out[0] = RUN_ITEMS_VERSION
  let at = 1
  for (let i = 0; i < items.length; i++) {
    const it = items[i]!
    const u = units[i]!
    const present = (it.value !== null ? 1 : 0) | (it.deviceTimeMs !== null ? 2 : 0) | (it.deviceSeq !== null ? 4 : 0) | (it.quality !== null ? 8 : 0) | (u !== null ? 16 : 0)
    out.writeUInt32LE(it.code, at)
    out[at + 4] = present
    out.writeDoubleLE(it.value ?? 0, at + 5)
    out.writeDoubleLE(it.deviceTimeMs ?? 0, at + 13)
    out.writeDoubleLE(it.deviceSeq ?? 0, at + 21)
    out.writeUInt32LE(it.quality ?? 0, at + 29)
    out[at + 33] = u?.length ?? 0
    at += FIXED
    if (u !== null) at += u.copy(out, at)
  }
  return out
}

/**
 * The group commit's pending columns (commit.ts): NaN marks NULL in the numeric ones, as there.
 * A NaN value is stored as NULL either way, in a row's `value` column or a packed item.
 */
export interface RunColumns {
  readonly code: Float64Array
  readonly value: Float64Array
  readonly unit: readonly (string | null)[]
  readonly deviceTimeMs: Float64Array
  readonly deviceSeq: Float64Array
  readonly quality: Float64Array
}

/**
 * Packs records `from` .. `to - 1` of `cols` straight from the columns (no RunItem per record).
 * The caller has checked what `packRunItems` checks: codes and qualities unsigned 32-bit, units
 * of at most 255 bytes.
 */
export function packRunColumns(cols: RunColumns, from: number, to: number): Buffer {
  let size = 1
  for (let i = from; i < to; i++) {
    const u = cols.unit[i]!
    size += FIXED + (u === null ? 0 : u.length === 0 ? 0 : Buffer.byteLength(u, 'utf8'))
  }
  const out = Buffer.allocUnsafe(size)
  out[0] = RUN_ITEMS_VERSION
  let at = 1
  for (let i = from; i < to; i++) {
    const value = cols.value[i]!
    const t = cols.deviceTimeMs[i]!
    const seq = cols.deviceSeq[i]!
    const q = cols.quality[i]!
    const u = cols.unit[i]!
    out.writeUInt32LE(cols.code[i]!, at)
    out[at + 4] = (value === value ? 1 : 0) | (t === t ? 2 : 0) | (seq === seq ? 4 : 0) | (q === q ? 8 : 0) | (u !== null ? 16 : 0)
    out.writeDoubleLE(value === value ? value : 0, at + 5)
    out.writeDoubleLE(t === t ? t : 0, at + 13)
    out.writeDoubleLE(seq === seq ? seq : 0, at + 21)
    out.writeUInt32LE(q === q ? q : 0, at + 29)
    const len = u === null || u.length === 0 ? 0 : out.write(u, at + FIXED, 'utf8')
    out[at + 33] = len
    at += FIXED + len
  }
  return out
}

/**
 * Calls `each(item, i)` for every packed item, in order, and returns how many there were.
 * Throws RunItemsError for a blob of another layout version or one that ends inside an item.
 */
export function forEachRunItem(blob: Buffer, each: (item: RunItem, i: number) => void): number {
  if (blob.length < 1 || blob[0] !== RUN_ITEMS_VERSION) throw new RunItemsError(`packed run of layout version ${blob[0] ?? 'none'}, this agent reads ${RUN_ITEMS_VERSION}`)
  return forEachRunItemFrom(blob, 1, Number.POSITIVE_INFINITY, each)
}

/** `forEachRunItem` over at most `count` items from byte `at` (an item's start) of a version-checked blob. */
export function forEachRunItemFrom(blob: Buffer, at: number, count: number, each: (item: RunItem, i: number) => void): number {
  let i = 0
  while (at < blob.length && i < count) {
    if (at + FIXED > blob.length) throw new RunItemsError(`packed run ends inside item ${i} (${blob.length} bytes)`)
    const present = blob[at + 4]!
    const unitLen = blob[at + 33]!
    const unitAt = at + FIXED
    if (unitAt + unitLen > blob.length) throw new RunItemsError(`packed run ends inside item ${i}'s unit (${blob.length} bytes)`)
    each({
      code: blob.readUInt32LE(at),
      value: present & 1 ? blob.readDoubleLE(at + 5) : null,
      deviceTimeMs: present & 2 ? blob.readDoubleLE(at + 13) : null,
      deviceSeq: present & 4 ? blob.readDoubleLE(at + 21) : null,
      quality: present & 8 ? blob.readUInt32LE(at + 29) : null,
      unit: present & 16 ? blob.toString('utf8', unitAt, unitAt + unitLen) : null,
    }, i)
    at = unitAt + unitLen
    i++
  }
  return i
}

/**
 * How many items `blob` packs, walking only their lengths; throws RunItemsError as forEachRunItem
 * does. Readers check a run whole before they act on any of its items.
 */
export function countRunItems(blob: Buffer): number {
  if (blob.length < 1 || blob[0] !== RUN_ITEMS_VERSION) throw new RunItemsError(`packed run of layout version ${blob[0] ?? 'none'}, this agent reads ${RUN_ITEMS_VERSION}`)
  let at = 1
  let i = 0
  while (at < blob.length) {
    if (at + FIXED > blob.length) throw new RunItemsError(`packed run ends inside item ${i} (${blob.length} bytes)`)
    at += FIXED + blob[at + 33]!
    if (at > blob.length) throw new RunItemsError(`packed run ends inside item ${i}'s unit (${blob.length} bytes)`)
    i++
  }
  return i
}

/** All packed items (tests, cold readers). */
export function unpackRunItems(blob: Buffer): RunItem[] {
  const out: RunItem[] = []
  forEachRunItem(blob, (it) => out.push(it))
  return out
}
