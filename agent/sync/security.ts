/**
 * Kafka transport security from the YAML (`cloud.kafka.ssl`, `cloud.kafka.sasl`): TLS that verifies
 * the broker against the configured CA (never `rejectUnauthorized: false`), an optional client
 * certificate, and SASL/SCRAM-SHA-512. Files are read once at start; a missing file is a start error
 * naming the file.
 */
import { readFileSync } from 'node:fs'
import type { KafkaConfig, SASLOptions } from 'kafkajs'
import type { Config } from '../config.js'
import { secretFileProblem } from '../secrets/permissions.js'

type KafkaSection = NonNullable<Config['cloud']>['kafka']

export class KafkaSecurityError extends Error {
  readonly code = 'BEDSIDE_ERR_KAFKA_SECURITY'
  constructor(message: string) {
    super(message)
    this.name = 'KafkaSecurityError'
  }
}

/** Issue 18: a password or private key file readable by others is refused, as the config is. */
function readSecretFile(what: string, file: string): string {
  const open = secretFileProblem(file, `cloud.kafka.${what}`)
  if (open) throw new KafkaSecurityError(open.message)
  return readFile(what, file)
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
      ...(k.ssl.key_file ? { key: readSecretFile('ssl.key_file', k.ssl.key_file) } : {}),
      ...(k.ssl.servername ? { servername: k.ssl.servername } : {}),
    }
  }
  if (k.sasl) {
    // Issue 18: the config schema refuses sasl without ssl unless allow_plaintext_sasl; checked
    // again here for configs built in code (parseConfig is the only door, but this is the socket).
    if (!k.ssl && !k.allow_plaintext_sasl) throw new KafkaSecurityError('cloud.kafka.sasl: SASL without TLS is refused; add cloud.kafka.ssl, or set cloud.kafka.allow_plaintext_sasl: true')
    const password = k.sasl.password ?? readSecretFile('sasl.password_file', k.sasl.password_file!).trim()
    out.sasl = { mechanism: 'scram-sha-512', username: k.sasl.username, password }
  }
  return out
}
