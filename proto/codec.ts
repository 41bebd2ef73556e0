/**
 * protobufjs codec for the bedside.v1 wire schema, shared by the agent (encode) and the cloud
 * writer (decode). The .proto files are the source of truth; they are loaded once at start-up.
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import protobuf from 'protobufjs'
import { encodeRunField } from './run-encoder.js'

/** schema_version of every Envelope whose body is one event (observation, waveform, alarm, audit). */
export const SCHEMA_VERSION = 1
/** schema_version of an Envelope whose body is `observations`, a run of one subject's observations (issue 23). */
export const SCHEMA_VERSION_RUN = 2

// int64 fields (times in ms/µs, hub_seq) stay far below 2^53, so plain numbers are exact and avoid
// a Long object per field on the hot path.
protobuf.util.Long = undefined as unknown as typeof protobuf.util.Long
protobuf.configure()

export interface ObservationMsg {
  code: number
  value: number
  unit: string
  deviceTimeMs: number
  hubTimeMs: number
  deviceSeq: number
  quality: number
  device: string
}
export interface WaveformMsg {
  code: number
  rateHz: number
  t0Us: number
  samplesUv: ArrayLike<number>
  hubTimeMs: number
  deviceSeq: number
  quality: number
  device: string
}
export interface AlarmMsg {
  alarmId: string
  ruleId: string
  state: string
  priority: string
  category: string
  code: string
  value: number
  message: string
  conditionSinceMs: number
  atMs: number
  latching: boolean
  ackBy: string
  /** Alarm grouping: the alarm it was folded under at this change ('' = shown). Absent in stores before issue 19. */
  foldedInto?: string
  /** Issue 24: numeric code of the alarm (MDC, or a private code of drivers/codes.ts); 0 in stores before. */
  mdcCode?: number
}
export interface AuditMsg {
  action: string
  actor: string
  atMs: number
  detail: string
}
/** A run of one subject's observations; `hubSeq[i]` is the hub_seq of `items[i]` (proto/bedside/v1/envelope.proto). */
export interface ObservationRunMsg {
  items: ObservationMsg[]
  hubSeq: number[]
}
export const SubjectKind = { UNSPECIFIED: 0, PATIENT: 1, DEVICE: 2, BED: 3, HUB: 4 } as const

export interface EnvelopeMsg {
  schemaVersion: number
  hubId: string
  hubSeq: number
  subject: string
  subjectKind: number
  keyEpoch: string
  bedId: string
  hubTimeMs: number
  observation?: ObservationMsg | null
  waveform?: WaveformMsg | null
  alarm?: AlarmMsg | null
  audit?: AuditMsg | null
  /** schema_version 2 only. */
  observations?: ObservationRunMsg | null
  // Issue 24 (envelope.proto fields 15–22; '' / false in records written before).
  site?: string
  encounter?: string
  encounterKeyEpoch?: string
  demo?: boolean
  deviceType?: string
  deviceModel?: string
  wardLabel?: string
  bedLabel?: string
}

/** One observation and its own hub_seq, as a consumer of either schema version sees it. */
export interface ObservationEvent {
  readonly hubSeq: number
  readonly observation: ObservationMsg
}

/**
 * The observations an Envelope carries, each with its hub_seq: none, one (version 1) or a run
 * (version 2). Consumers dedupe each by (hub_id, hubSeq) whatever the version.
 */
export function observationEvents(e: EnvelopeMsg): ObservationEvent[] {
  if (e.observation) return [{ hubSeq: e.hubSeq, observation: e.observation }]
  const run = e.observations
  if (!run) return []
  return run.items.map((observation, i) => ({ hubSeq: run.hubSeq[i]!, observation }))
}

/** The directory holding bedside/v1/*.proto (also what the agent registers with a schema registry). */
export function protoRoot(): string {
  // Source layout (tsx): proto/codec.ts beside proto/bedside; built layout: dist/proto/codec.js.
  for (const rel of ['./', '../../proto/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url))
    if (existsSync(`${dir}bedside/v1/envelope.proto`)) return dir
  }
  throw new Error('BEDSIDE_ERR_PROTO: proto/bedside/v1/envelope.proto not found beside the program')
}

function loadEnvelopeType(): protobuf.Type {
  const root = new protobuf.Root()
  const dir = protoRoot()
  root.resolvePath = (_origin, target) => (target.startsWith('/') ? target : dir + target)
  root.loadSync('bedside/v1/envelope.proto', { keepCase: false })
  return root.lookupType('bedside.v1.Envelope')
}

const Envelope = loadEnvelopeType()

/**
 * WaveformChunk's encoder with its packed samples written in one pass. The generated encoder
 * pushes one writer operation (an object and a closure) per sample: 1.7–1.8 µs for a 130-sample
 * chunk against 0.84–0.88 µs here (`npm run bench -- sync`, sync.protobuf.waveform-encode; the
 * waveform drain went from 95–100k to 118–123k chunks/s). It writes the same fields in the same
 * order with the same presence rules, and the samples as one length-delimited run of zigzag
 * varints, which is what a packed `repeated sint32` is on the wire; test/sync/codec.test.ts checks
 * it against the generated encoder byte for byte.
 */
const WaveformChunk = Envelope.root.lookupType('bedside.v1.WaveformChunk')
Envelope.setup()
WaveformChunk.setup()
const generatedWaveformEncode = WaveformChunk.encode.bind(WaveformChunk)
const has = (m: object, key: string) => (m as Record<string, unknown>)[key] != null && Object.hasOwnProperty.call(m, key)
/** Scratch for the packed samples: the writer copies it at `finish()`, which follows every encode. */
let packed = Buffer.allocUnsafe(4096)

function packSint32(samples: ArrayLike<number>): Buffer {
  if (packed.length < samples.length * 5) packed = Buffer.allocUnsafe(samples.length * 5)
  const b = packed
  let p = 0
  for (let i = 0; i < samples.length; i++) {
    const x = samples[i]!
    let v = ((x << 1) ^ (x >> 31)) >>> 0
    while (v > 127) {
      b[p++] = (v & 127) | 128
      v >>>= 7
    }
    b[p++] = v
  }
  return b.subarray(0, p)
}

function encodeWaveformChunk(m: WaveformMsg, w?: protobuf.Writer): protobuf.Writer {
  w ??= protobuf.Writer.create()
  if (has(m, 'code')) w.uint32(8).uint32(m.code)
  if (has(m, 'rateHz')) w.uint32(17).double(m.rateHz)
  if (has(m, 't0Us')) w.uint32(24).int64(m.t0Us)
  if (m.samplesUv != null && m.samplesUv.length) w.uint32(34).bytes(packSint32(m.samplesUv))
  if (has(m, 'hubTimeMs')) w.uint32(40).int64(m.hubTimeMs)
  if (has(m, 'deviceSeq')) w.uint32(48).uint64(m.deviceSeq)
  if (has(m, 'quality')) w.uint32(56).uint32(m.quality)
  if (has(m, 'device')) w.uint32(66).string(m.device)
  return w
}
WaveformChunk.encode = encodeWaveformChunk as unknown as typeof WaveformChunk.encode

/** For the byte-for-byte test: the one-pass WaveformChunk encoder and the generated one it replaces. */
export const waveformEncoders = {
  onePass: (m: WaveformMsg): Uint8Array => encodeWaveformChunk(m).finish(),
  generated: (m: WaveformMsg): Uint8Array => generatedWaveformEncode(m as unknown as protobuf.Message).finish(),
}

export function encodeEnvelope(msg: EnvelopeMsg): Uint8Array {
  if (msg.observations) {
    // The run in one pass (run-encoder.ts), where the generated encoder writes it: after the head
    // (fields 1–8) and before the issue 24 fields (15–22), so the bytes are the generated ones.
    const run = encodeRunField(msg.observations)
    if (run !== null) return encodeEnvelopeAroundRun(msg, run)
  }
  return Envelope.encode(msg as unknown as protobuf.Message).finish()
}

/**
 * The bytes an Envelope's field 14 (`observations`) goes between: the head (fields 1–8) before it
 * and the issue 24 fields (15–22) after it, as the generated encoder orders them, so that
 * head + run + tail are the generated bytes; `msg.observations` is ignored.
 */
export function envelopeAroundRun(msg: EnvelopeMsg): { readonly head: Uint8Array; readonly tail: Uint8Array } {
  const { observations: _, site, encounter, encounterKeyEpoch, demo, deviceType, deviceModel, wardLabel, bedLabel, ...rest } = msg
  const head = Envelope.encode(rest as unknown as protobuf.Message).finish()
  const tail = Envelope.encode(definedOnly({ site, encounter, encounterKeyEpoch, demo, deviceType, deviceModel, wardLabel, bedLabel }) as unknown as protobuf.Message).finish()
  return { head, tail }
}

/** An Envelope whose field 14 is already encoded (`run`: tag, length and ObservationRun, as run-encoder.ts writes it). */
export function encodeEnvelopeAroundRun(msg: EnvelopeMsg, run: Uint8Array): Uint8Array {
  const { head, tail } = envelopeAroundRun(msg)
  const out = Buffer.allocUnsafe(head.length + run.length + tail.length)
  out.set(head, 0)
  out.set(run, head.length)
  out.set(tail, head.length + run.length)
  return out
}

/** The keys whose value is set: what the generated encoder would write of them. */
function definedOnly(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const k in o) if (o[k] !== undefined) out[k] = o[k]
  return out
}

/** For the byte-for-byte test: the one-pass run encoder and the generated one it replaces. */
export const runEncoders = {
  onePass: (m: EnvelopeMsg): Uint8Array => encodeEnvelope(m),
  generated: (m: EnvelopeMsg): Uint8Array => Envelope.encode(m as unknown as protobuf.Message).finish(),
}

const AlarmType = Envelope.root.lookupType('bedside.v1.Alarm')
const AuditType = Envelope.root.lookupType('bedside.v1.AuditEvent')
/** Envelope field numbers of the bodies (proto/bedside/v1/envelope.proto). */
const ENVELOPE_ALARM_FIELD = 12
const ENVELOPE_AUDIT_FIELD = 13

/** An Alarm or AuditEvent as protobuf bytes: the agent stores alarm and audit records this way (typed, no JSON). */
export function encodeAlarm(m: AlarmMsg): Uint8Array {
  return AlarmType.encode(m as unknown as protobuf.Message).finish()
}

export function encodeAudit(m: AuditMsg): Uint8Array {
  return AuditType.encode(m as unknown as protobuf.Message).finish()
}

/** Decodes stored Alarm / AuditEvent bytes; throws an EnvelopeError('undecodable') on anything else. */
export function decodeAlarm(bytes: Uint8Array): AlarmMsg {
  return decodeBody(AlarmType, bytes) as unknown as AlarmMsg
}

export function decodeAudit(bytes: Uint8Array): AuditMsg {
  return decodeBody(AuditType, bytes) as unknown as AuditMsg
}

function decodeBody(type: protobuf.Type, bytes: Uint8Array): object {
  try {
    return type.toObject(type.decode(bytes), { defaults: true })
  } catch (err) {
    throw new EnvelopeError('undecodable', `not a ${type.fullName.slice(1)}: ${(err as Error).message}`, { cause: err })
  }
}

/**
 * An Envelope whose body is an already encoded Alarm or AuditEvent: the head without a body, then
 * the body as its length-delimited field. Protobuf lets fields come in any order and a decoder
 * takes the last of a oneof, so the bytes equal an encode of the whole message (test/sync/codec.test.ts).
 */
export function encodeEnvelopeWithBody(head: EnvelopeMsg, body: 'alarm' | 'audit', bytes: Uint8Array): Uint8Array {
  const w = Envelope.encode(head as unknown as protobuf.Message)
  return w.uint32(((body === 'alarm' ? ENVELOPE_ALARM_FIELD : ENVELOPE_AUDIT_FIELD) << 3) | 2).bytes(bytes).finish()
}

/** Why bytes are not a usable Envelope; a stable code for consumers (no message matching). */
export type EnvelopeErrorReason = 'undecodable' | 'schema-version' | 'missing-id'

export class EnvelopeError extends Error {
  readonly code = 'BEDSIDE_ERR_ENVELOPE'
  constructor(readonly reason: EnvelopeErrorReason, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'EnvelopeError'
  }
}

/** Decodes and checks the envelope; throws an EnvelopeError with its reason for undecodable or unsupported input. */
export function decodeEnvelope(bytes: Uint8Array): EnvelopeMsg {
  let decoded: protobuf.Message
  try {
    decoded = Envelope.decode(bytes)
  } catch (err) {
    throw new EnvelopeError('undecodable', `not a bedside.v1.Envelope: ${(err as Error).message}`, { cause: err })
  }
  const m = Envelope.toObject(decoded, { defaults: true, oneofs: false }) as EnvelopeMsg
  // Version 2 only adds the `observations` body; a version-1 reader of it would see no body at all.
  if (m.schemaVersion !== SCHEMA_VERSION && m.schemaVersion !== SCHEMA_VERSION_RUN) throw new EnvelopeError('schema-version', `unsupported schema_version ${m.schemaVersion}`)
  if (!m.hubId || !m.hubSeq) throw new EnvelopeError('missing-id', 'envelope lacks hub_id or hub_seq')
  return m
}
