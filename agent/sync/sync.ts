/**
 * Cloud sync: outbox → pseudonymized protobuf Envelopes → Kafka, in hub_seq order.
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
import { setImmediate } from 'node:timers/promises'
import { CompressionTypes, type Kafka, type Message, type Producer } from 'kafkajs'
import type { Logger } from 'pino'
import type { Metrics } from '../serve/metrics.js'
import type { DeadLetterEntry, LocalDeadLetter } from '../store/dead-letter.js'
import { RecordKind } from '../store/commit.js'
import { Col, forEachRecord, lastSeqOf, recordsOf, type Outbox, type OutboxRow } from '../store/outbox.js'
import { SCHEMA_VERSION, SCHEMA_VERSION_RUN } from '../../proto/codec.js'
import { SyncRejectError, TOPIC_OF_KIND, type EnvelopeEncoder, type ObservationItem, type RunEntry, type TopicName } from './envelope.js'
import { AdaptiveBatch, SyncRate } from './flow.js'
import { MemoizedDefaultPartitioner } from './kafka.js'
import { ObservationRuns } from './runs.js'
import { RunItemsError } from '../store/run-items.js'
import type { WireFormat } from './wire-format.js'

/** Rows read and encoded between two turns of the event loop (about 2.6 ms of observations). */
const PREPARE_SLICE = 1000
/**
 * What an observation sent in a run counts toward the batch size, against 1 for a record of its
 * own. An item of a run is about 66 bytes before compression against about 170 for a version 1
 * record with its Kafka framing, and costs none of the per-record work; at 1/4 a full batch of
 * runs is 4 × max_batch_records observations (20,000 by default, about 1.3 MB before gzip) in
 * one request, and the fixed cost of a batch (the acks=all round trip, the cursor's fsync, about
 * 33 ms on the 2-core bench machine under load) is shared by four times as many observations.
 * On issue 23's 100-obs load (`npm run bench -- e2e`), two runs each gave 65–68k obs/s end to end
 * at 5,000 observations per batch against 86–104k at 20,000 and 0.5 fewer CPU s per million; a
 * later set of six on the same loaded machine did not separate them (BENCHMARKS.md).
 */
const RUN_ITEM_WEIGHT = 0.25

/** One batch read from the outbox and encoded, ready for one sendBatch. */
interface PreparedBatch {
  readonly lastSeq: number
  /** Records (hub_seqs) read: a run row counts its n. */
  readonly records: number
  /** What the batch counts toward the adaptive batch size (RUN_ITEM_WEIGHT). */
  readonly weight: number
  readonly counts: ReadonlyMap<TopicName, number>
  readonly topicMessages: { topic: string; messages: Message[] }[]
  /** Rows no retry can encode, set aside once the batch is through (store/dead-letter.ts). */
  readonly rejected: DeadLetterEntry[]
}

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
  /**
   * Records per row in the last slice read (run rows hold many): the next read asks for about as
   * many rows as the batch still takes. Starting each batch at 1 read five times the rows a batch
   * of runs of 100 takes, and the read was then 6.7 % of the 100-obs e2e profile.
   */
  private recordsPerRow = 1

  constructor(
    private readonly kafka: Kafka,
    private readonly outbox: Outbox,
    private readonly encoder: EnvelopeEncoder,
    private readonly opts: SyncOptions,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
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
        const batch: PreparedBatch | null = next ?? (await this.prepare(this.outbox.cursor))
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
        const prepared: Promise<{ b: PreparedBatch | null; err: Error | null }> = this.prepare(batch.lastSeq).then((b) => ({ b, err: null }), (err: unknown) => ({ b: null, err: err as Error }))
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

  /**
   * Reads up to one batch after `afterSeq` and encodes it for Kafka, or null when nothing is left.
   * Works in slices with a turn of the event loop between them, so that a 5000-record batch (13 ms
   * of reading and encoding observations, 33 ms for ECG chunks) neither delays alarms nor holds
   * back kafkajs' compression callback and the send of the batch in flight.
   * The rows count as in flight from their read on: housekeeping must not shed what is on its way
   * (store/quota.ts), so each slice's read and mark are one synchronous step.
   */
  private async prepare(afterSeq: number): Promise<PreparedBatch | null> {
    const limit = this.batch.size
    const byTopic = new Map<string, Message[]>()
    const counts = new Map<TopicName, number>()
    const rejected: DeadLetterEntry[] = []
    const perRecord = this.opts.observationsPerRecord ?? 1
    const runs = perRecord > 1 ? new ObservationRuns(perRecord) : null
    let lastSeq = afterSeq
    let records = 0
    /** Toward `limit`: 1 per record, RUN_ITEM_WEIGHT per observation that joins a run. */
    let weight = 0
    const onRecord = (row: OutboxRow): void => {
      if (runs !== null && row[Col.KIND] === RecordKind.OBSERVATION) {
        runs.add(this.encoder.observationItem(row))
        weight += RUN_ITEM_WEIGHT
        return
      }
      weight++
      const e = this.encodeOrReject(row, rejected)
      if (e === null) return
      if (e.deadLetter) {
        push(byTopic, e.topic, { key: e.key, value: Buffer.from(e.value.buffer, e.value.byteOffset, e.value.byteLength), headers: e.headers })
        return
      }
      push(byTopic, e.topic, this.record(e.topic, e.key, e.value, SCHEMA_VERSION))
      const name = TOPIC_OF_KIND[row[Col.KIND]]
      if (name !== undefined) counts.set(name, (counts.get(name) ?? 0) + 1)
    }
    while (weight < limit) {
      const wantRecords = Math.ceil((limit - weight) / (runs === null ? 1 : RUN_ITEM_WEIGHT))
      const want = Math.min(PREPARE_SLICE, Math.ceil(wantRecords / this.recordsPerRow))
      const rows = this.outbox.read(want, lastSeq)
      if (rows.length === 0) break
      // Whole rows only, each a record or a whole run (runs.ts: a run never spans two cursor
      // positions); the batch stops at the row that fills it, so it exceeds `limit` by less than
      // one run row. Read, taken and marked in flight in one synchronous step (quota.ts).
      let taken = 0
      let sliceRecords = 0
      while (taken < rows.length && weight < limit) {
        const row = rows[taken++]!
        if (runs !== null && row[Col.ITEMS] != null && row[Col.KIND] === RecordKind.OBSERVATION) {
          if (this.eachRecordOrReject(row, null, runs, byTopic, rejected)) weight += RUN_ITEM_WEIGHT * recordsOf(row)
        } else this.eachRecordOrReject(row, onRecord, null, byTopic, rejected)
        sliceRecords += recordsOf(row)
      }
      lastSeq = lastSeqOf(rows[taken - 1]!)
      this.outbox.markInFlight(lastSeq)
      records += sliceRecords
      this.recordsPerRow = Math.max(1, sliceRecords / taken)
      if (taken < rows.length || rows.length < want) break
      await setImmediate()
    }
    if (records === 0) return null
    if (runs !== null && runs.size > 0) await this.encodeRuns(runs, byTopic, counts, rejected)
    return { lastSeq, records, weight, counts, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })), rejected }
  }

  /**
   * `forEachRecord` of a row into `each`, or a run row's stretches into `runs`; or, for a run row
   * whose packed items this agent cannot read (another layout version, a truncated blob: nothing
   * of it was handed on, both check it whole), every hub_seq of the run set aside like a row no
   * retry can encode, each with its notice. False when the row was set aside.
   */
  private eachRecordOrReject(row: OutboxRow, each: ((r: OutboxRow) => void) | null, runs: ObservationRuns | null, byTopic: Map<string, Message[]>, rejected: DeadLetterEntry[]): boolean {
    try {
      if (each !== null) forEachRecord(row, each)
      else this.encoder.observationSpans(row, runs!)
      return true
    } catch (err) {
      if (!(err instanceof RunItemsError) || this.opts.deadLetter === undefined) throw err
      const topic = this.opts.deadLetterTopic
      const first = row[Col.HUB_SEQ]
      for (let seq = first; seq <= lastSeqOf(row); seq++) {
        rejected.push({ hubSeq: seq, kind: row[Col.KIND], reason: 'bad-body', detail: err.message })
        if (topic !== undefined) push(byTopic, topic, { key: `${this.encoder.hubId}/${seq}`, value: Buffer.from(this.encoder.rejectedNotice([seq, ...row.slice(1)] as OutboxRow)), headers: { 'bedside-reason': 'bad-body', 'bedside-detail': err.message.slice(0, 500), 'bedside-source': 'agent' } })
      }
      return false
    }
  }

  /**
   * The batch's runs as one Kafka record each, in the order they were opened (runs.ts: that keeps
   * each key's order). A run protobuf refuses is sent item by item instead, so that only the item
   * no retry can encode is set aside, as it would have been without runs. A turn of the event loop
   * after every PREPARE_SLICE observations encoded, as while reading.
   */
  private async encodeRuns(runs: ObservationRuns, byTopic: Map<string, Message[]>, counts: Map<TopicName, number>, rejected: DeadLetterEntry[]): Promise<void> {
    const topic = this.opts.topics.raw_vitals
    let sent = 0
    let sinceTurn = 0
    for (let i = 0; i < runs.runs.length; i++) {
      const run: RunEntry[] = runs.runs[i]!
      const size = runs.sizes[i]!
      if (sinceTurn >= PREPARE_SLICE) {
        sinceTurn = 0
        await setImmediate()
      }
      sinceTurn += size
      try {
        push(byTopic, topic, this.record(topic, run[0]!.subject, this.encoder.encodeRun(run), SCHEMA_VERSION_RUN))
        sent += size
      } catch (err) {
        if (!(err instanceof SyncRejectError)) throw err
        for (const entry of run) for (const item of this.encoder.itemsOf(entry)) if (this.encodeItemOrReject(item, byTopic, rejected)) sent++
      }
    }
    if (sent > 0) counts.set('raw_vitals', (counts.get('raw_vitals') ?? 0) + sent)
  }

  /** One observation of a run that could not be encoded whole: its version 1 Envelope, or set aside. */
  private encodeItemOrReject(item: ObservationItem, byTopic: Map<string, Message[]>, rejected: DeadLetterEntry[]): boolean {
    try {
      push(byTopic, this.opts.topics.raw_vitals, this.record(this.opts.topics.raw_vitals, item.subject, this.encoder.encodeItem(item), SCHEMA_VERSION))
      return true
    } catch (err) {
      if (!(err instanceof SyncRejectError) || this.opts.deadLetter === undefined) throw err
      rejected.push({ hubSeq: item.hubSeq, kind: RecordKind.OBSERVATION, reason: err.reason, detail: err.message })
      const topic = this.opts.deadLetterTopic
      if (topic !== undefined) push(byTopic, topic, { key: `${this.encoder.hubId}/${item.hubSeq}`, value: Buffer.from(this.encoder.rejectedItemNotice(item)), headers: { 'bedside-reason': err.reason, 'bedside-detail': err.message.slice(0, 500), 'bedside-source': 'agent' } })
      return false
    }
  }

  /**
   * One row's outcome: ok (encoded), reject (a SyncRejectError: no retry can encode it, it is set
   * aside) or retry (anything else, e.g. the store busy while reading an admission: the batch fails
   * and is read again after the backoff).
   */
  private encodeOrReject(row: OutboxRow, rejected: DeadLetterEntry[]): { topic: string; key: string; value: Uint8Array; headers?: Record<string, string>; deadLetter?: true } | null {
    try {
      const e = this.encoder.encode(row)
      return { topic: this.opts.topics[e.topic], key: e.key, value: e.value }
    } catch (err) {
      if (!(err instanceof SyncRejectError) || this.opts.deadLetter === undefined) throw err
      rejected.push({ hubSeq: row[Col.HUB_SEQ], kind: row[Col.KIND], reason: err.reason, detail: err.message })
      const topic = this.opts.deadLetterTopic
      if (topic === undefined) return null
      // Sent with its batch, so the notice is in Kafka exactly when the cursor passes the record.
      return { topic, key: `${this.encoder.hubId}/${row[Col.HUB_SEQ]}`, value: this.encoder.rejectedNotice(row), headers: { 'bedside-reason': err.reason, 'bedside-detail': err.message.slice(0, 500), 'bedside-source': 'agent' }, deadLetter: true }
    }
  }

  /** One Envelope as a Kafka record: framed and with the shared headers when a wire format is set (wire-format.ts). */
  private record(topic: string, key: string, value: Uint8Array, schemaVersion: number): Message {
    const wire = this.opts.wire
    if (wire === undefined) return { key, value: Buffer.from(value.buffer, value.byteOffset, value.byteLength) }
    return { key, value: wire.value(topic, value), headers: wire.headers(topic, schemaVersion) }
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

function push(byTopic: Map<string, Message[]>, topic: string, m: Message): void {
  let list = byTopic.get(topic)
  if (!list) byTopic.set(topic, (list = []))
  list.push(m)
}
