/**
 * `bedside-hub cloud migrate|run [--config FILE] [--kafka HOST:PORT,…] [--cassandra HOST:PORT,…]
 *  [--http HOST:PORT] [--group ID]`
 * The cloud tier's own command; it shares only proto/ with the agent.
 * `run` stops gracefully on SIGTERM/SIGINT (in-flight writes finish and are committed). A consumer
 * that kafkajs gives up on is replaced inside the process (writer.ts), so a long broker outage
 * needs no supervisor; the process exits 1 only if the writer stops by itself.
 */
import { parseArgs } from 'node:util'
import { pino, type Logger } from 'pino'
import { createWriterKafka } from './kafka.js'
import { loadCloudConfig, parseCloudConfig, type CloudConfig } from './config.js'
import { OpsServer } from './http.js'
import { migrateCql, migrateTopics, schemaOptions } from './migrate.js'
import { createCqlClient } from './sink.js'
import { CloudWriter } from './writer.js'

const USAGE = 'usage: bedside-hub cloud migrate|run [--config FILE] [--kafka HOST:PORT,…] [--cassandra HOST:PORT,…] [--http HOST:PORT] [--group ID]\n'

interface Flags { config?: string; kafka?: string; cassandra?: string; http?: string; group?: string }

function configFrom(values: Flags): CloudConfig {
  const cfg = values.config
    ? loadCloudConfig(values.config)
    : parseCloudConfig({ kafka: { brokers: values.kafka?.split(',') ?? [] }, cassandra: { contact_points: values.cassandra?.split(',') ?? [] } }, '(flags --kafka/--cassandra)')
  // Flags override the file, so several writers can share one config file on one host.
  if (values.http) cfg.http.listen = values.http
  if (values.group) cfg.kafka.group_id = values.group
  if (values.config && values.kafka) cfg.kafka.brokers = values.kafka.split(',')
  if (values.config && values.cassandra) cfg.cassandra.contact_points = values.cassandra.split(',')
  return cfg
}

export async function main(argv: string[]): Promise<number> {
  const opts = { config: { type: 'string' }, kafka: { type: 'string' }, cassandra: { type: 'string' }, http: { type: 'string' }, group: { type: 'string' } } as const
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: opts })
  const sub = positionals[0]
  if (sub !== 'migrate' && sub !== 'run') {
    process.stderr.write(USAGE)
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
  return sub === 'migrate' ? migrate(cfg, log) : run(cfg, log)
}

async function migrate(cfg: CloudConfig, log: Logger): Promise<number> {
  const kafka = createWriterKafka(cfg.kafka.brokers, cfg.kafka.client_id, log)
  const cql = createCqlClient(cfg)
  try {
    const versions = await migrateCql(cql, schemaOptions(cfg))
    const topics = await migrateTopics(kafka, cfg)
    process.stdout.write(`migrated: CQL versions [${versions.join(', ')}] applied, topics created [${topics.join(', ')}]\n`)
    return 0
  } finally {
    await cql.shutdown()
  }
}

async function run(cfg: CloudConfig, log: Logger): Promise<number> {
  const kafka = createWriterKafka(cfg.kafka.brokers, cfg.kafka.client_id, log)
  const cql = createCqlClient(cfg)
  const writer = new CloudWriter(kafka, cql, cfg, log)
  const ops = new OpsServer({ registry: writer.metrics.registry, live: () => writer.live(), ready: () => writer.ready() })
  const startup = ops.start(cfg.http.listen).then(async (port) => {
    log.info({ event: 'http_listening', port }, 'metrics, healthz and readyz listening')
    await writer.start()
  })
  let stopping = false
  const stop = (code: number) => {
    if (stopping) return
    stopping = true
    // A signal during start-up waits for start() to settle, so that no half-joined member lingers.
    void startup.catch(() => undefined).then(() => writer.stop()).then(() => ops.stop()).then(() => cql.shutdown()).then(() => process.exit(code), (err: Error) => {
      log.error({ event: 'stop_failed', err: err.message }, 'graceful stop failed')
      process.exit(1)
    })
  }
  process.on('SIGINT', () => stop(0))
  process.on('SIGTERM', () => stop(0))
  try {
    await startup
  } catch (err) {
    log.error({ event: 'start_failed', err: (err as Error).message }, 'cloud writer failed to start')
    stop(1)
    return -1
  }
  const poll = setInterval(() => {
    if (!writer.live().ok) stop(1)
  }, 1000)
  poll.unref()
  return -1
}
