/**
 * The cloud writer: a Kafka consumer group over the agent topics that decodes each Envelope and
 * writes it into Cassandra/ScyllaDB, committing offsets only after the rows are written.
 * An undecodable or invalid message goes to the dead-letter topic with the reason and its source
 * offset, and the partition moves on. A failing write throws out of the batch: kafkajs restarts
 * from the last committed offset, and the idempotent primary key absorbs the re-writes.
 */
import cassandra from 'cassandra-driver'
import type { Consumer, EachBatchPayload, Kafka, Producer } from 'kafkajs'
import type { Logger } from 'pino'
import { decodeEnvelope } from '../proto/codec.js'
import type { CloudConfig } from './config.js'
import { insertStatements, toWrite, type CqlWrite, type InsertStatements } from './rows.js'

export interface WriterStats {
  written: number
  deadLettered: number
  batches: number
}

export class CloudWriter {
  private consumer: Consumer | null = null
  private producer: Producer | null = null
  private readonly statements: InsertStatements
  readonly stats: WriterStats = { written: 0, deadLettered: 0, batches: 0 }

  constructor(
    private readonly kafka: Kafka,
    private readonly cql: cassandra.Client,
    private readonly cfg: CloudConfig,
    private readonly log: Logger,
  ) {
    this.statements = insertStatements(cfg.cassandra.keyspace)
  }

  private get sourceTopics(): string[] {
    const t = this.cfg.kafka.topics
    return [t.raw_vitals.name, t.alert_events.name, t.waveforms.name, t.audit_log.name]
  }

  async start(): Promise<void> {
    this.producer = this.kafka.producer({ allowAutoTopicCreation: false })
    await this.producer.connect()
    const consumer = this.kafka.consumer({ groupId: this.cfg.kafka.group_id, sessionTimeout: 30_000, heartbeatInterval: 3000 })
    this.consumer = consumer
    await consumer.connect()
    await consumer.subscribe({ topics: this.sourceTopics, fromBeginning: true })
    await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, partitionsConsumedConcurrently: 2, eachBatch: (p) => this.onBatch(p) })
    this.log.info({ event: 'writer_started', topics: this.sourceTopics, group: this.cfg.kafka.group_id }, 'cloud writer consuming')
  }

  private async onBatch({ batch, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    if (batch.messages.length === 0 || !isRunning() || isStale()) return
    const writes: CqlWrite[] = []
    const dead: { value: Buffer | null; reason: string; offset: string }[] = []
    for (const m of batch.messages) {
      try {
        if (!m.value) throw new Error('empty message value')
        writes.push(toWrite(decodeEnvelope(m.value), this.statements))
      } catch (err) {
        dead.push({ value: m.value, reason: (err as Error).message, offset: m.offset })
      }
    }
    if (writes.length > 0) {
      await cassandra.concurrent.executeConcurrent(this.cql, writes.map((w) => ({ query: w.query, params: w.params })), {
        concurrencyLevel: this.cfg.cassandra.concurrency,
        executionProfile: undefined,
        raiseOnFirstError: true,
      })
    }
    if (dead.length > 0) await this.deadLetter(batch.topic, batch.partition, dead)
    const last = batch.messages[batch.messages.length - 1]!.offset
    await this.consumer!.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(last) + 1n).toString() }])
    this.stats.written += writes.length
    this.stats.batches++
    await heartbeat()
  }

  private async deadLetter(topic: string, partition: number, dead: { value: Buffer | null; reason: string; offset: string }[]): Promise<void> {
    await this.producer!.send({
      topic: this.cfg.kafka.topics.dead_letter.name,
      acks: -1,
      messages: dead.map((d) => ({
        key: `${topic}/${partition}`,
        value: d.value,
        headers: { 'bedside-reason': d.reason, 'bedside-source-topic': topic, 'bedside-source-partition': String(partition), 'bedside-source-offset': d.offset },
      })),
    })
    this.stats.deadLettered += dead.length
    for (const d of dead) this.log.warn({ event: 'dead_lettered', topic, partition, offset: d.offset, reason: d.reason }, 'message sent to dead-letter')
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect()
    await this.producer?.disconnect()
  }
}

export function createCqlClient(cfg: CloudConfig): cassandra.Client {
  return new cassandra.Client({
    contactPoints: cfg.cassandra.contact_points,
    localDataCenter: cfg.cassandra.local_datacenter,
    queryOptions: { prepare: true, consistency: cassandra.types.consistencies.localQuorum },
    pooling: { coreConnectionsPerHost: { [cassandra.types.distance.local]: 2 } },
  })
}
