/**
 * Proves the real services from scripts/services/services.sh work with the clients the agent
 * uses: kafkajs 2.2.4 (idempotent producer, GZIP, consumer group, broker outage) and
 * cassandra-driver 4 (schema, insert, select). Needs the services running and their env:
 *   scripts/services/services.sh start all && eval "$(scripts/services/services.sh env)"
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import cassandra from 'cassandra-driver'
import kafkajs from 'kafkajs'
import type { Consumer, KafkaMessage, Producer } from 'kafkajs'
import {
  SERVICES_SCRIPT,
  ServicesError,
  cassandraContact,
  kafkaBrokers,
  startKafka,
  stopKafka,
} from '../support/services.js'

const { CompressionTypes, Kafka, logLevel } = kafkajs

const BATCH_SIZE = 200
const READ_TIMEOUT_MS = 30_000

function newKafka(): InstanceType<typeof Kafka> {
  return new Kafka({
    clientId: `services-test-${process.pid}`,
    brokers: kafkaBrokers(),
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2000,
    // Generous retries so a send issued during the outage test outlives a broker restart.
    retry: { retries: 12, initialRetryTime: 300, maxRetryTime: 4000 },
  })
}

function idempotentProducer(kafka: InstanceType<typeof Kafka>): Producer {
  return kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
}

async function createTopic(kafka: InstanceType<typeof Kafka>, partitions: number): Promise<string> {
  const topic = `services-test-${randomUUID()}`
  const admin = kafka.admin()
  await admin.connect()
  try {
    const created = await admin.createTopics({
      topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }],
      waitForLeaders: true,
    })
    assert.equal(created, true)
  } finally {
    await admin.disconnect()
  }
  return topic
}

/** Reads `count` messages of `topic` from the beginning through a fresh consumer group. */
async function readAll(kafka: InstanceType<typeof Kafka>, topic: string, count: number): Promise<KafkaMessage[]> {
  const consumer: Consumer = kafka.consumer({ groupId: `services-test-${randomUUID()}` })
  const messages: KafkaMessage[] = []
  await consumer.connect()
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`read ${messages.length} of ${count} messages in ${READ_TIMEOUT_MS} ms`)),
        READ_TIMEOUT_MS,
      )
      consumer
        .run({
          eachMessage: async ({ message }) => {
            messages.push(message)
            if (messages.length >= count) {
              clearTimeout(timer)
              resolve()
            }
          },
        })
        .catch(reject)
    })
  } finally {
    await consumer.disconnect()
  }
  return messages
}

describe('services: script and helper', () => {
  test('services: env prints the addresses this suite runs against', () => {
    const printed = execFileSync('bash', [SERVICES_SCRIPT, 'env'], { encoding: 'utf8' })
    assert.match(printed, /^export KAFKA_BROKERS=127\.0\.0\.1:\d+$/m)
    assert.ok(printed.includes(`export KAFKA_BROKERS=${kafkaBrokers().join(',')}\n`))
    assert.ok(printed.includes(`export CASSANDRA_CONTACT=${cassandraContact()}\n`))
  })

  test('services: helper names the missing variable and how to set it', () => {
    const saved = process.env.KAFKA_BROKERS
    delete process.env.KAFKA_BROKERS
    try {
      assert.throws(
        () => kafkaBrokers(),
        (err: unknown) =>
          err instanceof ServicesError &&
          err.code === 'SERVICES_ENV_MISSING' &&
          err.message.includes('KAFKA_BROKERS') &&
          err.message.includes('services.sh env'),
      )
    } finally {
      process.env.KAFKA_BROKERS = saved
    }
  })
})

describe('services: kafka', () => {
  const kafka = newKafka()

  test('services: admin creates a topic with the requested partitions', async () => {
    const topic = await createTopic(kafka, 3)
    const admin = kafka.admin()
    await admin.connect()
    try {
      const meta = await admin.fetchTopicMetadata({ topics: [topic] })
      assert.equal(meta.topics[0].partitions.length, 3)
      for (const p of meta.topics[0].partitions) assert.equal(p.leader, 1)
    } finally {
      await admin.disconnect()
    }
  })

  test('services: idempotent gzip producer batch is read back in order by a consumer group', async () => {
    const topic = await createTopic(kafka, 1)
    const producer = idempotentProducer(kafka)
    await producer.connect()
    try {
      const messages = Array.from({ length: BATCH_SIZE }, (_, i) => ({ key: `bed-${i % 8}`, value: `reading-${i}` }))
      const acks = await producer.send({ topic, acks: -1, compression: CompressionTypes.GZIP, messages })
      assert.equal(acks[0].errorCode, 0)
      assert.equal(acks[0].baseOffset, '0')
    } finally {
      await producer.disconnect()
    }
    const read = await readAll(kafka, topic, BATCH_SIZE)
    assert.deepEqual(
      read.map((m) => m.value?.toString()),
      Array.from({ length: BATCH_SIZE }, (_, i) => `reading-${i}`),
    )
    assert.equal(read[9].key?.toString(), 'bed-1')
  })

  test('services: producer recovers when kafka stops and restarts on the same port', async () => {
    const topic = await createTopic(kafka, 1)
    const producer = idempotentProducer(kafka)
    await producer.connect()
    try {
      await producer.send({ topic, acks: -1, compression: CompressionTypes.GZIP, messages: [{ value: 'before' }] })
      await stopKafka()
      // Issued while the broker is down: kafkajs retries until the restarted broker answers.
      const during = producer.send({ topic, acks: -1, compression: CompressionTypes.GZIP, messages: [{ value: 'during' }] })
      await startKafka()
      const acks = await during
      assert.equal(acks[0].errorCode, 0)
      await producer.send({ topic, acks: -1, compression: CompressionTypes.GZIP, messages: [{ value: 'after' }] })
    } finally {
      await producer.disconnect()
    }
    // Data from before the outage survived it, and the idempotent sequence carried on with no duplicate.
    const read = await readAll(kafka, topic, 3)
    assert.deepEqual(
      read.map((m) => m.value?.toString()),
      ['before', 'during', 'after'],
    )
  })
})

describe('services: cassandra', () => {
  const keyspace = `services_test_${randomUUID().replaceAll('-', '').slice(0, 12)}`
  let client: cassandra.Client

  before(async () => {
    client = new cassandra.Client({ contactPoints: [cassandraContact()], localDataCenter: 'datacenter1' })
    await client.connect()
  })

  after(async () => {
    await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`)
    await client.shutdown()
  })

  test('services: cql round trip creates a keyspace and table, inserts and selects', async () => {
    await client.execute(
      `CREATE KEYSPACE ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
    )
    await client.execute(
      `CREATE TABLE ${keyspace}.readings (bed text, at timestamp, hr int, PRIMARY KEY (bed, at))` +
        ' WITH CLUSTERING ORDER BY (at DESC) AND default_time_to_live = 3600',
    )
    const insert = `INSERT INTO ${keyspace}.readings (bed, at, hr) VALUES (?, ?, ?)`
    await client.execute(insert, ['bed-7', new Date(1_700_000_000_000), 72], { prepare: true })
    await client.execute(insert, ['bed-7', new Date(1_700_000_001_000), 75], { prepare: true })
    const result = await client.execute(`SELECT at, hr FROM ${keyspace}.readings WHERE bed = ?`, ['bed-7'], {
      prepare: true,
    })
    assert.deepEqual(
      result.rows.map((r) => [r.at.getTime(), r.hr]),
      [
        [1_700_000_001_000, 75],
        [1_700_000_000_000, 72],
      ],
    )
  })
})
