/**
 * Device JSON payloads on MQTT (DESIGN.md, MQTT contract):
 *   bedside/v1/devices/{deviceId}/obs  {"ts": ms, "seq": n, "obs": [{"code": "MDC_…", "value": 97, "unit": "%"}]}
 *   bedside/v1/devices/{deviceId}/wave {"code": "MDC_ECG_ELEC_POTL_II", "rate": 250, "t0": ms, "samples": [µV…]}
 * Pure: bytes in, canonical records out, DecodeError with a stable reason on anything malformed.
 * Optional extensions: per-item "ts" (ms) and "quality" (array of flag names), "seq" on wave.
 */
import { termByRef } from '../codes.js'
import { DecodeError } from '../errors.js'
import { scanObsPayload } from './obs-scan.js'
import { Quality, qualityFromNames, type Observation, type WaveformChunk } from '../records.js'

const MAX_OBS_PER_MESSAGE = 10_000
const MAX_SAMPLES_PER_CHUNK = 100_000

function fail(reason: string, message: string): never {
  throw new DecodeError('mqtt', reason, message)
}

/**
 * Structure bounds checked before JSON.parse (issue 16): a legitimate payload nests 4 deep
 * (object, obs array, item, quality array), has at most two containers per item, and only short
 * strings (codes, units, flag names). JSON.parse of a 256 KiB payload of 87,000 empty objects
 * takes 4.8 ms and of 262,000 nested brackets 20 ms (node 24, 2026-12-05); this byte scan refuses
 * both in under 0.6 ms without allocating. Payloads under SCAN_FROM_BYTES parse in well under
 * 0.1 ms whatever their shape and skip it (the common case: a few observations).
 */
const MAX_DEPTH = 8
const MAX_STRING_BYTES = 1024
/** An item has at most 5 keys; many distinct keys in one object cost V8 a hidden-class transition each (20,000: 13 ms). */
const MAX_KEYS_PER_OBJECT = 32
const SCAN_FROM_BYTES = 8 * 1024
/** Keys (colons) and elements (commas) seen in the open container at each depth (reused: the scan allocates nothing). */
const keysAtDepth = new Int32Array(MAX_DEPTH + 2)
const commasAtDepth = new Int32Array(MAX_DEPTH + 2)

/** Per payload kind: `/obs` has up to two containers per item; `/wave` one large array and a few small ones. */
interface Shape { readonly maxContainers: number; readonly maxElements: number }
const OBS_SHAPE: Shape = { maxContainers: 2 * MAX_OBS_PER_MESSAGE + 8, maxElements: MAX_OBS_PER_MESSAGE }
const WAVE_SHAPE: Shape = { maxContainers: 8, maxElements: MAX_SAMPLES_PER_CHUNK }

function checkStructure(p: Buffer, shape: Shape): void {
  let depth = 0
  let containers = 0
  let inString = false
  let stringStart = 0
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!
    if (inString) {
      if (c === 0x5c) i++ // backslash: the escaped byte cannot end the string
      else if (c === 0x22) {
        inString = false
        if (i - stringStart > MAX_STRING_BYTES) fail('too-large', `a string is longer than ${MAX_STRING_BYTES} bytes`)
      }
    } else if (c === 0x22) {
      inString = true
      stringStart = i
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > MAX_DEPTH) fail('too-deep', `nested more than ${MAX_DEPTH} levels`)
      if (++containers > shape.maxContainers) fail('too-large', `more than ${shape.maxContainers} objects and arrays`)
      keysAtDepth[depth] = 0
      commasAtDepth[depth] = 0
    } else if (c === 0x7d || c === 0x5d) depth--
    else if (c === 0x3a && depth >= 0 && ++keysAtDepth[depth]! > MAX_KEYS_PER_OBJECT) fail('too-large', `an object has more than ${MAX_KEYS_PER_OBJECT} keys`)
    else if (c === 0x2c && depth >= 0 && ++commasAtDepth[depth]! >= shape.maxElements) fail('too-large', `an array has more than ${shape.maxElements} items`)
  }
  if (inString && p.length - stringStart > MAX_STRING_BYTES) fail('too-large', `a string is longer than ${MAX_STRING_BYTES} bytes`)
}

function parseJson(payload: Buffer, shape: Shape): Record<string, unknown> {
  if (payload.length >= SCAN_FROM_BYTES) checkStructure(payload, shape)
  let doc: unknown
  try {
    doc = JSON.parse(payload.toString('utf8'))
  } catch {
    fail('not-json', 'payload is not JSON')
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) fail('not-object', 'payload must be a JSON object')
  return doc as Record<string, unknown>
}

function timeMs(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 8.64e15) fail('bad-time', `${field} must be a time in ms since the Unix epoch`)
  return v
}

function seqOf(v: unknown): number | undefined {
  if (v === undefined) return undefined
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail('bad-seq', 'seq must be a non-negative integer')
  return v
}

function qualityOf(v: unknown, field: string): number {
  if (v === undefined) return Quality.VALID
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) fail('bad-quality', `${field} must be an array of flag names`)
  try {
    return qualityFromNames(v as string[])
  } catch (err) {
    fail('bad-quality', `${field}: ${(err as Error).message}`)
  }
}

export interface PayloadContext {
  readonly deviceId: string
  readonly hubTimeMs: number
  /** Sequence to use when the payload carries none. */
  readonly nextSeq: number
  /**
   * Set by the decoder: the message's identity as the device sent it ("seq/time"), which a re-send
   * repeats; undefined when the payload has no seq (the caller then keys the message by its bytes).
   */
  identity?: string
}

/** Decodes an `/obs` payload into observations (appended to `out`, which is returned). */
export function decodeObsPayload(payload: Buffer, ctx: PayloadContext, out: Observation[] = []): Observation[] {
  if (scanObsPayload(payload, ctx, out)) return out // the common shape, without JSON.parse (obs-scan.ts)
  return decodeObsGeneral(payload, ctx, out)
}

/** The general path: any JSON, the structure bounds, every error (exported for obs-scan's differential test). */
export function decodeObsGeneral(payload: Buffer, ctx: PayloadContext, out: Observation[] = []): Observation[] {
  const doc = parseJson(payload, OBS_SHAPE)
  const ts = timeMs(doc.ts, 'ts')
  const sentSeq = seqOf(doc.seq)
  const seq = sentSeq ?? ctx.nextSeq
  ctx.identity = sentSeq === undefined ? undefined : `o${sentSeq}/${ts}`
  const items = doc.obs
  if (!Array.isArray(items) || items.length === 0) fail('bad-field', 'obs must be a non-empty array')
  if (items.length > MAX_OBS_PER_MESSAGE) fail('too-large', `obs has ${items.length} items (max ${MAX_OBS_PER_MESSAGE})`)
  const start = out.length
  for (let i = 0; i < items.length; i++) {
    const it = items[i] as Record<string, unknown> | null
    if (it === null || typeof it !== 'object') fail('bad-field', `obs[${i}] must be an object`)
    if (typeof it.code !== 'string') fail('bad-field', `obs[${i}].code must be an MDC reference id string`)
    const term = termByRef(it.code)
    if (!term || term.kind !== 'numeric') fail('unknown-code', `obs[${i}].code "${it.code}" is not a known numeric MDC reference id`)
    let quality = qualityOf(it.quality, `obs[${i}].quality`)
    let value: number
    if (it.value === null) {
      value = Number.NaN
      quality |= Quality.UNAVAILABLE
    } else if (typeof it.value === 'number' && Number.isFinite(it.value)) {
      value = it.value
    } else fail('bad-field', `obs[${i}].value must be a finite number or null`)
    if (it.unit !== undefined && typeof it.unit !== 'string') fail('bad-field', `obs[${i}].unit must be a UCUM string`)
    out.push({
      kind: 'obs',
      deviceId: ctx.deviceId,
      code: term.code,
      value,
      unit: (it.unit as string | undefined) ?? term.unit,
      deviceTimeMs: it.ts === undefined ? ts : timeMs(it.ts, `obs[${i}].ts`),
      hubTimeMs: ctx.hubTimeMs,
      deviceSeq: seq,
      quality,
    })
  }
  if (out.length === start) fail('bad-field', 'obs is empty')
  return out
}

/** Decodes a `/wave` payload into one waveform chunk. */
export function decodeWavePayload(payload: Buffer, ctx: PayloadContext): WaveformChunk {
  const doc = parseJson(payload, WAVE_SHAPE)
  if (typeof doc.code !== 'string') fail('bad-field', 'code must be an MDC reference id string')
  const term = termByRef(doc.code)
  if (!term || term.kind !== 'waveform') fail('unknown-code', `code "${doc.code}" is not a known waveform MDC reference id`)
  const rate = doc.rate
  if (typeof rate !== 'number' || !Number.isFinite(rate) || rate <= 0 || rate > 10_000) fail('bad-field', 'rate must be a sample rate in Hz (0 < rate ≤ 10000)')
  const t0 = timeMs(doc.t0, 't0')
  const sentSeq = seqOf(doc.seq)
  ctx.identity = sentSeq === undefined ? undefined : `w${sentSeq}/${t0}`
  const samples = doc.samples
  if (!Array.isArray(samples) || samples.length === 0) fail('bad-field', 'samples must be a non-empty array of µV integers')
  if (samples.length > MAX_SAMPLES_PER_CHUNK) fail('too-large', `samples has ${samples.length} items (max ${MAX_SAMPLES_PER_CHUNK})`)
  const uv = new Int32Array(samples.length)
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i]
    if (typeof s !== 'number' || !Number.isFinite(s) || Math.abs(s) > 2 ** 31 - 1) fail('bad-field', `samples[${i}] must be a number of µV`)
    uv[i] = Math.round(s)
  }
  return {
    kind: 'wave',
    deviceId: ctx.deviceId,
    code: term.code,
    rateHz: rate,
    t0Us: Math.round(t0 * 1000),
    samplesUv: uv,
    hubTimeMs: ctx.hubTimeMs,
    deviceSeq: sentSeq ?? ctx.nextSeq,
    quality: qualityOf(doc.quality, 'quality'),
  }
}
