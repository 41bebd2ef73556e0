/**
 * Field 14 of a schema_version 2 Envelope (`observations`) from a run's entries, in one pass, the
 * packed ones straight from their run row's blob (store/run-items.ts): no RunItem, no
 * ObservationMsg and no unit string per observation. Expanding each run row into a row per
 * record, an ObservationItem per observation and then encoding those was ≈ 13 % of the 100-obs
 * e2e profile (unpacking 3.1 %, observationItem 3.9 %, the run encoder 6 %; BENCHMARKS.md).
 *
 * The bytes are those proto/run-encoder.ts writes for the same observations expanded (and so the
 * generated encoder's): the same fields in the same order, an absent value as NaN, an absent unit,
 * device time, device seq or quality as '' / 0, the run row's hub time and device pseudonym in
 * every item. test/sync/run-field.test.ts compares the two. Pure.
 */
import { ENVELOPE_RUN_FIELD, isVarint64, observationBytes, utf8, varintBytes, writeObservation, writeVarint } from '../../proto/run-encoder.js'
import { RunItemLayout as L, RunItemPresent as P } from '../store/run-items.js'
import type { ObservationItem, PackedObservations, RunEntry } from './envelope.js'

export const isPacked = (e: RunEntry): e is PackedObservations => (e as PackedObservations).blob !== undefined

/** Observations an entry holds. */
export const entryCount = (e: RunEntry): number => (isPacked(e) ? e.count : 1)

/**
 * Between the two passes: each item's encoded size, and each packed item's device time and seq
 * (read once). Grown as needed, never per run.
 */
let sizes = new Int32Array(1024)
let numbers = new Float64Array(2048)

/** A packed item's device time or device seq: the f64 at `off`, or 0 when absent. */
function u64At(blob: Buffer, at: number, off: number, bit: number): number {
  return (blob[at + L.PRESENT]! & bit) !== 0 ? blob.readDoubleLE(at + off) : 0
}

/**
 * Sizes the items of `e` into `sizes` (and their device times and seqs into `numbers`) from index
 * `k`; returns their bytes (tags and lengths included) or -1 when a value is outside the one-pass path.
 */
function sizePacked(e: PackedObservations, k: number): number {
  if (!isVarint64(e.hubTimeMs)) return -1
  const device = utf8(e.device).length
  // Tags of the 8 fields, the value's 8 bytes, the hub time and the device pseudonym: alike for every item.
  const base = 8 + 8 + varintBytes(e.hubTimeMs) + varintBytes(device) + device
  const blob = e.blob
  let total = 0
  let at = e.at
  for (let i = 0; i < e.count; i++) {
    const dt = u64At(blob, at, L.DEVICE_TIME_MS, P.DEVICE_TIME_MS)
    const seq = u64At(blob, at, L.DEVICE_SEQ, P.DEVICE_SEQ)
    if (!isVarint64(dt) || !isVarint64(seq)) return -1
    const present = blob[at + L.PRESENT]!
    const unit = present & P.UNIT ? blob[at + L.UNIT_LENGTH]! : 0
    const n = base + varintBytes(blob.readUInt32LE(at + L.CODE)) + varintBytes(unit) + unit + varintBytes(dt) + varintBytes(seq) +
      varintBytes(present & P.QUALITY ? blob.readUInt32LE(at + L.QUALITY) : 0)
    sizes[k + i] = n
    numbers[2 * (k + i)] = dt
    numbers[2 * (k + i) + 1] = seq
    total += 1 + varintBytes(n) + n
    at += L.FIXED + blob[at + L.UNIT_LENGTH]!
  }
  return total
}

/** What every item of a stretch writes alike: hub time (field 5) and device (field 8), tags included. */
function constantsOf(e: PackedObservations): { hub: Uint8Array; device: Uint8Array } {
  const hub = new Uint8Array(1 + varintBytes(e.hubTimeMs))
  hub[0] = 40
  writeVarint(hub, 1, e.hubTimeMs)
  const d = utf8(e.device)
  const device = new Uint8Array(1 + varintBytes(d.length) + d.length)
  device[0] = 66
  device.set(d, writeVarint(device, 1, d.length))
  return { hub, device }
}

/** Writes the items of `e` (sized from index `k`) at `p`; returns the position after them. */
function writePacked(out: Buffer, p: number, e: PackedObservations, k: number): number {
  const blob = e.blob
  const { hub, device } = constantsOf(e)
  let at = e.at
  for (let i = 0; i < e.count; i++) {
    const present = blob[at + L.PRESENT]!
    const unitLength = blob[at + L.UNIT_LENGTH]!
    out[p++] = 0x0a // ObservationRun.items, field 1
    p = writeVarint(out, p, sizes[k + i]!)
    out[p++] = 8
    p = writeVarint(out, p, blob.readUInt32LE(at + L.CODE))
    out[p++] = 17
    if (present & P.VALUE) {
      // The f64 as packed is the f64 writeDoubleLE would write (a NaN is never packed as present).
      for (let j = 0; j < 8; j++) out[p + j] = blob[at + L.VALUE + j]!
    } else out.writeDoubleLE(Number.NaN, p)
    p += 8
    out[p++] = 26
    if (present & P.UNIT) {
      p = writeVarint(out, p, unitLength)
      for (let j = 0; j < unitLength; j++) out[p + j] = blob[at + L.FIXED + j]!
      p += unitLength
    } else out[p++] = 0
    out[p++] = 32
    p = writeVarint(out, p, numbers[2 * (k + i)]!)
    for (let j = 0; j < hub.length; j++) out[p++] = hub[j]!
    out[p++] = 48
    p = writeVarint(out, p, numbers[2 * (k + i) + 1]!)
    out[p++] = 56
    p = writeVarint(out, p, present & P.QUALITY ? blob.readUInt32LE(at + L.QUALITY) : 0)
    for (let j = 0; j < device.length; j++) out[p++] = device[j]!
    at += L.FIXED + unitLength
  }
  return p
}

const NO_BYTES = new Uint8Array(0)

/**
 * Field 14 (tag, length, ObservationRun) of a run of `entries` (items in hub_seq order, packed
 * entries' hub_seqs consecutive), or null when a value is outside the one-pass path (a negative
 * or fractional 64-bit field): the caller then expands the entries and encodes them as before.
 * `head` and `tail` are written before and after it in the same buffer (the rest of the Envelope,
 * codec.ts envelopeAroundRun): a run is tens of KB, and copying it into a second buffer was
 * a fifth of the sync's allocation (issue 23, peak RSS).
 */
export function encodeRunEntries(entries: readonly RunEntry[], head: Uint8Array = NO_BYTES, tail: Uint8Array = NO_BYTES): Buffer | null {
  let items = 0
  for (const e of entries) items += entryCount(e)
  if (sizes.length < items) {
    sizes = new Int32Array(items * 2)
    numbers = new Float64Array(items * 4)
  }
  let runBytes = 0
  let seqBytes = 0
  let k = 0
  for (const e of entries) {
    if (isPacked(e)) {
      const n = sizePacked(e, k)
      if (n < 0 || !isVarint64(e.hubSeq + e.count - 1)) return null
      runBytes += n
      for (let i = 0; i < e.count; i++) seqBytes += varintBytes(e.hubSeq + i)
      k += e.count
    } else {
      const n = observationBytes((e as ObservationItem).observation)
      if (n < 0 || !isVarint64(e.hubSeq)) return null
      sizes[k++] = n
      runBytes += 1 + varintBytes(n) + n
      seqBytes += varintBytes(e.hubSeq)
    }
  }
  runBytes += 1 + varintBytes(seqBytes) + seqBytes
  const field = 1 + varintBytes(runBytes) + runBytes
  const out = Buffer.allocUnsafe(head.length + field + tail.length)
  out.set(head, 0)
  let p = head.length
  out[p++] = (ENVELOPE_RUN_FIELD << 3) | 2
  p = writeVarint(out, p, runBytes)
  k = 0
  for (const e of entries) {
    if (isPacked(e)) {
      p = writePacked(out, p, e, k)
      k += e.count
    } else {
      out[p++] = 0x0a
      p = writeVarint(out, p, sizes[k++]!)
      p = writeObservation(out, p, (e as ObservationItem).observation)
    }
  }
  out[p++] = 0x12 // ObservationRun.hub_seq, field 2, packed
  p = writeVarint(out, p, seqBytes)
  for (const e of entries) {
    if (isPacked(e)) for (let i = 0; i < e.count; i++) p = writeVarint(out, p, e.hubSeq + i)
    else p = writeVarint(out, p, e.hubSeq)
  }
  out.set(tail, p)
  return out
}
