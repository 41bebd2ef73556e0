/** Reads messages of some topics from the beginning (raw bytes), for byte-level assertions. */
import { Kafka, logLevel, type KafkaMessage } from 'kafkajs'
import { kafkaBrokers } from './services.js'

export interface RawMessage { topic: string; key: Buffer | null; value: Buffer | null; headers: Buffer[] }

/** Consumes `topics` from the beginning with a fresh group until `expected` messages arrived. */
export async function consumeFromStart(kafka: Kafka, topics: string[], expected: number, timeoutMs: number): Promise<{ topic: string; message: KafkaMessage }[]> {
  const out: { topic: string; message: KafkaMessage }[] = []
  if (expected === 0) return out
  const consumer = kafka.consumer({ groupId: `scan-${Date.now()}-${Math.random()}` })
  await consumer.connect()
  await consumer.subscribe({ topics, fromBeginning: true })
  const done = new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`read ${out.length} of ${expected} messages of ${topics.join(', ')} in ${timeoutMs} ms`)), timeoutMs)
    void consumer.run({
      eachMessage: async ({ topic, message }) => {
        out.push({ topic, message })
        if (out.length >= expected) {
          clearTimeout(t)
          resolve()
        }
      },
    })
  })
  try {
    await done
  } finally {
    await consumer.disconnect()
  }
  return out
}

/** Every message currently in `topics` (the count comes from their offsets). */
export async function readAllMessages(topics: string[], timeoutMs = 60_000): Promise<RawMessage[]> {
  const kafka = new Kafka({ clientId: 'test-scan', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING })
  const admin = kafka.admin()
  await admin.connect()
  let expected = 0
  for (const t of topics) for (const p of await admin.fetchTopicOffsets(t)) expected += Number(p.high) - Number(p.low)
  await admin.disconnect()
  return (await consumeFromStart(kafka, topics, expected, timeoutMs)).map(({ topic, message }) => ({
    topic,
    key: message.key,
    value: message.value,
    headers: Object.values(message.headers ?? {}).flatMap((h) => (h === undefined ? [] : Array.isArray(h) ? h.map((x) => Buffer.from(x)) : [Buffer.from(h)])),
  }))
}
