/**
 * The body of a schema_version 2 Envelope, `observations` (field 14, an ObservationRun), in one
 * pass. protobufjs' generated encoder forks a writer state per observation and queues one
 * operation (an object and a closure) per field, 9,000 of them for a run of 1000; this sizes the
 * run first and writes it straight into one buffer: 2.3× the generated encoder's rate on runs of
 * 100 (`npm run bench -- sync`, sync.protobuf.run-encode). The same fields in the same order with
 * the same presence rules as the generated encoder (every field of an item is an own property,
 * so each is written, zero or not), the hub_seq as one packed run; test/sync/runs.test.ts checks
 * the bytes against the generated encoder. Pure; depends on no protobuf library.
 * Field numbers: proto/bedside/v1/envelope.proto and observation.proto.
 */
import type { ObservationMsg, ObservationRunMsg } from './codec.js'

export const ENVELOPE_RUN_FIELD = 14
const isVarint32 = (n: number) => n >>> 0 === n
/** Within the one-pass path: what protobufjs writes as a plain varint from a number (no sign extension, no fraction). */
export const isVarint64 = (n: number) => Number.isSafeInteger(n) && n >= 0

/** UTF-8 of the few distinct strings of runs (units, device pseudonyms), bounded. */
const utf8Cache = new Map<string, Buffer>()
export function utf8(s: string): Buffer {
  let b = utf8Cache.get(s)
  if (b === undefined) {
    if (utf8Cache.size >= 4096) utf8Cache.clear()
    utf8Cache.set(s, (b = Buffer.from(s, 'utf8')))
  }
  return b
}

/** Bytes of `n` as a varint (0 ≤ n < 2^53, an integer): by comparison, no division. */
export function varintBytes(n: number): number {
  if (n < 0x80) return 1
  if (n < 0x4000) return 2
  if (n < 0x200000) return 3
  if (n < 0x10000000) return 4
  if (n < 0x800000000) return 5
  if (n < 0x40000000000) return 6
  if (n < 0x2000000000000) return 7
  return 8
}

/**
 * Writes `n` (0 ≤ n < 2^53, an integer) as a varint at `p`; returns the position after it. Below
 * 2^28 with 32-bit operations only; above (times in ms are ≈ 2^41), the low 28 bits as four bytes
 * and the rest likewise: one division instead of one per byte.
 */
export function writeVarint(b: Uint8Array, p: number, n: number): number {
  if (n >= 0x10000000) {
    const hi = Math.floor(n / 0x10000000)
    const lo = n - hi * 0x10000000
    b[p++] = (lo & 127) | 128
    b[p++] = ((lo >>> 7) & 127) | 128
    b[p++] = ((lo >>> 14) & 127) | 128
    b[p++] = ((lo >>> 21) & 127) | 128
    n = hi // < 2^25, as n < 2^53
  }
  while (n >= 128) {
    b[p++] = (n & 127) | 128
    n >>>= 7
  }
  b[p++] = n
  return p
}

/** Encoded size of an Observation, or -1 when a field is outside the one-pass path. */
export function observationBytes(o: ObservationMsg): number {
  if (!isVarint32(o.code) || !isVarint32(o.quality) || !isVarint64(o.deviceTimeMs) || !isVarint64(o.hubTimeMs) || !isVarint64(o.deviceSeq)) return -1
  const unit = utf8(o.unit).length
  const device = utf8(o.device).length
  return 1 + varintBytes(o.code) + 9 + 1 + varintBytes(unit) + unit + 1 + varintBytes(o.deviceTimeMs) + 1 + varintBytes(o.hubTimeMs) +
    1 + varintBytes(o.deviceSeq) + 1 + varintBytes(o.quality) + 1 + varintBytes(device) + device
}

/** Observation fields 1–8 in order: code, value, unit, device_time_ms, hub_time_ms, device_seq, quality, device. */
export function writeObservation(b: Buffer, p: number, o: ObservationMsg): number {
  b[p++] = 8
  p = writeVarint(b, p, o.code)
  b[p++] = 17
  b.writeDoubleLE(o.value, p)
  p += 8
  const unit = utf8(o.unit)
  b[p++] = 26
  p = writeVarint(b, p, unit.length)
  p += unit.copy(b, p)
  b[p++] = 32
  p = writeVarint(b, p, o.deviceTimeMs)
  b[p++] = 40
  p = writeVarint(b, p, o.hubTimeMs)
  b[p++] = 48
  p = writeVarint(b, p, o.deviceSeq)
  b[p++] = 56
  p = writeVarint(b, p, o.quality)
  const device = utf8(o.device)
  b[p++] = 66
  p = writeVarint(b, p, device.length)
  p += device.copy(b, p)
  return p
}

/**
 * Field 14 of an Envelope (tag, length, ObservationRun), or null when a value is outside the
 * one-pass path (a negative or non-integer 64-bit field): the caller then encodes the whole
 * Envelope with the generated encoder.
 */
export function encodeRunField(run: ObservationRunMsg): Buffer | null {
  let runBytes = 0
  const itemBytes = new Array<number>(run.items.length)
  for (let i = 0; i < run.items.length; i++) {
    const n = observationBytes(run.items[i]!)
    if (n < 0) return null
    itemBytes[i] = n
    runBytes += 1 + varintBytes(n) + n
  }
  let seqBytes = 0
  for (const seq of run.hubSeq) {
    if (!isVarint64(seq)) return null
    seqBytes += varintBytes(seq)
  }
  if (run.hubSeq.length > 0) runBytes += 1 + varintBytes(seqBytes) + seqBytes
  const out = Buffer.allocUnsafe(1 + varintBytes(runBytes) + runBytes)
  let p = 0
  out[p++] = (ENVELOPE_RUN_FIELD << 3) | 2
  p = writeVarint(out, p, runBytes)
  for (let i = 0; i < run.items.length; i++) {
    out[p++] = 0x0a // ObservationRun.items, field 1
    p = writeVarint(out, p, itemBytes[i]!)
    p = writeObservation(out, p, run.items[i]!)
  }
  if (run.hubSeq.length > 0) {
    out[p++] = 0x12 // ObservationRun.hub_seq, field 2, packed
    p = writeVarint(out, p, seqBytes)
    for (const seq of run.hubSeq) p = writeVarint(out, p, seq)
  }
  return out
}
