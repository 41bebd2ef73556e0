/**
 * kafkajs client for the cloud writer. Kept apart from the agent's (cloud/ shares only proto/ with
 * agent/): the writer lets kafkajs retry longer, since a consumer group rebalances around failures.
 */
import { Kafka, logLevel, type LogEntry } from 'kafkajs'
import type { Logger } from 'pino'

export function createWriterKafka(brokers: readonly string[], clientId: string, log: Logger): Kafka {
  const klog = log.child({ component: 'kafkajs' })
  return new Kafka({
    clientId,
    brokers: [...brokers],
    connectionTimeout: 5000,
    retry: { retries: 8, initialRetryTime: 300, maxRetryTime: 10_000 },
    logLevel: logLevel.WARN,
    logCreator: () => ({ level, log: { message, ...extra }, namespace }: LogEntry) => {
      if (level === logLevel.ERROR) klog.error({ ...extra, namespace }, message)
      else klog.warn({ ...extra, namespace }, message)
    },
  })
}
