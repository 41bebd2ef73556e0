/**
 * The Confluent wire format of a protobuf record value (issue 24), written by the agent when
 * `cloud.kafka.wire_format: confluent` and read by the cloud writer either way. Pure.
 *
 *   byte 0       magic 0
 *   bytes 1..4   schema id, big-endian, as the schema registry assigned it to `<topic>-value`
 *   then         the message-index path of the record's type inside its .proto file: a zig-zag
 *                varint count, then each index as a zig-zag varint; the path [0] (the file's first
 *                message) is the single byte 0 (count 0 means [0])
 *   then         the protobuf bytes
 * (Confluent Schema Registry docs, "Wire format" and "Protobuf: message indexes"; it is what
 * confluent_kafka.schema_registry.protobuf.ProtobufDeserializer reads.)
 *
 * A plain Envelope can never start with byte 0: its first byte is a field tag, and tag 0 is not a
 * valid protobuf field number. So a reader tells framed from plain by the first byte alone.
 */
import { readFileSync } from 'node:fs'
import protobuf from 'protobufjs'

export const CONFLUENT_MAGIC = 0

/** The message-index path of top-level message `name` in a .proto file's text (declaration order, messages only). */
export function messageIndexes(protoText: string, name: string): number[] {
  const parsed = protobuf.parse(protoText, { keepCase: true })
  const pkg = parsed.package ? parsed.root.lookup(parsed.package) : parsed.root
  const messages = (pkg as protobuf.Namespace).nestedArray.filter((n) => n instanceof protobuf.Type)
  const i = messages.findIndex((m) => m.name === name)
  if (i < 0) throw new Error(`BEDSIDE_ERR_PROTO: no top-level message ${name} in the .proto text`)
  return [i]
}

/** bedside.v1.Envelope's path in proto/bedside/v1/envelope.proto (read once; the file is the source of truth). */
export function envelopeIndexes(protoDir: string): number[] {
  return messageIndexes(readFileSync(`${protoDir}bedside/v1/envelope.proto`, 'utf8'), 'Envelope')
}

function zigzagVarint(out: number[], n: number): void {
  let v = ((n << 1) ^ (n >> 31)) >>> 0
  while (v > 127) {
    out.push((v & 127) | 128)
    v >>>= 7
  }
  out.push(v)
}

/** The 5-byte magic + id and the index path: what goes before every protobuf value of one subject's schema. */
export function framePrefix(schemaId: number, indexes: readonly number[]): Buffer {
  if (!Number.isInteger(schemaId) || schemaId < 0 || schemaId > 0x7fffffff) throw new RangeError(`schema id ${schemaId} is not a registry id`)
  const path: number[] = []
  if (indexes.length === 1 && indexes[0] === 0) path.push(0)
  else {
    zigzagVarint(path, indexes.length)
    for (const i of indexes) zigzagVarint(path, i)
  }
  const b = Buffer.alloc(5 + path.length)
  b[0] = CONFLUENT_MAGIC
  b.writeUInt32BE(schemaId, 1)
  b.set(path, 5)
  return b
}

/** `prefix` then `value` in one buffer (one allocation and one copy per record). */
export function frame(prefix: Buffer, value: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(prefix.length + value.length)
  prefix.copy(out, 0)
  out.set(value, prefix.length)
  return out
}

export interface Unframed {
  /** Null: the value was plain protobuf. */
  readonly schemaId: number | null
  readonly indexes: readonly number[]
  readonly payload: Buffer
}

/** Why a value that starts with the magic byte is not a Confluent-framed value; a stable reason. */
export class WireFormatError extends Error {
  readonly code = 'BEDSIDE_ERR_WIRE_FORMAT'
  constructor(message: string) {
    super(message)
    this.name = 'WireFormatError'
  }
}

function readZigzag(b: Buffer, at: { p: number }): number {
  let v = 0
  for (let shift = 0; shift < 35; shift += 7) {
    if (at.p >= b.length) throw new WireFormatError('the message-index path runs past the end of the value')
    const byte = b[at.p++]!
    v |= (byte & 127) << shift
    if ((byte & 128) === 0) return (v >>> 1) ^ -(v & 1)
  }
  throw new WireFormatError('a message-index varint is longer than 5 bytes')
}

/** The schema id, index path and protobuf bytes of a framed value; a plain value as it is (schemaId null). */
export function unframe(value: Buffer): Unframed {
  if (value.length === 0 || value[0] !== CONFLUENT_MAGIC) return { schemaId: null, indexes: [0], payload: value }
  if (value.length < 6) throw new WireFormatError(`a Confluent-framed value needs at least 6 bytes, this one has ${value.length}`)
  const schemaId = value.readUInt32BE(1)
  const at = { p: 5 }
  const count = readZigzag(value, at)
  if (count < 0 || count > 32) throw new WireFormatError(`message-index path of ${count} entries`)
  const indexes: number[] = []
  for (let i = 0; i < count; i++) indexes.push(readZigzag(value, at))
  return { schemaId, indexes: count === 0 ? [0] : indexes, payload: value.subarray(at.p) }
}
