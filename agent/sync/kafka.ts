/**
 * kafkajs client construction shared by the agent's producer and the cloud writer: brokers,
 * client id, retries, and kafkajs' log lines routed into pino (kafkajs is chatty at INFO).
 */
import { Kafka, logLevel, type KafkaConfig, type LogEntry } from 'kafkajs'
import type { Logger } from 'pino'

export function createKafka(opts: { brokers: readonly string[]; clientId: string; log: Logger; ssl?: KafkaConfig['ssl']; sasl?: KafkaConfig['sasl'] }): Kafka {
  const log = opts.log.child({ component: 'kafkajs' })
  return new Kafka({
    clientId: opts.clientId,
    brokers: [...opts.brokers],
    ssl: opts.ssl,
    sasl: opts.sasl,
    connectionTimeout: 3000,
    requestTimeout: 30_000,
    // Our own loop owns retries (with backoff and jitter); kafkajs retries a little within a call.
    retry: { retries: 2, initialRetryTime: 200, maxRetryTime: 2000 },
    logLevel: logLevel.WARN,
    logCreator: () => (entry: LogEntry) => {
      const { message, ...extra } = entry.log
      const fields = { ...extra, namespace: entry.namespace }
      if (entry.level === logLevel.ERROR) log.error(fields, message)
      else log.warn(fields, message)
    },
  })
}
