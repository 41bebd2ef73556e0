/**
 * Issue 24, the Confluent wire format: the framing bytes against the format's definition, the
 * cloud writer reading framed and plain values alike, registration against a real Apicurio
 * Registry (scripts/services `start registry`), and an agent whose registry is down keeping every
 * record queued until it can register.
 */
import assert from 'node:assert/strict'
import { execFile as execFileCb } from 'node:child_process'
import { test, before } from 'node:test'
import { promisify } from 'node:util'
import mqtt from 'mqtt'
import { encodeEnvelope, protoRoot, SCHEMA_VERSION, type EnvelopeMsg } from '../../proto/codec.js'
import { envelopeIndexes, frame, framePrefix, messageIndexes, unframe, WireFormatError } from '../../proto/confluent-wire.js'
import { SchemaRegistryError } from '../../agent/sync/schema-registry.js'
import { CONTENT_TYPE, WireFormat } from '../../agent/sync/wire-format.js'
import { decodeChecked, InvalidMessage } from '../../cloud/validate.js'
import { freePort, metricValue, startAgentProcess, VIEWER_AUTH, waitFor } from '../support/agent-process.js'
import { consumeFromStart } from '../support/kafka-scan.js'
import { testKafka } from '../support/cloud-process.js'
import { kafkaBrokers, SERVICES_SCRIPT } from '../support/services.js'

const execFile = promisify(execFileCb)
const T = Date.UTC(2027, 0, 4, 12)
const envelope: EnvelopeMsg = {
  schemaVersion: SCHEMA_VERSION, hubId: 'ward-w', hubSeq: 7, subject: 'p-1', subjectKind: 1, keyEpoch: 'site-general-e1', bedId: 'w-01', hubTimeMs: T,
  observation: { code: 147842, value: 72, unit: '/min', deviceTimeMs: T - 5, hubTimeMs: T, deviceSeq: 3, quality: 0, device: 'd-1' },
}

test('wire format: the prefix is magic 0, the schema id big-endian, and [0] as the single byte 0', () => {
  assert.deepEqual([...framePrefix(0x01020304, [0])], [0, 1, 2, 3, 4, 0])
  // Any other path: a zig-zag varint count, then each index zig-zag: [1, 2] → 2→4, 1→2, 2→4.
  assert.deepEqual([...framePrefix(6, [1, 2])], [0, 0, 0, 0, 6, 4, 2, 4])
  assert.deepEqual([...framePrefix(6, [70])], [0, 0, 0, 0, 6, 2, 140, 1])
  assert.throws(() => framePrefix(-1, [0]), RangeError)
})

test('wire format: unframe gives back the schema id, index path and protobuf bytes; a plain value passes as it is', () => {
  const bytes = encodeEnvelope(envelope)
  assert.notEqual(bytes[0], 0, 'a plain Envelope never starts with byte 0 (tag 0 is no protobuf field)')
  for (const path of [[0], [1, 2], [70]]) {
    const u = unframe(frame(framePrefix(9, path), bytes))
    assert.equal(u.schemaId, 9)
    assert.deepEqual(u.indexes, path)
    assert.deepEqual(Buffer.from(u.payload), Buffer.from(bytes))
  }
  const plain = unframe(Buffer.from(bytes))
  assert.equal(plain.schemaId, null)
  assert.deepEqual(Buffer.from(plain.payload), Buffer.from(bytes))
  assert.throws(() => unframe(Buffer.from([0, 0, 0, 1])), WireFormatError)
  assert.throws(() => unframe(Buffer.from([0, 0, 0, 0, 1, 4, 2])), /past the end/)
})

test('wire format: the message index comes from the .proto text (messages only, declaration order)', () => {
  const text = 'syntax = "proto3";\npackage x.v1;\nenum E { E_0 = 0; }\nmessage A { int32 a = 1; }\nmessage B { int32 b = 1; }\n'
  assert.deepEqual(messageIndexes(text, 'A'), [0])
  assert.deepEqual(messageIndexes(text, 'B'), [1])
  assert.throws(() => messageIndexes(text, 'C'), /no top-level message C/)
  assert.deepEqual(envelopeIndexes(protoRoot()), [0], 'Envelope is the first message of envelope.proto')
})

test('cloud: the writer reads a framed value exactly as the plain one, and refuses a frame naming another message', () => {
  const bytes = encodeEnvelope(envelope)
  assert.deepEqual(decodeChecked(frame(framePrefix(12, [0]), bytes)), decodeChecked(Buffer.from(bytes)))
  assert.throws(() => decodeChecked(frame(framePrefix(12, [1]), bytes)), (e: unknown) => e instanceof InvalidMessage && e.reason === 'undecodable' && /message index \[1\]/.test(e.message))
  assert.throws(() => decodeChecked(Buffer.from([0, 0, 0, 0, 12])), (e: unknown) => e instanceof InvalidMessage && e.reason === 'undecodable' && /Confluent framing/.test(e.message))
})

test('wire format: headers are shared per topic and schema version (no per-record allocation), plain values are views', () => {
  const w = new WireFormat({ format: 'plain', topics: ['rv'], hubId: 'ward-w', site: 'general' })
  const h = w.headers('rv', 1)
  assert.equal(w.headers('rv', 1), h, 'the same object for every record')
  const text = (x: typeof h) => Object.fromEntries(Object.entries(x).map(([k, v]) => [k, String(v)]))
  assert.deepEqual(text(h), { 'content-type': CONTENT_TYPE, 'schema-version': '1', 'wire-format': 'plain', 'hub-id': 'ward-w', site: 'general' })
  assert.equal(String(w.headers('rv', 2)['schema-version']), '2')
  const bytes = encodeEnvelope(envelope)
  assert.equal(w.value('rv', bytes).buffer, bytes.buffer, 'plain: no copy')
  assert.throws(() => new WireFormat({ format: 'confluent', topics: ['rv'], hubId: 'h', site: 's' }), /schema_registry/)
})

let registryUrl = ''
before(async () => {
  await execFile('bash', [SERVICES_SCRIPT, 'start', 'registry'], { timeout: 300_000 })
  registryUrl = /SCHEMA_REGISTRY_URL=(\S+)/.exec((await execFile('bash', [SERVICES_SCRIPT, 'env'])).stdout)![1]!
})

test('registry: registration against Apicurio gives each topic an id that names envelope.proto with its imports as references; again, the same ids', async () => {
  const topics = [`wf-${Date.now()}-a`, `wf-${Date.now()}-b`]
  const w = new WireFormat({ format: 'confluent', topics, hubId: 'ward-w', site: 'general', registry: { url: registryUrl } })
  await w.ready()
  const ids = w.schemaIds()
  assert.equal(ids.size, 2)
  const again = new WireFormat({ format: 'confluent', topics, hubId: 'ward-w', site: 'general', registry: { url: registryUrl } })
  await again.ready()
  assert.deepEqual(again.schemaIds(), ids, 'registering the same schema again is idempotent')
  const id = ids.get(topics[0]!)!
  const schema = await (await fetch(`${registryUrl}/schemas/ids/${id}`)).json() as { schemaType?: string; schema: string; references?: { name: string }[] }
  assert.match(schema.schema, /message Envelope/)
  assert.deepEqual(schema.references?.map((r) => r.name).sort(), ['bedside/v1/alarm.proto', 'bedside/v1/audit.proto', 'bedside/v1/observation.proto', 'bedside/v1/waveform.proto'])
  const v = w.value(topics[0]!, encodeEnvelope(envelope))
  assert.equal(unframe(v).schemaId, id)
  assert.equal(String(w.headers(topics[0]!, 1)['schema-id']), String(id))
})

test('registry: an unreachable registry is a SchemaRegistryError naming the registry and the subject', async () => {
  const url = `http://127.0.0.1:${await freePort()}/apis/ccompat/v7`
  const w = new WireFormat({ format: 'confluent', topics: ['t1'], hubId: 'h', site: 's', registry: { url, timeoutMs: 2000 } })
  await assert.rejects(w.ready(), (e: unknown) => e instanceof SchemaRegistryError && e.code === 'BEDSIDE_ERR_SCHEMA_REGISTRY' && e.message.includes(url) && e.message.includes('bedside/v1/observation.proto'))
  assert.throws(() => w.value('t1', new Uint8Array([8, 1])), /no registered schema/)
})

test('registry: an agent whose registry is down keeps every record queued, and sends them all framed once it can register', { timeout: 180_000 }, async () => {
  const id = `wf-agent-${Date.now().toString(36)}`
  const topics = { raw_vitals: `${id}-raw-vitals`, waveforms: `${id}-waveforms`, alert_events: `${id}-alert-events`, audit_log: `${id}-audit-log`, dead_letter: `${id}-dead-letter` }
  const kafka = testKafka('wire-format-test')
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ waitForLeaders: true, topics: Object.values(topics).map((topic) => ({ topic, numPartitions: 1 })) })
  await admin.disconnect()
  const deadUrl = `http://127.0.0.1:${await freePort()}/apis/ccompat/v7`
  const config = (url: string) => ({
    beds: [{ id: 'w-01', devices: [{ id: 'mon-w', type: 'mqtt', secret: 'secret-w' }] }],
    rules: { defaults: false },
    cloud: { kafka: { brokers: kafkaBrokers(), topics, observations_per_record: 1, wire_format: 'confluent', schema_registry: { url, timeout_ms: 1000 } } },
  })
  let agent = await startAgentProcess(config(deadUrl))
  const n = 20
  try {
    const dev = await mqtt.connectAsync(agent.mqtt, { username: 'mon-w', password: 'secret-w', clientId: 'mon-w', reconnectPeriod: 0, protocolVersion: 4 })
    for (let i = 1; i <= n; i++) await dev.publishAsync('bedside/v1/devices/mon-w/obs', JSON.stringify({ ts: Date.now(), seq: i, obs: [{ code: 'MDC_ECG_HEART_RATE', value: 70 + i, unit: '/min' }] }), { qos: 1 })
    await dev.endAsync()
    await waitFor('registration failures counted', async () => (await metricValue(agent.http, 'bedside_sync_errors_total', 'SchemaRegistryError')) >= 2, 30_000, 250)
    // The gauge is refreshed on a timer: wait for it to show them, then for more failed attempts, still all queued.
    await waitFor('every record queued', async () => (await metricValue(agent.http, 'bedside_outbox_depth')) >= n, 15_000, 250)
    const failures = await metricValue(agent.http, 'bedside_sync_errors_total', 'SchemaRegistryError')
    await waitFor('registration retried', async () => (await metricValue(agent.http, 'bedside_sync_errors_total', 'SchemaRegistryError')) > failures, 30_000, 250)
    assert.ok((await metricValue(agent.http, 'bedside_outbox_depth')) >= n, 'every record still queued after the retries')
    const status = await (await fetch(`${agent.http}/api/status`, VIEWER_AUTH)).json() as { sync?: { lastError?: { message?: string } } }
    assert.match(status.sync?.lastError?.message ?? '', /schema registry .* unreachable while registering subject/, JSON.stringify(status.sync))
    await agent.stop()
    // The same gateway (same data dir) with the registry reachable: everything goes out, framed.
    agent = await startAgentProcess(config(registryUrl), { dir: agent.dir, httpPort: await freePort(), mqttPort: await freePort() })
    await waitFor('outbox drained', async () => (await metricValue(agent.http, 'bedside_outbox_depth')) === 0, 60_000, 250)
    const got = await consumeFromStart(kafka, [topics.raw_vitals], n, 30_000)
    assert.equal(got.length, n)
    for (const { message } of got) {
      assert.equal(message.value![0], 0, 'framed')
      assert.equal(message.headers!['content-type']!.toString(), CONTENT_TYPE)
      assert.equal(decodeChecked(message.value).observation!.code, 147842)
    }
  } finally {
    await agent.stop()
  }
})
