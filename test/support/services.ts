/**
 * Test access to the real Kafka and Cassandra that scripts/services/services.sh runs
 * (DESIGN.md "Real services for tests and local development").
 * The suite runner starts them and exports their addresses:
 *   eval "$(scripts/services/services.sh env)"
 * Integration tests read the addresses here, and outage tests stop/start Kafka in place:
 * the restarted broker keeps its port and its data.
 */
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const execFileAsync = promisify(execFile)

export const SERVICES_SCRIPT = fileURLToPath(new URL('../../scripts/services/services.sh', import.meta.url))

/** Kafka's readiness timeout in services.sh is 90 s; the stop grace is 30 s. Leave headroom. */
const SCRIPT_TIMEOUT_MS = 150_000

export type ServicesErrorCode = 'SERVICES_ENV_MISSING' | 'SERVICES_SCRIPT_FAILED'

export class ServicesError extends Error {
  constructor(
    readonly code: ServicesErrorCode,
    message: string,
  ) {
    super(message)
    this.name = 'ServicesError'
  }
}

function requireEnv(name: 'KAFKA_BROKERS' | 'CASSANDRA_CONTACT'): string {
  const value = process.env[name]?.trim()
  if (!value) {
    throw new ServicesError(
      'SERVICES_ENV_MISSING',
      `${name} is not set: start the real services first with ` +
        `\`scripts/services/services.sh start all && eval "$(scripts/services/services.sh env)"\``,
    )
  }
  return value
}

/** Broker list for kafkajs, from KAFKA_BROKERS (comma-separated host:port). */
export function kafkaBrokers(): string[] {
  return requireEnv('KAFKA_BROKERS')
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b.length > 0)
}

/** One CQL contact point `host:port` for cassandra-driver, from CASSANDRA_CONTACT. */
export function cassandraContact(): string {
  return requireEnv('CASSANDRA_CONTACT')
}

async function runServices(...args: string[]): Promise<void> {
  try {
    await execFileAsync('bash', [SERVICES_SCRIPT, ...args], {
      timeout: SCRIPT_TIMEOUT_MS,
      maxBuffer: 4 * 1024 * 1024,
    })
  } catch (err) {
    const detail = (err as { stderr?: string }).stderr?.trim() || (err as Error).message
    throw new ServicesError('SERVICES_SCRIPT_FAILED', `services.sh ${args.join(' ')} failed: ${detail}`)
  }
}

/** Stops the broker (SIGTERM, then SIGKILL after 30 s); resolves once its JVM is gone. */
export async function stopKafka(): Promise<void> {
  await runServices('stop', 'kafka')
}

/** Starts the broker on the same port with the same data; resolves once a metadata request succeeds. */
export async function startKafka(): Promise<void> {
  await runServices('start', 'kafka')
}

/**
 * The JVM pid of the Cassandra node at CASSANDRA_CONTACT (the single node of `services.sh`), for
 * tests that hang it with SIGSTOP: its sockets stay open and nothing answers.
 */
export async function cassandraPid(): Promise<number> {
  const { stdout } = await execFileAsync('bash', [SERVICES_SCRIPT, 'status'], { timeout: SCRIPT_TIMEOUT_MS })
  const m = /^cassandra: running pid (\d+) on (\S+)$/m.exec(stdout)
  if (!m || m[2] !== cassandraContact()) throw new ServicesError('SERVICES_SCRIPT_FAILED', `no running single-node Cassandra at CASSANDRA_CONTACT=${cassandraContact()}`)
  return Number(m[1])
}
