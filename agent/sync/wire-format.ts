/**
 * What a Kafka record of the agent looks like around its Envelope (issue 24):
 * - headers on every record, framed or not: `content-type` (the protobuf message type), the
 *   Envelope's `schema-version`, `wire-format`, `hub-id` and `site`, so a consumer can route and
 *   check without decoding. Built once per (topic, schema version) and shared by every record:
 *   nothing is allocated per record for them.
 * - `wire_format: confluent`: the value framed for a schema registry (proto/confluent-wire.ts),
 *   after the schema is registered under `<topic>-value` (schema-registry.ts). Registration runs
 *   before the producer connects, inside the sync loop: a registry that is down or refuses is a
 *   send failure like any other (named, counted, backed off and retried), and the records wait in
 *   the outbox on disk. The ids are kept for the life of the process.
 * - `plain` (the default): the value is the Envelope's protobuf bytes, as before.
 */
import type { IHeaders } from 'kafkajs'
import { envelopeIndexes, frame, framePrefix } from '../../proto/confluent-wire.js'
import { protoRoot } from '../../proto/codec.js'
import { readProtoFiles, SchemaRegistryClient, type RegistryClientOptions } from './schema-registry.js'

export type WireFormatName = 'plain' | 'confluent'

/** The full name of every value's message type: proto/bedside/v1/envelope.proto, package bedside.v1. */
export const ENVELOPE_TYPE = 'bedside.v1.Envelope'
export const CONTENT_TYPE = `application/x-protobuf; messageType=${ENVELOPE_TYPE}`

export interface WireFormatOptions {
  readonly format: WireFormatName
  /** The Kafka topic names that carry Envelopes (not dead-letter, which also carries foreign values). */
  readonly topics: readonly string[]
  readonly hubId: string
  readonly site: string
  /** Required with `confluent`. */
  readonly registry?: RegistryClientOptions | undefined
}

export class WireFormat {
  /** Per Kafka topic: the magic byte, schema id and index path; null until registered (or plain). */
  private prefixes: Map<string, Buffer> | null = null
  /** Per Kafka topic, the headers of each schema version (index = version): looked up, never built, per record. */
  private readonly headerSets = new Map<string, IHeaders[]>()

  constructor(private readonly opts: WireFormatOptions) {
    if (opts.format === 'confluent' && !opts.registry) throw new Error('BEDSIDE_ERR_CONFIG: wire_format confluent needs cloud.kafka.schema_registry.url')
  }

  get format(): WireFormatName {
    return this.opts.format
  }

  /** Registers the schema once (confluent); resolves at once when done before or plain. Throws a SchemaRegistryError. */
  async ready(): Promise<void> {
    if (this.opts.format === 'plain' || this.prefixes !== null) return
    const dir = protoRoot()
    const files = readProtoFiles(dir, 'bedside/v1/envelope.proto')
    const ids = await new SchemaRegistryClient(this.opts.registry!).registerProtobuf(files, this.opts.topics.map((t) => `${t}-value`))
    const indexes = envelopeIndexes(dir)
    const prefixes = new Map<string, Buffer>()
    for (const t of this.opts.topics) prefixes.set(t, framePrefix(ids.get(`${t}-value`)!, indexes))
    this.headerSets.clear() // they name the schema id from now on
    this.prefixes = prefixes
  }

  /** Schema id per topic once registered (status, tests). */
  schemaIds(): ReadonlyMap<string, number> {
    const out = new Map<string, number>()
    for (const [t, p] of this.prefixes ?? []) out.set(t, p.readUInt32BE(1))
    return out
  }

  /** The record value: the Envelope bytes, framed when confluent (one copy), else a view of them. */
  value(topic: string, envelope: Uint8Array): Buffer {
    const prefix = this.prefixes?.get(topic)
    if (prefix !== undefined) return frame(prefix, envelope)
    if (this.opts.format === 'confluent') throw new Error(`BEDSIDE_ERR_WIRE_FORMAT: topic ${topic} has no registered schema (ready() not awaited, or not an Envelope topic)`)
    return Buffer.from(envelope.buffer, envelope.byteOffset, envelope.byteLength)
  }

  /** The shared, frozen headers of a record of `topic` whose Envelope has `schemaVersion`. */
  headers(topic: string, schemaVersion: number): IHeaders {
    let byVersion = this.headerSets.get(topic)
    if (byVersion === undefined) this.headerSets.set(topic, (byVersion = []))
    let h = byVersion[schemaVersion]
    if (h === undefined) {
      const id = this.prefixes?.get(topic)?.readUInt32BE(1)
      // Values as Buffers, encoded once: the record encoder then copies bytes instead of measuring
      // and writing UTF-8 per record (patches/kafkajs+2.2.4.patch writes such headers in one pass).
      const text: Record<string, string> = {
        'content-type': CONTENT_TYPE,
        'schema-version': String(schemaVersion),
        'wire-format': this.opts.format,
        ...(id !== undefined ? { 'schema-id': String(id) } : {}),
        'hub-id': this.opts.hubId,
        site: this.opts.site,
      }
      h = Object.freeze(Object.fromEntries(Object.entries(text).map(([k, v]) => [k, Buffer.from(v, 'utf8')]))) as IHeaders
      byVersion[schemaVersion] = h
    }
    return h
  }
}
