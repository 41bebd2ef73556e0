/**
 * sync: drain rate of the outbox to a real Kafka (acks=all, idempotent producer, one batch in
 * flight + the next prepared, gzip level 1; agent/sync/sync.ts), in process, from a store pre-filled
 * as after an outage, and kafkajs' record encoding patched against as published.
 * Needs KAFKA_BROKERS (scripts/services/services.sh start kafka; eval "$(… env)"); without it the
 * bench reports the encoding figures only. sync.catchup.ward-10min drains what a 10-minute outage of
 * a 64-bed ward leaves queued. RSS during a long outage, and catch-up with the broker restarted
 * under a running agent, come from test/durability/broker.test.ts (bench/results/sync.md).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Kafka, logLevel } from 'kafkajs'
import { pino } from 'pino'
import { parseConfig } from '../agent/config.js'
import { DeviceRegistry } from '../agent/pipeline/devices.js'
import { createMetrics } from '../agent/serve/metrics.js'
import { Admissions } from '../agent/store/admissions.js'
import { GroupCommitter, RecordKind, type PendingRow } from '../agent/store/commit.js'
import { openDatabase } from '../agent/store/db.js'
import { Outbox } from '../agent/store/outbox.js'
import { EnvelopeEncoder } from '../agent/sync/envelope.js'
import { createRequire } from 'node:module'
import { GZIP_LEVEL, createKafka } from '../agent/sync/kafka.js'
import { Pseudonymizer } from '../agent/sync/pseudonym.js'
import { CloudSync } from '../agent/sync/sync.js'
import { WireFormat } from '../agent/sync/wire-format.js'
import { runEncoders, SCHEMA_VERSION_RUN, waveformEncoders, type EnvelopeMsg, type WaveformMsg } from '../proto/codec.js'
import type { BenchFigure } from './harness.js'

const BEDS = 64
const OBS = 200_000
const WAVES = 60_000
const SAMPLES = 130 // one second of Polar H10 ECG per chunk
/** The outage of the catch-up goal: ten minutes of the 64-bed ward of ward.bench.ts. */
const OUTAGE_S = 600
const WARD_ECG_CHUNKS_PER_S = 10 // 250 Hz in 25-sample chunks
const WARD_NUMERICS_PER_S = 6 // 5 from the monitor + the HR derived from the ECG

type Append = (row: Omit<PendingRow, 'hubSeq'>) => void

interface Scenario {
  readonly name: string
  readonly records: number
  readonly note: string
  /** cloud.kafka.observations_per_record (1: one schema_version 1 record per observation). */
  readonly perRecord: number
  /** Fills the store as the outage left it; `adm` are the 64 beds' admission ids. */
  fill(append: Append, adm: number[], now: number): void
}

const ecgBody = (samples: number) => Buffer.from(new Int32Array(samples).map((_, i) => Math.round(1000 * Math.sin(i / 10))).buffer)
const obsRow = (b: number, adm: number[], t: number, seq: number, code = 150456) =>
  ({ kind: RecordKind.OBSERVATION, bedId: `bed-${b}`, deviceId: `mon-${b}`, admissionId: adm[b]!, code, value: 97, unit: '%', deviceTimeMs: t, hubTimeMs: t, deviceSeq: seq, quality: 0, body: null }) as const
const waveRow = (b: number, adm: number[], t: number, seq: number, rateHz: number, body: Buffer) =>
  ({ kind: RecordKind.WAVEFORM, bedId: `bed-${b}`, deviceId: `mon-${b}`, admissionId: adm[b]!, code: 131330, value: rateHz, unit: 'uV', deviceTimeMs: t, hubTimeMs: t, deviceSeq: seq, quality: 0, body }) as const

const fillObs = (append: Append, adm: number[], now: number) => { for (let i = 0; i < OBS; i++) append(obsRow(i % BEDS, adm, now + i, i)) }

const SCENARIOS: Record<'obs' | 'runs' | 'wave' | 'ward', Scenario> = {
  obs: { name: 'sync.drain.observations', records: OBS, note: '; one schema_version 1 record per observation (observations_per_record: 1)', perRecord: 1, fill: fillObs },
  runs: { name: 'sync.drain.observation-runs', records: OBS, note: '; observations as runs, schema_version 2 (observations_per_record: 1000, the default), 64 beds interleaved', perRecord: 1000, fill: fillObs },
  wave: {
    name: 'sync.drain.waveforms', records: WAVES, note: `; ${SAMPLES} samples/chunk`, perRecord: 1000,
    fill: (append, adm, now) => { const body = ecgBody(SAMPLES); for (let i = 0; i < WAVES; i++) append(waveRow(i % BEDS, adm, now + i, i, SAMPLES, body)) },
  },
  ward: {
    name: 'sync.catchup.ward-10min', records: BEDS * OUTAGE_S * (WARD_ECG_CHUNKS_PER_S + WARD_NUMERICS_PER_S),
    note: `; a ${OUTAGE_S / 60}-minute outage of ${BEDS} beds in arrival order: per bed and second ${WARD_ECG_CHUNKS_PER_S} ECG chunks of 25 samples + ${WARD_NUMERICS_PER_S} numerics, numerics as runs`, perRecord: 1000,
    fill: (append, adm, now) => {
      const body = ecgBody(25)
      const t0 = now - OUTAGE_S * 1000
      for (let s = 0, seq = 0; s < OUTAGE_S; s++) {
        for (let b = 0; b < BEDS; b++) {
          for (let c = 0; c < WARD_ECG_CHUNKS_PER_S; c++) append(waveRow(b, adm, t0 + s * 1000 + c * 100, seq++, 250, body))
          for (let k = 0; k < WARD_NUMERICS_PER_S; k++) append(obsRow(b, adm, t0 + s * 1000, seq++, 150456 + k))
        }
      }
    },
  },
}

/**
 * Issue 24: the records as the agent sends them, with headers (BENCH_SYNC_WIRE=plain, the default),
 * framed for a schema registry (=confluent, needs SCHEMA_REGISTRY_URL: services.sh start registry),
 * or bare as before issue 24 (=none), to measure what the headers and the framing cost.
 */
function benchWire(topics: string[]): WireFormat | null {
  const mode = process.env.BENCH_SYNC_WIRE ?? 'plain'
  if (mode === 'none') return null
  if (mode !== 'plain' && mode !== 'confluent') throw new Error(`BENCH_SYNC_WIRE must be none, plain or confluent, not ${mode}`)
  const url = process.env.SCHEMA_REGISTRY_URL
  if (mode === 'confluent' && !url) throw new Error('BENCH_SYNC_WIRE=confluent needs SCHEMA_REGISTRY_URL (scripts/services/services.sh start registry; eval its env)')
  return new WireFormat({ format: mode, topics, hubId: 'bench-hub', site: 'bench', registry: url ? { url } : undefined })
}

async function drain(brokers: string[], scenario: Scenario): Promise<BenchFigure[]> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-sync-'))
  const db = openDatabase(dir)
  const beds = Array.from({ length: BEDS }, (_, i) => ({ id: `bed-${i}`, devices: [{ id: `mon-${i}`, type: 'mqtt', secret: 'bench-secret', serial: `SN-${i}` }] }))
  const cfg = parseConfig({ hub: { id: 'bench-hub', site: 'bench', data_dir: dir }, beds })
  const admissions = new Admissions(db)
  const adm = beds.map((b, i) => admissions.admit(b.id, `MRN-${i}`, null, null, Date.now()).id)
  const committer = new GroupCommitter(db, { intervalMs: 1000, maxRecords: 50_000 })
  const now = Date.now()
  scenario.fill((row) => void committer.append(row), adm, now)
  committer.close()
  const n = scenario.records
  const id = `bench-sync-${Date.now().toString(36)}`
  const topics = { raw_vitals: `${id}-raw-vitals`, waveforms: `${id}-waveforms`, alert_events: `${id}-alert-events`, audit_log: `${id}-audit-log` }
  const admin = new Kafka({ clientId: 'bench', brokers, logLevel: logLevel.NOTHING }).admin()
  await admin.connect()
  await admin.createTopics({ waitForLeaders: true, topics: Object.values(topics).map((topic) => ({ topic, numPartitions: 3 })) })
  const log = pino({ level: 'error' })
  const outbox = new Outbox(db)
  if (outbox.depth() !== n) throw new Error(`${scenario.name}: ${outbox.depth()} records queued, expected ${n}`)
  const wire = benchWire(Object.values(topics))
  const sync = new CloudSync(createKafka({ brokers, clientId: 'bench', log }), outbox, new EnvelopeEncoder('bench-hub', admissions, new DeviceRegistry(cfg.beds), Pseudonymizer.open(dir, 'bench', now - OUTAGE_S * 2000)), { topics, maxBatchRecords: 5000, observationsPerRecord: scenario.perRecord, ...(wire ? { wire } : {}) }, createMetrics(), log)
  const t0 = process.hrtime.bigint()
  sync.start()
  while (outbox.depth() > 0) await new Promise((r) => setTimeout(r, 20))
  const s = Number(process.hrtime.bigint() - t0) / 1e9
  const batch = sync.batchRecords
  await sync.stop()
  await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined)
  await admin.disconnect()
  db.close()
  rmSync(dir, { recursive: true, force: true })
  const how = `acks=all, idempotent, 1 batch in flight + 1 prepared, gzip level ${GZIP_LEVEL}; batch size settled at ${batch}; wire ${process.env.BENCH_SYNC_WIRE ?? 'plain'}`
  if (scenario === SCENARIOS.ward) {
    return [{ name: scenario.name, value: s, unit: 's', note: `outbox empty after ${n} records (${Math.round(n / s).toLocaleString('en-US')} records/s), from a running broker; ${how}${scenario.note}; goal ≤ 60 s` }]
  }
  return [{ name: scenario.name, value: n / s, unit: 'records/s', note: `${n} records from a ${BEDS}-bed store to Kafka in ${s.toFixed(1)} s; ${how}${scenario.note}` }]
}

/** Items per second of `encode` over `items`: the best of five rounds of `reps` passes. */
function bestRate<T>(items: readonly T[], reps: number, encode: (item: T) => unknown): number {
  let best = 0
  for (let round = 0; round < 5; round++) {
    const t0 = process.hrtime.bigint()
    for (let rep = 0; rep < reps; rep++) for (const item of items) encode(item)
    best = Math.max(best, (reps * items.length) / (Number(process.hrtime.bigint() - t0) / 1e9))
  }
  return best
}

/**
 * kafkajs' record encoding, patched one-pass path against the generic one it replaces (kept in the
 * patched module), side by side on the same 5000 envelopes-sized records.
 */
function recordEncoding(): BenchFigure[] {
  const require = createRequire(import.meta.url)
  type Enc = (r: object) => { buffer: Buffer }
  const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as Enc & { encodeGeneric: Enc }
  const records = Array.from({ length: 5000 }, (_, i) => ({ key: `patient-pseudonym-${(i % 64).toString().padStart(24, '0')}`, value: Buffer.alloc(160, i), offsetDelta: i, timestampDelta: 0 }))
  const fast = bestRate(records, 20, Record)
  const generic = bestRate(records, 20, Record.encodeGeneric)
  // Issue 24: every record now carries the agent's headers (agent/sync/wire-format.ts), one shared object.
  const headers = new WireFormat({ format: 'plain', topics: ['raw-vitals'], hubId: 'ward-3a', site: 'general-hospital' }).headers('raw-vitals', 1)
  const withHeaders = bestRate(records.map((r) => ({ ...r, headers })), 20, Record)
  const genericHeaders = bestRate(records.map((r) => ({ ...r, headers })), 5, Record.encodeGeneric)
  return [
    { name: 'sync.kafkajs.record-encode', value: fast, unit: 'records/s', note: `patched one-pass encoder (patches/kafkajs+2.2.4.patch), 160-byte values; ${(fast / generic).toFixed(1)}× the generic path` },
    { name: 'sync.kafkajs.record-encode.generic', value: generic, unit: 'records/s', note: 'kafkajs 2.2.4 as published, same records' },
    { name: 'sync.kafkajs.record-encode.with-headers', value: withHeaders, unit: 'records/s', note: `the same records with the agent's 5 headers (issue 24), one-pass since the patch writes string/Buffer headers too; ${(fast / withHeaders).toFixed(1)}× the time of a record without; the generic path with them: ${Math.round(genericHeaders).toLocaleString('en-US')} records/s` },
  ]
}

/** The WaveformChunk encoder of proto/codec.ts against protobufjs' generated one, on 130-sample chunks. */
function waveformEncoding(): BenchFigure[] {
  const chunks = Array.from({ length: 2000 }, (_, i) => ({ code: 131330, rateHz: SAMPLES, t0Us: 1_764_120_000_000_000 + i * 1e6, samplesUv: new Int32Array(SAMPLES).map((_, k) => Math.round(1200 * Math.sin((i + k) / 9))), hubTimeMs: 1_764_120_000_000 + i, deviceSeq: i, quality: 0, device: `mon-${i % BEDS}` }))
  const onePass = bestRate<WaveformMsg>(chunks, 10, waveformEncoders.onePass)
  const generated = bestRate<WaveformMsg>(chunks, 10, waveformEncoders.generated)
  return [
    { name: 'sync.protobuf.waveform-encode', value: onePass, unit: 'chunks/s', note: `one-pass WaveformChunk encoder (proto/codec.ts), ${SAMPLES} samples; ${(onePass / generated).toFixed(1)}× the generated one` },
    { name: 'sync.protobuf.waveform-encode.generated', value: generated, unit: 'chunks/s', note: 'protobufjs 7.6.6 generated encoder, same chunks' },
  ]
}

/** The one-pass run encoder of proto/codec.ts against protobufjs' generated one, on runs of 100 observations. */
function runEncoding(): BenchFigure[] {
  const RUN = 100
  const runs: EnvelopeMsg[] = Array.from({ length: 200 }, (_, r) => ({
    schemaVersion: SCHEMA_VERSION_RUN, hubId: 'bench-hub', hubSeq: r * RUN + 1, subject: `patient-pseudonym-${r % BEDS}`.padEnd(22, 'x'), subjectKind: 1, keyEpoch: 'e1-1764120000000', bedId: `bed-${r % BEDS}`, hubTimeMs: 1_764_120_000_000 + r,
    observations: {
      items: Array.from({ length: RUN }, (_, i) => ({ code: 150456 + (i % 2), value: 97 - (i % 3), unit: i % 2 ? '/min' : '%', deviceTimeMs: 1_764_120_000_000 + r * 100 + i, hubTimeMs: 1_764_120_000_000 + r * 100 + i, deviceSeq: r * RUN + i, quality: 0, device: `device-pseudonym-${r % BEDS}`.padEnd(22, 'x') })),
      hubSeq: Array.from({ length: RUN }, (_, i) => r * RUN + 1 + i),
    },
  }))
  const onePass = bestRate(runs, 5, runEncoders.onePass) * RUN
  const generated = bestRate(runs, 5, runEncoders.generated) * RUN
  return [
    { name: 'sync.protobuf.run-encode', value: onePass, unit: 'observations/s', note: `one-pass ObservationRun encoder (proto/run-encoder.ts), runs of ${RUN}; ${(onePass / generated).toFixed(1)}× the generated one` },
    { name: 'sync.protobuf.run-encode.generated', value: generated, unit: 'observations/s', note: 'protobufjs 7.6.6 generated encoder, same runs' },
  ]
}

export default async function bench(): Promise<BenchFigure[]> {
  const brokers = process.env.KAFKA_BROKERS?.split(',').filter(Boolean)
  if (!brokers?.length) {
    console.log('# sync: KAFKA_BROKERS not set, skipped (start scripts/services/services.sh and eval its env)')
    return [...recordEncoding(), ...waveformEncoding(), ...runEncoding()]
  }
  // BENCH_SYNC_DRAINS picks drain scenarios (obs,runs,wave,ward; default all).
  const picked = (process.env.BENCH_SYNC_DRAINS ?? 'obs,runs,wave,ward').split(',').filter(Boolean) as (keyof typeof SCENARIOS)[]
  const drains: BenchFigure[] = []
  for (const k of picked) drains.push(...(await drain(brokers, SCENARIOS[k])))
  return [...recordEncoding(), ...waveformEncoding(), ...runEncoding(), ...drains]
}
