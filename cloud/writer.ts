/**
 * The cloud writer: one member of a Kafka consumer group over the agent topics. Two or more writer
 * processes with the same group_id share the partitions; when one dies, the group coordinator
 * hands its partitions to the others after `session_timeout_ms`, and they resume from the last
 * committed offset.
 *
 * Per batch (one topic partition): decode and check every Envelope (validate.ts), write the rows
 * (rows.ts → batches.ts → sink.ts), send the invalid ones to dead-letter, and only then resolve and
 * commit the batch's offsets. A crash between the writes and the commit re-delivers the batch to
 * whoever owns the partition next; the rows' primary keys end with (hub_id, hub_seq) and their
 * write timestamps come from the event, so the re-write changes nothing (exactly once in the table).
 *
 * A write that keeps failing pauses the partition (without resolving its offsets) for `pause_ms`,
 * doubling per consecutive pause up to 16×; on resume kafkajs fetches again from the last resolved
 * offset. Other partitions keep going.
 */
import type cassandra from 'cassandra-driver'
import { Partitioners, type Consumer, type EachBatchPayload, type Kafka, type Producer } from 'kafkajs'
import type { Logger } from 'pino'
import type { EnvelopeMsg } from '../proto/codec.js'
import { toRequests } from './batches.js'
import type { CloudConfig } from './config.js'
import { DeadLetter, type DeadMessage } from './deadletter.js'
import { LagMonitor } from './lag.js'
import { WriterMetrics } from './metrics.js'
import { insertStatements, toRows, type InsertStatements, type RowWrite } from './rows.js'
import { CqlSink } from './sink.js'
import { InvalidMessage, decodeChecked } from './validate.js'

export interface WriterOptions {
  /** Called after the rows of these envelopes are written (bench: end-to-end latency). */
  readonly onWritten?: (envelopes: readonly EnvelopeMsg[], writtenAtMs: number) => void
}

type Phase = 'idle' | 'starting' | 'joined' | 'restarting' | 'stopping' | 'stopped'

const MAX_PAUSE_DOUBLINGS = 4
/**
 * kafkajs restarts its consumer after a retriable crash, but gives up on a non-retriable one: after
 * a long broker outage its own restart meets brokers still down and crashes with "Broker not
 * connected" for good (the 600 s whole-cloud outage of test/cluster/faults.test.ts, about 45 s in).
 * Then the writer starts a new consumer itself, 1 s later, doubling to 10 s while it fails, for as
 * long as the outage lasts: nothing is lost meanwhile (offsets are committed after the writes), and
 * a writer that waits needs no supervisor to come back, unlike one that exits.
 */
const RESTART_INITIAL_MS = 1000
const RESTART_MAX_MS = 10_000

export class CloudWriter {
  private consumer: Consumer | null = null
  private producer: Producer | null = null
  private deadLetter: DeadLetter | null = null
  private readonly statements: InsertStatements
  private readonly sink: CqlSink
  /** Consecutive pauses per partition (`topic/partition`), reset by a successful batch. */
  private readonly pauseStreaks = new Map<string, number>()
  private readonly paused = new Map<string, NodeJS.Timeout>()
  private lagMonitor: LagMonitor | null = null
  private phase: Phase = 'idle'
  private crashCause: string | null = null
  private restartTimer: NodeJS.Timeout | null = null
  /** Consecutive restarts without a group join in between (the back-off's exponent). */
  private restarts = 0

  constructor(
    private readonly kafka: Kafka,
    private readonly cql: cassandra.Client,
    private readonly cfg: CloudConfig,
    private readonly log: Logger,
    readonly metrics: WriterMetrics = new WriterMetrics(),
    private readonly opts: WriterOptions = {},
  ) {
    this.statements = insertStatements(cfg.cassandra.keyspace)
    this.sink = new CqlSink(cql, cfg.cassandra, this.metrics)
  }

  get sourceTopics(): string[] {
    const t = this.cfg.kafka.topics
    return [t.raw_vitals.name, t.alert_events.name, t.waveforms.name, t.audit_log.name]
  }

  /** Connects, joins the group and starts consuming; resolves once consumption is scheduled. */
  async start(): Promise<void> {
    this.phase = 'starting'
    await this.cql.connect()
    this.producer = this.kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner })
    await this.producer.connect()
    this.deadLetter = new DeadLetter(this.producer, this.cfg.kafka.topics.dead_letter.name, this.metrics, this.log)
    const k = this.cfg.kafka
    this.lagMonitor = new LagMonitor(this.kafka, k.group_id, this.metrics, this.log, k.lag_interval_ms, this.sourceTopics)
    await this.lagMonitor.start()
    await this.runConsumer()
    this.log.info({ event: 'writer_started', topics: this.sourceTopics, group: k.group_id }, 'cloud writer consuming')
  }

  /** A new group member: connects, subscribes and starts fetching from the committed offsets. */
  private async runConsumer(): Promise<void> {
    const k = this.cfg.kafka
    const consumer = this.kafka.consumer({ groupId: k.group_id, sessionTimeout: k.session_timeout_ms, heartbeatInterval: k.heartbeat_interval_ms, allowAutoTopicCreation: false })
    this.consumer = consumer
    consumer.on(consumer.events.GROUP_JOIN, (e) => this.onJoin(e.payload.memberAssignment))
    consumer.on(consumer.events.CRASH, (e) => this.onCrash(consumer, e.payload.error, e.payload.restart))
    await consumer.connect()
    await consumer.subscribe({ topics: this.sourceTopics, fromBeginning: k.from_beginning })
    await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, partitionsConsumedConcurrently: k.partitions_consumed_concurrently, eachBatch: (p) => this.onBatch(p) })
  }

  private onJoin(assignment: Record<string, number[]>): void {
    this.phase = 'joined'
    this.crashCause = null
    this.restarts = 0
    this.metrics.lag.reset()
    let n = 0
    for (const parts of Object.values(assignment)) n += parts.length
    this.metrics.assigned.set(n)
    this.lagMonitor?.assign(assignment)
    this.log.info({ event: 'group_joined', assignment }, 'partitions assigned')
  }

  private onCrash(consumer: Consumer, error: Error, restart: boolean): void {
    if (consumer !== this.consumer) return // a replaced consumer's last word
    this.crashCause = error.message
    this.log.error({ event: 'consumer_crashed', err: error.message, restart }, restart ? 'consumer crashed; kafkajs restarts it' : 'consumer crashed and kafkajs gave up; the writer starts a new one')
    if (!restart && !this.leaving()) this.scheduleRestart()
  }

  private leaving(): boolean {
    return this.phase === 'stopping' || this.phase === 'stopped'
  }

  private scheduleRestart(): void {
    this.phase = 'restarting'
    const delayMs = Math.min(RESTART_MAX_MS, RESTART_INITIAL_MS * 2 ** Math.min(this.restarts, 8))
    this.restarts++
    this.restartTimer = setTimeout(() => void this.restartConsumer(), delayMs)
  }

  private async restartConsumer(): Promise<void> {
    this.restartTimer = null
    if (this.phase !== 'restarting') return
    // The old member's pauses end with it: the new one fetches from the committed offsets.
    for (const t of this.paused.values()) clearTimeout(t)
    this.metrics.paused.dec(this.paused.size)
    this.paused.clear()
    await this.consumer?.disconnect().catch(() => undefined)
    if (this.leaving()) return // stop() came while the old member left
    try {
      await this.runConsumer()
      this.metrics.consumerRestarts.inc()
      this.log.warn({ event: 'consumer_restarted', attempt: this.restarts }, 'new consumer started; it rejoins the group')
    } catch (err) {
      this.log.error({ event: 'consumer_restart_failed', attempt: this.restarts, err: (err as Error).message }, 'could not start a new consumer; trying again')
      await this.consumer?.disconnect().catch(() => undefined)
      if (this.phase === 'restarting') this.scheduleRestart()
      return
    }
    if (this.leaving()) await this.consumer?.disconnect().catch(() => undefined) // stop() ran meanwhile
  }

  private async onBatch(p: EachBatchPayload): Promise<void> {
    const { batch } = p
    const key = `${batch.topic}/${batch.partition}`
    if (batch.messages.length === 0 || !p.isRunning() || p.isStale() || this.paused.has(key)) return
    const rows: RowWrite[] = []
    const envelopes: EnvelopeMsg[] = []
    const dead: DeadMessage[] = []
    for (const m of batch.messages) this.decodeInto(m, rows, envelopes, dead)
    const result = await this.sink.write(toRequests(rows, this.cfg.cassandra.batch_max_bytes), p)
    if (result.kind === 'retry') return this.pausePartition(p, key, result.cause, result.attempts)
    // After the rows, so that a batch retried for its writes does not dead-letter twice.
    const failure = await this.sendDead(batch.topic, batch.partition, dead)
    if (failure) return this.pausePartition(p, key, failure, 1)
    this.pauseStreaks.delete(key)
    const last = batch.messages[batch.messages.length - 1]!.offset
    p.resolveOffset(last)
    await p.commitOffsetsIfNecessary({ topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: (BigInt(last) + 1n).toString() }] }] })
    this.afterCommit(batch.topic, batch.partition, Number(batch.offsetLag()), envelopes, batch.messages.length - dead.length)
    await p.heartbeat()
  }

  private decodeInto(m: EachBatchPayload['batch']['messages'][number], rows: RowWrite[], envelopes: EnvelopeMsg[], dead: DeadMessage[]): void {
    try {
      const e = decodeChecked(m.value)
      for (const r of toRows(e, this.statements)) rows.push(r)
      envelopes.push(e)
    } catch (err) {
      if (!(err instanceof InvalidMessage)) throw err
      dead.push({ message: m, error: err })
    }
  }

  private afterCommit(topic: string, partition: number, lag: number, envelopes: readonly EnvelopeMsg[], written: number): void {
    const nowMs = Date.now()
    this.metrics.lag.set({ topic, partition: String(partition) }, lag)
    this.metrics.messages.inc({ topic, outcome: 'written' }, written)
    for (const e of envelopes) this.metrics.eventAge.observe((nowMs - e.hubTimeMs) / 1000)
    this.opts.onWritten?.(envelopes, nowMs)
  }

  /** Null when sent (or nothing to send); the error when the dead-letter topic refused them. */
  private async sendDead(topic: string, partition: number, dead: readonly DeadMessage[]): Promise<Error | null> {
    if (dead.length === 0) return null
    try {
      await this.deadLetter!.send(topic, partition, dead)
      return null
    } catch (err) {
      return err as Error
    }
  }

  /** Pauses the partition; kafkajs re-fetches from the last resolved offset when it resumes. */
  private pausePartition(p: EachBatchPayload, key: string, cause: Error, attempts: number): void {
    if (!p.isRunning()) return
    const streak = this.pauseStreaks.get(key) ?? 0
    const pauseMs = this.cfg.cassandra.pause_ms * 2 ** Math.min(streak, MAX_PAUSE_DOUBLINGS)
    const resume = p.pause()
    this.pauseStreaks.set(key, streak + 1)
    this.metrics.pauses.inc({ topic: p.batch.topic })
    this.metrics.paused.inc()
    this.log.error({ event: 'partition_paused', partition: key, attempts, pauseMs, err: cause.message }, 'writes keep failing: partition paused')
    const timer = setTimeout(() => {
      this.paused.delete(key)
      this.metrics.paused.dec()
      resume()
      this.log.warn({ event: 'partition_resumed', partition: key }, 'partition resumed')
    }, pauseMs)
    this.paused.set(key, timer)
  }

  live(): { ok: boolean; detail: Record<string, unknown> } {
    return { ok: this.phase !== 'stopped', detail: { phase: this.phase, crash: this.crashCause, restarts: this.restarts } }
  }

  ready(): { ok: boolean; detail: Record<string, unknown> } {
    const cqlHosts = this.cql.getState().getConnectedHosts().length
    return { ok: this.phase === 'joined' && this.crashCause === null && cqlHosts > 0, detail: { phase: this.phase, cqlHosts, pausedPartitions: this.paused.size } }
  }

  /**
   * Graceful stop: kafkajs stops fetching and waits for the batches in flight, whose writes and
   * commits complete; then the writer leaves the group, so the others take over at once.
   */
  async stop(): Promise<void> {
    if (this.phase === 'stopped') return
    this.phase = 'stopping'
    if (this.restartTimer) clearTimeout(this.restartTimer)
    for (const t of this.paused.values()) clearTimeout(t)
    this.paused.clear()
    await this.consumer?.disconnect()
    await this.lagMonitor?.stop()
    await this.producer?.disconnect()
    this.phase = 'stopped'
  }
}
