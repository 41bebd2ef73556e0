/**
 * The kafkajs hot-path patch (patches/kafkajs+2.2.4.patch, applied by patch-package at npm ci)
 * must write the same bytes as the code it replaces. The generic record encoder is kept in the
 * patched module as `encodeGeneric`, so every fast-path record is compared with it byte for byte.
 */
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import test from 'node:test'
import fc from 'fast-check'

const require = createRequire(import.meta.url)

interface EncoderLike {
  buffer: Buffer
  writeUVarInt(v: number): EncoderLike
  writeVarInt(v: number): EncoderLike
  writeEncoderArray(a: EncoderLike[]): EncoderLike
}
type RecordFn = ((r: Record<string, unknown>) => EncoderLike) & { encodeGeneric?: (r: Record<string, unknown>) => EncoderLike }

const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as RecordFn
const Encoder = require('kafkajs/src/protocol/encoder.js') as new () => EncoderLike
const groupMessagesPerPartition = require('kafkajs/src/producer/groupMessagesPerPartition.js') as (a: {
  topic: string
  partitionMetadata: unknown[]
  messages: { key: string; n: number }[]
  partitioner: (a: { message: { key: string } }) => number
}) => Record<string, { key: string; n: number }[]>

test('kafkajs patch: applied (npm ci runs patch-package)', () => {
  assert.equal(typeof Record.encodeGeneric, 'function', 'node_modules/kafkajs is unpatched: run `npx patch-package`')
})

test('kafkajs patch: a record with headers of string or Buffer values (every agent record, issue 24) is byte-identical to the generic encoder', () => {
  const text = fc.string({ maxLength: 60, unit: 'binary' })
  const headerValue = fc.oneof(text, fc.uint8Array({ maxLength: 80 }).map((a) => Buffer.from(a)))
  fc.assert(
    fc.property(
      fc.oneof(fc.constant(null), text),
      fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a)),
      fc.integer({ min: 0, max: 2 ** 30 - 1 }),
      fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
      fc.dictionary(fc.string({ minLength: 1, maxLength: 20, unit: 'binary' }), headerValue, { maxKeys: 8 }),
      (key, value, offsetDelta, timestampDelta, headers) => {
        const r = { key, value, offsetDelta, timestampDelta, headers }
        assert.deepEqual(Record(r).buffer, Record.encodeGeneric!(r).buffer)
      },
    ),
    { numRuns: 10_000 },
  )
  // Array values (one key, several headers) keep the generic path, and its bytes.
  for (const headers of [{ a: ['x', 'y'] }, { a: ['z'], b: 'w' }]) {
    const r = { key: 'k', value: Buffer.from('v'), offsetDelta: 1, timestampDelta: 2, headers }
    assert.deepEqual(Record(r).buffer, Record.encodeGeneric!(r).buffer)
  }
})

test('kafkajs patch: a record without headers is byte-identical to the generic encoder', () => {
  const bytes = fc.oneof(fc.constant(null), fc.string({ maxLength: 80 }), fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a)))
  fc.assert(
    fc.property(
      bytes,
      bytes,
      fc.integer({ min: 0, max: 2 ** 30 - 1 }),
      fc.oneof(fc.integer({ min: -1000, max: 100_000 }), fc.integer({ min: -(2 ** 50), max: 2 ** 50 })),
      (key, value, offsetDelta, timestampDelta) => {
        const r = { key, value, offsetDelta, timestampDelta }
        assert.deepEqual(Record(r).buffer, Record.encodeGeneric!(r).buffer)
      },
    ),
    { numRuns: 20_000 },
  )
})

test('kafkajs patch: records with headers or out-of-range deltas write the generic path\'s bytes', () => {
  for (const r of [
    { key: 'k', value: Buffer.from([1, 2]), headers: { trace: 'x' }, offsetDelta: 3, timestampDelta: 7 },
    { key: 'k', value: 'v', offsetDelta: 1, timestampDelta: 2 ** 53 + 2 },
  ]) {
    assert.deepEqual(Record(r).buffer, Record.encodeGeneric!(r).buffer)
  }
})

test('kafkajs patch: varints written in place match LEB128 of the zig-zag value', () => {
  const reference = (u: number): number[] => {
    const out: number[] = []
    let v = u >>> 0
    while (v >= 0x80) {
      out.push((v & 0x7f) | 0x80)
      v >>>= 7
    }
    out.push(v)
    return out
  }
  fc.assert(
    fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (v) => {
      assert.deepEqual([...new Encoder().writeUVarInt(v).buffer], reference(v))
      assert.deepEqual([...new Encoder().writeVarInt(v).buffer], reference((v << 1) ^ (v >> 31)))
    }),
    { numRuns: 20_000 },
  )
})

test('kafkajs patch: an encoder array is concatenated in order', () => {
  const parts = [Record({ key: 'a', value: 'one' }), Record({ key: null, value: null, offsetDelta: 1 }), Record({ key: 'c', value: Buffer.alloc(700, 7), offsetDelta: 2 })]
  assert.deepEqual(new Encoder().writeEncoderArray(parts).buffer, Buffer.concat(parts.map((p) => p.buffer)))
})

test('kafkajs patch: messages are grouped per partition in their order', () => {
  const messages = Array.from({ length: 10_000 }, (_, n) => ({ key: `p${n % 7}`, n }))
  const grouped = groupMessagesPerPartition({ topic: 't', partitionMetadata: [{}, {}, {}], messages, partitioner: ({ message }) => Number(message.key.slice(1)) % 3 })
  assert.deepEqual(Object.keys(grouped).sort(), ['0', '1', '2'])
  for (const [partition, list] of Object.entries(grouped)) {
    assert.deepEqual(list, messages.filter((m) => Number(m.key.slice(1)) % 3 === Number(partition)))
  }
})

interface QueueLike {
  throttleCheckTimeoutId: unknown
  pending: unknown[]
  push(r: { entry: { correlationId: number; apiKey: number; apiName: string; apiVersion: number; resolve: () => void; reject: () => void }; expectResponse: boolean; sendRequest: () => void }): void
  fulfillRequest(r: { correlationId: number; payload: unknown; size: number }): void
  maybeThrottle(ms: number): void
  destroy(): void
}
const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as new (o: Record<string, unknown>) => QueueLike
const quietLogger = { debug() {}, info() {}, warn() {}, error() {} }

test('kafkajs patch: an idle connection schedules no timer (the unpatched queue spun a 1 ms loop per broker)', async () => {
  const q = new RequestQueue({ maxInFlightRequests: 1, requestTimeout: 30_000, enforceRequestTimeout: false, clientId: 't', broker: 'b:1', logger: quietLogger })
  try {
    let sent = 0
    const entry = (correlationId: number) => ({ correlationId, apiKey: 0, apiName: 'Produce', apiVersion: 7, resolve: () => {}, reject: () => {} })
    q.push({ entry: entry(1), expectResponse: true, sendRequest: () => sent++ })
    assert.equal(sent, 1)
    q.fulfillRequest({ correlationId: 1, payload: null, size: 0 })
    // Nothing pending: no check is scheduled (unpatched: a timer with a negative delay, re-armed forever).
    assert.equal(q.throttleCheckTimeoutId, null)
    await new Promise((r) => setTimeout(r, 20))
    assert.equal(q.throttleCheckTimeoutId, null)

    // A request that has to wait for a broker's throttle is still sent when the throttle ends.
    q.maybeThrottle(30)
    q.push({ entry: entry(2), expectResponse: true, sendRequest: () => sent++ })
    assert.equal(sent, 1, 'held back while throttled')
    assert.notEqual(q.throttleCheckTimeoutId, null)
    const until = Date.now() + 2000
    while (sent < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 5))
    assert.equal(sent, 2, 'sent once the throttle ended')
  } finally {
    q.destroy()
  }
})

type ProduceArgs = { topicData: { topic: string; partitions: { partition: number; messages: unknown[] }[] }[] }
const sendMessages = require('kafkajs/src/producer/sendMessages.js') as (o: Record<string, unknown>) => (a: Record<string, unknown>) => Promise<{ topicName: string; partition: number }[]>
const createRetry = require('kafkajs/src/retry/index.js') as (o: Record<string, unknown>) => unknown

test('kafkajs patch: a retry after a leader change re-sends the partition that moved to a broker which had already answered (kafkajs #1303)', async () => {
  // Partition 0 led by broker 1, partition 1 by broker 2. Broker 1 fails (it lost leadership); on
  // the refreshed metadata broker 2 leads both. Unpatched, broker 2 had already answered, so the
  // retry skipped it and send() resolved without ever writing partition 0.
  let leaders: Record<number, number> = { 0: 1, 1: 2 }
  const written: string[] = []
  const broker = (nodeId: number) => ({
    nodeId,
    produce: async ({ topicData }: ProduceArgs) => {
      if (nodeId === 1) throw Object.assign(new Error('connection to broker 1 lost'), { name: 'KafkaJSConnectionError', retriable: true })
      for (const t of topicData) for (const p of t.partitions) written.push(`${t.topic}/${p.partition} @${nodeId}: ${p.messages.length}`)
      return { topics: topicData.map((t) => ({ topicName: t.topic, partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode: 0, baseOffset: '0', logAppendTime: '-1', logStartOffset: '0' })) })) }
    },
  })
  const brokers = new Map([[1, broker(1)], [2, broker(2)]])
  const cluster = {
    targetTopics: new Set<string>(),
    refreshMetadataIfNecessary: async () => {},
    refreshMetadata: async () => { leaders = { 0: 2, 1: 2 } },
    addMultipleTargetTopics: async () => {},
    isConnected: () => true,
    findTopicPartitionMetadata: () => [0, 1].map((p) => ({ partitionId: p, leader: leaders[p] })),
    findLeaderForPartitions: (_t: string, partitions: string[]) => {
      const out: Record<number, number[]> = {}
      for (const p of partitions.map(Number)) (out[leaders[p]!] ??= []).push(p)
      return out
    },
    findBroker: async ({ nodeId }: { nodeId: number }) => brokers.get(Number(nodeId)),
  }
  const eosManager = {
    isTransactional: () => false, getSequence: () => 0, updateSequence: () => {}, getProducerId: () => -1, getProducerEpoch: () => 0,
    acquireBrokerLock: async () => {}, releaseBrokerLock: async () => {},
  }
  const send = sendMessages({ logger: quietLogger, cluster, partitioner: ({ message }: { message: { partition: number } }) => message.partition, eosManager, retrier: createRetry({ initialRetryTime: 1, maxRetryTime: 5, retries: 3 }) })
  const acks = await send({ acks: -1, timeout: 1000, topicMessages: [{ topic: 't', messages: [{ value: 'a', partition: 0 }, { value: 'b', partition: 1 }, { value: 'c', partition: 0 }] }] })
  assert.deepEqual(written.sort(), ['t/0 @2: 2', 't/1 @2: 1'], 'partition 0 re-sent to its new leader; partition 1 not sent twice')
  assert.deepEqual(acks.map((a) => `${a.topicName}/${a.partition}`).sort(), ['t/0', 't/1'])
})
