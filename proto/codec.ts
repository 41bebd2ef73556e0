/**
 * protobufjs codec for the bedside.v1 wire schema, shared by the agent (encode) and the cloud
 * writer (decode). The .proto files are the source of truth; they are loaded once at start-up.
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import protobuf from 'protobufjs'

export const SCHEMA_VERSION = 1

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
}
export interface AuditMsg {
  action: string
  actor: string
  atMs: number
  detail: string
}
export const SubjectKind = { UNSPECIFIED: 0, PATIENT: 1, DEVICE: 2 } as const

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
}

function protoRoot(): string {
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

export function encodeEnvelope(msg: EnvelopeMsg): Uint8Array {
  return Envelope.encode(msg as unknown as protobuf.Message).finish()
}

/** Decodes and checks the envelope; throws with a reason for undecodable or unsupported input. */
export function decodeEnvelope(bytes: Uint8Array): EnvelopeMsg {
  const m = Envelope.toObject(Envelope.decode(bytes), { defaults: true, oneofs: false }) as EnvelopeMsg
  if (m.schemaVersion !== SCHEMA_VERSION) throw new Error(`unsupported schema_version ${m.schemaVersion}`)
  if (!m.hubId || !m.hubSeq) throw new Error('envelope lacks hub_id or hub_seq')
  return m
}
