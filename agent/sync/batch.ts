/**
 * One batch of the sync (sync.ts): read from the outbox after a cursor position and encoded into
 * Kafka messages per topic, ready for one sendBatch. Observations go out as runs, one schema_version
 * 2 Envelope per subject (runs.ts), when `observationsPerRecord` > 1; a run row joins its run
 * without being expanded (envelope.ts observationSpans, run-field.ts). Rows no retry can encode are
 * set aside with a notice for the dead-letter topic, sent in the same batch.
 * The sync loop owns the producer, the cursor and the retries; this owns what goes into a batch.
 */
import { setImmediate } from 'node:timers/promises'
import type { Message } from 'kafkajs'
import type { DeadLetterEntry } from '../store/dead-letter.js'
import { RecordKind } from '../store/commit.js'
import { Col, forEachRecord, lastSeqOf, recordsOf, type Outbox, type OutboxRow } from '../store/outbox.js'
import { RunItemsError } from '../store/run-items.js'
import { SCHEMA_VERSION, SCHEMA_VERSION_RUN } from '../../proto/codec.js'
import { SyncRejectError, TOPIC_OF_KIND, type EnvelopeEncoder, type ObservationItem, type RunEntry, type TopicName } from './envelope.js'
import { ObservationRuns } from './runs.js'
import type { WireFormat } from './wire-format.js'

/** Rows read and encoded between two turns of the event loop (about 2.6 ms of observations). */
const PREPARE_SLICE = 1000
/**
 * What an observation sent in a run counts toward the batch size, against 1 for a record of its
 * own. An item of a run is about 66 bytes before compression against about 170 for a version 1
 * record with its Kafka framing, and costs none of the per-record work; at 1/4 a full batch of
 * runs is 4 × max_batch_records observations (20,000 by default, about 1.3 MB before gzip) in
 * one request, and the fixed cost of a batch (the acks=all round trip and the cursor's update,
 * about 33 ms on the 2-core bench machine under load then) is shared by four times as many observations.
 * On issue 23's 100-obs load (`npm run bench -- e2e`), two runs each gave 65–68k obs/s end to end
 * at 5,000 observations per batch against 86–104k at 20,000 and 0.5 fewer CPU s per million; a
 * later set of six on the same loaded machine did not separate them (BENCHMARKS.md).
 */
const RUN_ITEM_WEIGHT = 0.25

/** One batch read from the outbox and encoded, ready for one sendBatch. */
export interface PreparedBatch {
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

export interface BatchOptions {
  readonly topics: Readonly<Record<TopicName, string>>
  /** Where a notice of each record set aside goes (the `dead-letter` topic); none: local only. */
  readonly deadLetterTopic?: string
  /** Observations of one subject per Kafka record at most; 1: a schema_version 1 Envelope each. */
  readonly observationsPerRecord?: number
  /** True when rows no retry can encode are set aside (a local dead letter exists); else they fail the batch. */
  readonly setAside: boolean
  readonly wire?: WireFormat
}

export class BatchReader {
  /**
   * Records per row in the last slice read (run rows hold many): the next read asks for about as
   * many rows as the batch still takes. Starting each batch at 1 read five times the rows a batch
   * of runs of 100 takes, and the read was then 6.7 % of the 100-obs e2e profile.
   */
  private recordsPerRow = 1

  constructor(
    private readonly outbox: Outbox,
    private readonly encoder: EnvelopeEncoder,
    private readonly opts: BatchOptions,
  ) {}

  /**
   * Reads up to one batch after `afterSeq` and encodes it for Kafka, or null when nothing is left;
   * `limit` is the batch size in records (RUN_ITEM_WEIGHT for an observation that joins a run).
   * Works in slices with a turn of the event loop between them, so that a 5000-record batch (13 ms
   * of reading and encoding observations, 33 ms for ECG chunks) neither delays alarms nor holds
   * back kafkajs' compression callback and the send of the batch in flight.
   * The rows count as in flight from their read on: housekeeping must not shed what is on its way
   * (store/quota.ts), so each slice's read and mark are one synchronous step.
   */
  async prepare(afterSeq: number, limit: number): Promise<PreparedBatch | null> {
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
      if (!(err instanceof RunItemsError) || !this.opts.setAside) throw err
      const topic = this.opts.deadLetterTopic
      const first = row[Col.HUB_SEQ]
      for (let seq = first; seq <= lastSeqOf(row); seq++) {
        rejected.push({ hubSeq: seq, kind: row[Col.KIND], reason: 'bad-body', detail: err.message })
        if (topic !== undefined) push(byTopic, topic, { key: `${this.encoder.hubId}/${seq}`, value: Buffer.from(this.encoder.rejectedNotice([seq, ...row.slice(1)] as OutboxRow)), headers: deadLetterHeaders('bad-body', err.message) })
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
      if (!(err instanceof SyncRejectError) || !this.opts.setAside) throw err
      rejected.push({ hubSeq: item.hubSeq, kind: RecordKind.OBSERVATION, reason: err.reason, detail: err.message })
      const topic = this.opts.deadLetterTopic
      if (topic !== undefined) push(byTopic, topic, { key: `${this.encoder.hubId}/${item.hubSeq}`, value: Buffer.from(this.encoder.rejectedItemNotice(item)), headers: deadLetterHeaders(err.reason, err.message) })
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
      if (!(err instanceof SyncRejectError) || !this.opts.setAside) throw err
      rejected.push({ hubSeq: row[Col.HUB_SEQ], kind: row[Col.KIND], reason: err.reason, detail: err.message })
      const topic = this.opts.deadLetterTopic
      if (topic === undefined) return null
      // Sent with its batch, so the notice is in Kafka exactly when the cursor passes the record.
      return { topic, key: `${this.encoder.hubId}/${row[Col.HUB_SEQ]}`, value: this.encoder.rejectedNotice(row), headers: deadLetterHeaders(err.reason, err.message), deadLetter: true }
    }
  }

  /** One Envelope as a Kafka record: framed and with the shared headers when a wire format is set (wire-format.ts). */
  private record(topic: string, key: string, value: Uint8Array, schemaVersion: number): Message {
    const wire = this.opts.wire
    if (wire === undefined) return { key, value: Buffer.from(value.buffer, value.byteOffset, value.byteLength) }
    return { key, value: wire.value(topic, value), headers: wire.headers(topic, schemaVersion) }
  }
}

/** The headers of a notice on the dead-letter topic: why the record was set aside, and by whom. */
function deadLetterHeaders(reason: string, detail: string): Record<string, string> {
  return { 'bedside-reason': reason, 'bedside-detail': detail.slice(0, 500), 'bedside-source': 'agent' }
}

function push(byTopic: Map<string, Message[]>, topic: string, m: Message): void {
  let list = byTopic.get(topic)
  if (!list) byTopic.set(topic, (list = []))
  list.push(m)
}
