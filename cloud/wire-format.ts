/**
 * The writer reads both wire formats the agent sends (issue 24, agent/sync/wire-format.ts): a
 * plain bedside.v1.Envelope, or the same bytes in the Confluent wire format (proto/confluent-wire.ts).
 * The first byte tells them apart (0 is never a protobuf field tag). A framed value must name the
 * Envelope's message index; its schema id is not looked up (the .proto files in proto/ are the
 * reader's schema, and the schema_version field inside says which version wrote it).
 */
import { EnvelopeError, protoRoot } from '../proto/codec.js'
import { envelopeIndexes, unframe, WireFormatError } from '../proto/confluent-wire.js'

const ENVELOPE_INDEXES = envelopeIndexes(protoRoot())

/** The Envelope's protobuf bytes of a record value; an EnvelopeError('undecodable') naming what is wrong with a framed one. */
export function unframeEnvelope(value: Buffer): Buffer {
  try {
    const u = unframe(value)
    if (u.schemaId !== null && (u.indexes.length !== ENVELOPE_INDEXES.length || u.indexes.some((x, i) => x !== ENVELOPE_INDEXES[i]))) {
      throw new EnvelopeError('undecodable', `Confluent-framed value (schema id ${u.schemaId}) names message index [${u.indexes.join(',')}], not bedside.v1.Envelope's [${ENVELOPE_INDEXES.join(',')}]`)
    }
    return u.payload
  } catch (err) {
    if (err instanceof WireFormatError) throw new EnvelopeError('undecodable', `bad Confluent framing: ${err.message}`, { cause: err })
    throw err
  }
}
