/**
 * Writes CQL requests to Cassandra/ScyllaDB: prepared statements (routed token-aware by the
 * driver from the partition key), at most `concurrency` requests in flight for the process, and
 * retries with exponential backoff. The sink reports; the writer decides (pause the partition).
 *
 * On a replicated cluster (docs/cluster.md): writes at `consistency` (LOCAL_QUORUM by default), and
 * every request is marked idempotent. That is true here, and it is what makes retries and
 * speculative execution safe: each row's primary key ends with (hub_id, hub_seq) and its write
 * timestamp comes from the event (rows.ts, USING TIMESTAMP), so a write applied twice, or by two
 * coordinators at once, leaves the same cells with the same timestamp.
 */
import cassandra from 'cassandra-driver'
import { cqlPortOf, type CloudConfig } from './config.js'
import type { CqlRequest } from './batches.js'
import { Limiter } from './limiter.js'
import type { WriterMetrics } from './metrics.js'

export type SinkResult = { kind: 'ok' } | { kind: 'retry'; cause: Error; attempts: number }

export interface RetryHooks {
  /** False once the consumer stops or the partition is revoked: stop retrying. */
  isRunning(): boolean
  /** Keeps the group membership alive during backoff. */
  heartbeat(): Promise<void>
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/**
 * How often a batch being written offers kafkajs a heartbeat (kafkajs sends one only when its
 * heartbeat_interval has passed). kafkajs heartbeats from its fetch loop, which waits while
 * eachBatch runs: a batch whose writes outlast session_timeout_ms (a full 1 MB fetch caught up
 * after an outage, on a loaded cluster) got the writer evicted from its group, its offsets refused,
 * the batch re-delivered and written again, over and over (the 600 s outage of the cluster faults).
 */
const HEARTBEAT_EVERY_MS = 500

export class CqlSink {
  private readonly limiter: Limiter
  private readonly batchOptions: cassandra.QueryOptions
  private readonly rowOptions: cassandra.QueryOptions

  constructor(
    private readonly client: cassandra.Client,
    private readonly cfg: CloudConfig['cassandra'],
    private readonly metrics: WriterMetrics,
  ) {
    this.limiter = new Limiter(cfg.concurrency)
    const consistency = consistencyOf(cfg.consistency)
    this.rowOptions = { prepare: true, isIdempotent: true, consistency }
    this.batchOptions = { prepare: true, logged: false, isIdempotent: true, consistency }
  }

  /** Writes every request; failed ones are retried up to `write_attempts` in all. */
  async write(requests: readonly CqlRequest[], hooks: RetryHooks): Promise<SinkResult> {
    // A rebalance or a stopped consumer makes heartbeat() throw. Ignoring it loses nothing: if this
    // member's generation is over, the coordinator refuses the batch's offset commit and the
    // partition's next owner reads the batch again (the rows are idempotent).
    const beat = setInterval(() => void hooks.heartbeat().catch(() => undefined), HEARTBEAT_EVERY_MS)
    try {
      return await this.writeWithRetries(requests, hooks)
    } finally {
      clearInterval(beat)
    }
  }

  private async writeWithRetries(requests: readonly CqlRequest[], hooks: RetryHooks): Promise<SinkResult> {
    let pending = requests
    let backoffMs = this.cfg.retry_initial_ms
    for (let attempt = 1; ; attempt++) {
      const failed = await this.writeOnce(pending)
      if (failed.requests.length === 0) return { kind: 'ok' }
      if (attempt >= this.cfg.write_attempts || !hooks.isRunning()) return { kind: 'retry', cause: failed.cause!, attempts: attempt }
      this.metrics.writeRetries.inc(failed.requests.length)
      await sleep(backoffMs)
      backoffMs = Math.min(backoffMs * 2, this.cfg.retry_max_ms)
      await hooks.heartbeat()
      pending = failed.requests
    }
  }

  private async writeOnce(requests: readonly CqlRequest[]): Promise<{ requests: CqlRequest[]; cause: Error | null }> {
    const failed: CqlRequest[] = []
    let cause: Error | null = null
    await Promise.all(requests.map(async (req) => {
      await this.limiter.acquire()
      try {
        await this.execute(req)
      } catch (err) {
        failed.push(req)
        cause ??= err as Error
      } finally {
        this.limiter.release()
      }
    }))
    return { requests: failed, cause }
  }

  private async execute(req: CqlRequest): Promise<void> {
    const t0 = process.hrtime.bigint()
    const rows = req.rows
    if (rows.length === 1) await this.client.execute(rows[0]!.query, rows[0]!.params, this.rowOptions)
    else await this.client.batch(rows.map((r) => ({ query: r.query, params: r.params })), this.batchOptions)
    this.metrics.writeLatency.observe(Number(process.hrtime.bigint() - t0) / 1e9)
    this.metrics.rows.inc({ table: rows[0]!.table }, rows.length) // one request = one partition = one table
  }
}

const CONSISTENCIES = {
  one: cassandra.types.consistencies.one,
  local_one: cassandra.types.consistencies.localOne,
  quorum: cassandra.types.consistencies.quorum,
  local_quorum: cassandra.types.consistencies.localQuorum,
  each_quorum: cassandra.types.consistencies.eachQuorum,
  all: cassandra.types.consistencies.all,
} as const

export function consistencyOf(name: CloudConfig['cassandra']['consistency']): cassandra.types.consistencies {
  return CONSISTENCIES[name]
}

/** The longest wait between attempts to reach a Cassandra/Scylla node that is down. */
export const RECONNECT_MAX_MS = 10_000

export function createCqlClient(cfg: CloudConfig): cassandra.Client {
  const c = cfg.cassandra
  // The contact points' port for the discovered nodes too (cqlPortOf: the driver would use 9042).
  const port = cqlPortOf(c.contact_points[0]!)
  const { TokenAwarePolicy, DCAwareRoundRobinPolicy } = cassandra.policies.loadBalancing
  const { ConstantSpeculativeExecutionPolicy, NoSpeculativeExecutionPolicy } = cassandra.policies.speculativeExecution
  return new cassandra.Client({
    contactPoints: c.contact_points,
    localDataCenter: c.local_datacenter,
    // Token-aware: each prepared insert (and single-partition batch) goes to a replica of its
    // partition, saving the coordinator hop.
    // Speculative execution applies only to requests marked idempotent (all of the sink's).
    policies: {
      loadBalancing: new TokenAwarePolicy(new DCAwareRoundRobinPolicy(c.local_datacenter)),
      // Back to a node that was down within 10 s of its return. The driver's default backs off
      // exponentially to 10 minutes: after a whole-cloud outage a writer sat on its paused
      // partitions for 14 minutes with the ring healthy again (test:cluster, issue 22).
      reconnection: new cassandra.policies.reconnection.ExponentialReconnectionPolicy(500, RECONNECT_MAX_MS, false),
      speculativeExecution: c.speculative_delay_ms > 0 ? new ConstantSpeculativeExecutionPolicy(c.speculative_delay_ms, c.speculative_executions) : new NoSpeculativeExecutionPolicy(),
    },
    ...(port !== undefined ? { protocolOptions: { port } } : {}),
    queryOptions: { prepare: true, consistency: consistencyOf(c.consistency) },
    socketOptions: { readTimeout: c.request_timeout_ms },
    pooling: { coreConnectionsPerHost: { [cassandra.types.distance.local]: 2 } },
  })
}
