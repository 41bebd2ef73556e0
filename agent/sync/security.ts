/**
 * Kafka transport security from the YAML (`cloud.kafka.ssl`, `cloud.kafka.sasl`): TLS that verifies
 * the broker against the configured CA (never `rejectUnauthorized: false`), an optional client
 * certificate, and SASL/SCRAM-SHA-512. Files are read once at start; a missing file is a start error
 * naming the file.
 */
import { readFileSync } from 'node:fs'
import type { KafkaConfig, SASLOptions } from 'kafkajs'
import type { Config } from '../config.js'

type KafkaSection = NonNullable<Config['cloud']>['kafka']

export class KafkaSecurityError extends Error {
  readonly code = 'BEDSIDE_ERR_KAFKA_SECURITY'
  constructor(message: string) {
    super(message)
    this.name = 'KafkaSecurityError'
  }
}

function readFile(what: string, file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch (err) {
    throw new KafkaSecurityError(`cloud.kafka: cannot read ${what} ${file}: ${(err as Error).message}`)
  }
}

export function kafkaSecurity(k: KafkaSection): { ssl?: KafkaConfig['ssl']; sasl?: SASLOptions } {
  const out: { ssl?: KafkaConfig['ssl']; sasl?: SASLOptions } = {}
  if (k.ssl) {
    out.ssl = {
      rejectUnauthorized: true,
      ca: [readFile('ssl.ca_file', k.ssl.ca_file)],
      ...(k.ssl.cert_file ? { cert: readFile('ssl.cert_file', k.ssl.cert_file) } : {}),
      ...(k.ssl.key_file ? { key: readFile('ssl.key_file', k.ssl.key_file) } : {}),
      ...(k.ssl.servername ? { servername: k.ssl.servername } : {}),
    }
  }
  if (k.sasl) {
    const password = k.sasl.password ?? readFile('sasl.password_file', k.sasl.password_file!).trim()
    out.sasl = { mechanism: 'scram-sha-512', username: k.sasl.username, password }
  }
  return out
}
