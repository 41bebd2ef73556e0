/**
 * Sends messages the writer cannot store to `dead-letter`, unchanged, with why and where from in
 * headers (docs/analytics.md, "dead-letter"): the partition then moves on (DESIGN.md "Malformed
 * input never stops a pipeline"). Each reason is logged once, then only counted.
 */
import type { KafkaMessage, Producer } from 'kafkajs'
import type { Logger } from 'pino'
import type { WriterMetrics } from './metrics.js'
import type { InvalidMessage } from './validate.js'

export interface DeadMessage { readonly message: KafkaMessage; readonly error: InvalidMessage }

export class DeadLetter {
  private readonly loggedReasons = new Set<string>()

  constructor(
    private readonly producer: Producer,
    private readonly topic: string,
    private readonly metrics: WriterMetrics,
    private readonly log: Logger,
  ) {}

  /** Resolves once the dead-letter topic acknowledged them all (acks=all); throws otherwise. */
  async send(sourceTopic: string, partition: number, dead: readonly DeadMessage[]): Promise<void> {
    await this.producer.send({
      topic: this.topic,
      acks: -1,
      messages: dead.map(({ message, error }) => ({
        key: message.key ?? `${sourceTopic}/${partition}`,
        value: message.value,
        headers: {
          'bedside-reason': error.reason,
          'bedside-detail': error.message.slice(0, 500),
          'bedside-source-topic': sourceTopic,
          'bedside-source-partition': String(partition),
          'bedside-source-offset': message.offset,
        },
      })),
    })
    for (const { message, error } of dead) {
      this.metrics.deadLettered.inc({ reason: error.reason })
      if (this.loggedReasons.has(error.reason)) continue
      this.loggedReasons.add(error.reason)
      this.log.warn({ event: 'dead_lettered', topic: sourceTopic, partition, offset: message.offset, reason: error.reason, detail: error.message }, 'message sent to dead-letter (first of this reason; the rest are counted in bedside_cloud_dead_lettered_total)')
    }
  }
}
