/**
 * `bedside-hub cloud migrate|run [--config FILE] [--kafka HOST:PORT,…] [--cassandra HOST:PORT,…]`
 * The cloud tier's own command; it shares only proto/ with the agent.
 */
import { parseArgs } from 'node:util'
import { pino } from 'pino'
import { createWriterKafka } from './kafka.js'
import { loadCloudConfig, parseCloudConfig, type CloudConfig } from './config.js'
import { migrateCql, migrateTopics, schemaOptions } from './migrate.js'
import { CloudWriter, createCqlClient } from './writer.js'

function configFrom(values: { config?: string; kafka?: string; cassandra?: string }): CloudConfig {
  if (values.config) return loadCloudConfig(values.config)
  return parseCloudConfig({ kafka: { brokers: values.kafka?.split(',') ?? [] }, cassandra: { contact_points: values.cassandra?.split(',') ?? [] } }, '(flags --kafka/--cassandra)')
}

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { config: { type: 'string' }, kafka: { type: 'string' }, cassandra: { type: 'string' } } })
  const sub = positionals[0]
  if (sub !== 'migrate' && sub !== 'run') {
    process.stderr.write('usage: bedside-hub cloud migrate|run [--config FILE] [--kafka HOST:PORT,…] [--cassandra HOST:PORT,…]\n')
    return 2
  }
  let cfg: CloudConfig
  try {
    cfg = configFrom(values)
  } catch (err) {
    process.stderr.write(`bedside-hub cloud: ${(err as Error).message}\n`)
    return 2
  }
  const log = pino({ level: cfg.log.level, base: { component: 'cloud-writer' } })
  const kafka = createWriterKafka(cfg.kafka.brokers, cfg.kafka.client_id, log)
  const cql = createCqlClient(cfg)
  if (sub === 'migrate') {
    try {
      const versions = await migrateCql(cql, schemaOptions(cfg))
      const topics = await migrateTopics(kafka, cfg)
      process.stdout.write(`migrated: CQL versions [${versions.join(', ')}] applied, topics created [${topics.join(', ')}]\n`)
      return 0
    } finally {
      await cql.shutdown()
    }
  }
  const writer = new CloudWriter(kafka, cql, cfg, log)
  await writer.start()
  const stop = () => void writer.stop().then(() => cql.shutdown()).then(() => process.exit(0))
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
  return -1
}
