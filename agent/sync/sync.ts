/**
 * Cloud sync: outbox → pseudonymized protobuf Envelopes → Kafka, in hub_seq order. This is the
 * loop (the producer, the cursor, retries and backoff); batch.ts reads and encodes each batch.
 *
 * - One sendBatch in flight at a time on an idempotent producer with maxInFlightRequests 1:
 *   kafkajs loses messages or fails with OUT_OF_ORDER_SEQUENCE_NUMBER under concurrent sends on an
 *   idempotent producer (kafkajs #1005, #598). Throughput comes from large batches instead.
 * - acks=all; the cursor moves only after Kafka acknowledged the whole batch. A crash between the
 *   acknowledgement and the cursor update re-sends the batch; consumers drop duplicates by
 *   (hub_id, hub_seq).
 * - On any send failure the producer is discarded and re-created (a fresh producer id resets the
 *   idempotence sequence numbers), after a jittered exponential backoff. Meanwhile the outbox grows
 *   on disk, never in memory: at most two batches are in memory, the one in flight and the next,
 *   read and encoded while the broker works on the first (a failure discards both).
 * - Backpressure: one batch in flight bounds what is in memory and in the broker's hands; the batch
 *   size adapts to the acknowledgement latency (AdaptiveBatch) and halves on a failure (a batch
 *   over the broker's message.max.bytes fails with MESSAGE_TOO_LARGE until it is small enough).
 * - Ordering per patient: one patient's records share one key and so one partition, and with one
 *   batch in flight, in hub_seq order, a retry re-sends the same prefix before anything newer.
 * - Fewer, larger records (issue 23): a batch's observations go out as runs, one schema_version 2
 *   Envelope per subject (runs.ts), so the per-record costs (encode, partition, framing, the
 *   writer's decode) are paid per run. A run never outlives its batch: the cursor still moves only
 *   past what Kafka acknowledged, and a re-sent batch re-sends the same observations (consumers
 *   dedupe each by (hub_id, hub_seq)). On issue 23's 100-obs/message MQTT load this cut the Kafka
 *   records 830-fold and the agent's CPU per observation from 8.5 to 6.1 s per million (medians,
 *   `npm run bench -- e2e`, BENCHMARKS.md; 5.3 with the one-pass run encoder of proto/run-encoder.ts).
 * - Run rows in the store (issue 23, `store.observation_runs`): a row may hold a message's
 *   observations over consecutive hub_seqs. The sync hands on each of its records as the row it
 *   would have had (outbox.ts forEachRecord), so the Envelopes per hub_seq are those of a row each;
 *   a batch takes whole rows only and the cursor moves to a row's last hub_seq, so a run row is
 *   acknowledged whole or re-sent whole. With runs on (observationsPerRecord > 1) a run row joins
 *   its subject's run without being expanded: its head worked out once, its items written from
 *   the packed blob (envelope.ts observationSpans, run-field.ts); the bytes per hub_seq are those
 *   of the expanded path (test/sync/run-field.test.ts).
 */
import { CompressionTypes, type Kafka, type Producer } from 'kafkajs'
import type { Logger } from 'pino'
import type { Metrics } from '../serve/metrics.js'
import type { DeadLetterEntry, LocalDeadLetter } from '../store/dead-letter.js'
import type { Outbox } from '../store/outbox.js'
import { BatchReader, type PreparedBatch } from './batch.js'
import type { EnvelopeEncoder, TopicName } from './envelope.js'
import { AdaptiveBatch, SyncRate } from './flow.js'
import { MemoizedDefaultPartitioner } from './kafka.js'
import type { WireFormat } from './wire-format.js'

export interface SyncOptions {
  readonly topics: Readonly<Record<TopicName, string>>
  /** Where a notice of each record set aside on the gateway goes (the `dead-letter` topic); none: local only. */
  readonly deadLetterTopic?: string
  readonly maxBatchRecords: number
  /**
   * Observations of one subject per Kafka record at most (issue 23): above 1, a batch's
   * observations go out as runs, schema_version 2 Envelopes (runs.ts); 1 (the default here) sends
   * one schema_version 1 Envelope per observation, as before.
   */
  readonly observationsPerRecord?: number
  readonly idleWaitMs?: number
  readonly maxBackoffMs?: number
  /** Acknowledgement latency the batch size aims for (default 1000 ms). */
  readonly targetAckMs?: number
  readonly minBatchRecords?: number
  /** Told about every send failure (the store keeps the last one for `bedside-hub queue`). */
  readonly onError?: (e: { atMs: number; message: string }) => void
  /** Where rows that can never be encoded go; without it such a row fails its batch (retried). */
  readonly deadLetter?: { readonly store: LocalDeadLetter; rejected(entries: readonly DeadLetterEntry[]): void }
  /**
   * Headers and framing of each record (issue 24, wire-format.ts); its schema registration runs
   * before every connect until it succeeds. Absent: plain values without headers (unit tests).
   */
  readonly wire?: WireFormat
}

export type SyncState = { state: 'idle' | 'sending' } | { state: 'failing'; since: number; cause: string }

export class CloudSync {
  private producer: Producer | null = null
  private running = false
  private loop: Promise<void> | null = null
  private wake: (() => void) | null = null
  private interrupt: (() => void) | null = null
  private failures = 0
  private lastError: { atMs: number; message: string } | null = null
  private failingSince: number | null = null
  private readonly batch: AdaptiveBatch
  readonly rate = new SyncRate(10_000)
  private readonly reader: BatchReader

  constructor(
    private readonly kafka: Kafka,
    private readonly outbox: Outbox,
    encoder: EnvelopeEncoder,
    private readonly opts: SyncOptions,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    this.reader = new BatchReader(outbox, encoder, { topics: opts.topics, deadLetterTopic: opts.deadLetterTopic, observationsPerRecord: opts.observationsPerRecord, setAside: opts.deadLetter !== undefined, wire: opts.wire })
    this.batch = new AdaptiveBatch(opts.minBatchRecords ?? Math.min(100, opts.maxBatchRecords), opts.maxBatchRecords, opts.targetAckMs ?? 1000)
  }

  /** Records per sendBatch the loop uses now. */
  get batchRecords(): number {
    return this.batch.size
  }


  start(): void {
    if (this.running) return
    this.running = true
    this.loop = this.run()
  }

  /** Wakes the loop after a commit so that new records go out without waiting for the idle timer. */
  notify(): void {
    this.wake?.()
  }

  get status(): { up: boolean; lastError: { atMs: number; message: string } | null; failingSinceMs: number | null } {
    return { up: this.failingSince === null && this.producer !== null, lastError: this.lastError, failingSinceMs: this.failingSince }
  }

  async stop(): Promise<void> {
    this.running = false
    this.interrupt?.()
    await this.loop
    await this.dropProducer()
  }

  private async run(): Promise<void> {
    let next: PreparedBatch | null = null
    while (this.running) {
      if (next === null && !this.outbox.hasUnsynced()) {
        await this.sleep(this.opts.idleWaitMs ?? 250, true)
        continue
      }
      try {
        // Connect first, then read: rows read while the broker is unreachable would sit "in flight"
        // and be spared by the quota out of order, or shed and still sent. Likewise the schema
        // registration (confluent wire format) before anything is read.
        await this.opts.wire?.ready()
        const producer = await this.ensureProducer()
        const batch: PreparedBatch | null = next ?? (await this.reader.prepare(this.outbox.cursor, this.batch.size))
        next = null
        if (batch === null) continue // all shed while connecting; the next turn idles
        const t0 = Date.now()
        let ackMs = 0
        // The outcome as a value: the send may fail while the next batch is being prepared, and a
        // rejection nobody awaits yet would be an unhandled one.
        const sending = batch.topicMessages.length > 0
          ? producer.sendBatch({ acks: -1, compression: CompressionTypes.GZIP, topicMessages: batch.topicMessages })
          : Promise.resolve([]) // every row of it was set aside
        const sent = sending.then(
          () => {
            ackMs = Date.now() - t0
            return null
          },
          (err: unknown) => err as Error,
        )
        // Read and encode the next batch while the broker works on this one: still one request in
        // flight, but the CPU work no longer waits for the round trip. With the raw outbox read and
        // the remembered partitions: 87k → 110–119k records/s (`npm run bench -- sync`).
        const prepared: Promise<{ b: PreparedBatch | null; err: Error | null }> = this.reader.prepare(batch.lastSeq, this.batch.size).then((b) => ({ b, err: null }), (err: unknown) => ({ b: null, err: err as Error }))
        const sendError = await sent
        const { b: following, err: prepareError } = await prepared
        if (sendError) throw sendError
        this.setAside(batch.rejected)
        this.outbox.advance(batch.lastSeq, batch.records)
        this.batch.acknowledged(batch.weight, ackMs)
        this.rate.add(Date.now(), batch.records)
        for (const [t, n] of batch.counts) this.metrics.synced.inc({ topic: this.opts.topics[t] }, n)
        this.onSuccess()
        if (prepareError) throw prepareError
        next = following
        if (next === null) this.outbox.clearInFlight()
      } catch (err) {
        // The prepared batch follows the failed one; both are read again from the cursor.
        next = null
        this.outbox.clearInFlight()
        await this.onFailure(err as Error)
      }
    }
    this.outbox.clearInFlight()
  }

  private setAside(rejected: readonly DeadLetterEntry[]): void {
    const deadLetter = this.opts.deadLetter
    if (rejected.length === 0 || deadLetter === undefined) return
    const fresh = deadLetter.store.add(rejected, Date.now())
    for (const e of fresh) {
      this.metrics.syncRejected.inc({ reason: e.reason })
      this.log.error({ event: 'sync_rejected', hubSeq: e.hubSeq, kind: e.kind, reason: e.reason, err: e.detail }, `record ${e.hubSeq} can never be sent (${e.reason}); set aside in the local dead-letter, replication continues`)
    }
    if (fresh.length > 0) deadLetter.rejected(fresh)
  }

  private async ensureProducer(): Promise<Producer> {
    if (this.producer) return this.producer
    const p = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: MemoizedDefaultPartitioner })
    await p.connect()
    this.producer = p
    return p
  }

  private async dropProducer(): Promise<void> {
    const p = this.producer
    this.producer = null
    if (p) await p.disconnect().catch((err: Error) => this.log.debug({ err: err.message }, 'producer disconnect failed'))
  }

  private onSuccess(): void {
    if (this.failingSince !== null) this.log.info({ event: 'sync_recovered', afterFailures: this.failures }, 'Kafka sync recovered')
    this.failures = 0
    this.failingSince = null
    this.metrics.syncUp.set(1)
  }

  private async onFailure(err: Error): Promise<void> {
    const cause = err.name || 'Error'
    this.metrics.syncErrors.inc({ cause })
    this.metrics.syncUp.set(0)
    const prevMessage = this.lastError?.message
    this.lastError = { atMs: Date.now(), message: err.message }
    this.opts.onError?.(this.lastError)
    if (this.failingSince === null) {
      this.failingSince = Date.now()
      this.log.warn({ event: 'sync_failing', cause, err: err.message }, 'Kafka sync failing; records stay queued on disk and are retried')
    }
    this.failures++
    this.batch.failed()
    if (this.lastError.message !== prevMessage) this.log.warn({ event: 'sync_error', cause, err: err.message, batchRecords: this.batch.size }, `Kafka send failed: ${err.message}`)
    await this.dropProducer()
    const maxMs = this.opts.maxBackoffMs ?? 10_000
    const base = Math.min(maxMs, 250 * 2 ** Math.min(this.failures - 1, 10))
    await this.sleep(base / 2 + Math.random() * (base / 2), false)
  }

  /** Idle sleeps end early on notify(); backoff sleeps only on stop(). */
  private sleep(ms: number, wakeable: boolean): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        this.wake = null
        this.interrupt = null
        resolve()
      }
      const timer = setTimeout(done, ms)
      this.interrupt = done
      if (wakeable) this.wake = done
    })
  }
}
