/**
 * sync: drain rate of the outbox to a real Kafka (acks=all, idempotent producer, one batch in
 * flight + the next prepared, gzip level 1; agent/sync/sync.ts), in process, from a store pre-filled
 * as after an outage, and kafkajs' record encoding patched against as published.
 * Needs KAFKA_BROKERS (scripts/services/services.sh start kafka; eval "$(… env)"); without it the
 * bench reports the encoding figures only. Catch-up time and RSS during a long outage come from the integration test
 * test/durability/broker.test.ts (agent as a child process); bench/results/sync.md has both.
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
import { GroupCommitter, RecordKind } from '../agent/store/commit.js'
import { openDatabase } from '../agent/store/db.js'
import { Outbox } from '../agent/store/outbox.js'
import { EnvelopeEncoder } from '../agent/sync/envelope.js'
import { createRequire } from 'node:module'
import { GZIP_LEVEL, createKafka } from '../agent/sync/kafka.js'
import { Pseudonymizer } from '../agent/sync/pseudonym.js'
import { CloudSync } from '../agent/sync/sync.js'
import type { BenchFigure } from './harness.js'

const BEDS = 64
const OBS = 200_000
const WAVES = 60_000
const SAMPLES = 130 // one second of Polar H10 ECG per chunk

async function drain(brokers: string[], kind: 'obs' | 'wave'): Promise<BenchFigure> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-sync-'))
  const db = openDatabase(dir)
  const beds = Array.from({ length: BEDS }, (_, i) => ({ id: `bed-${i}`, devices: [{ id: `mon-${i}`, type: 'mqtt', secret: 'bench-secret', serial: `SN-${i}` }] }))
  const cfg = parseConfig({ hub: { id: 'bench-hub', site: 'bench', data_dir: dir }, beds })
  const admissions = new Admissions(db)
  const adm = beds.map((b, i) => admissions.admit(b.id, `MRN-${i}`, null, null, Date.now()))
  const committer = new GroupCommitter(db, { intervalMs: 1000, maxRecords: 50_000 })
  const n = kind === 'obs' ? OBS : WAVES
  const body = Buffer.from(new Int32Array(SAMPLES).map((_, i) => Math.round(1000 * Math.sin(i / 10))).buffer)
  const now = Date.now()
  for (let i = 0; i < n; i++) {
    const b = i % BEDS
    committer.append(kind === 'obs'
      ? { kind: RecordKind.OBSERVATION, bedId: `bed-${b}`, deviceId: `mon-${b}`, admissionId: adm[b]!.id, code: 150456, value: 97, unit: '%', deviceTimeMs: now + i, hubTimeMs: now, deviceSeq: i, quality: 0, body: null }
      : { kind: RecordKind.WAVEFORM, bedId: `bed-${b}`, deviceId: `mon-${b}`, admissionId: adm[b]!.id, code: 131330, value: 130, unit: 'uV', deviceTimeMs: now + i, hubTimeMs: now, deviceSeq: i, quality: 0, body })
  }
  committer.close()
  const id = `bench-sync-${Date.now().toString(36)}`
  const topics = { raw_vitals: `${id}-raw-vitals`, waveforms: `${id}-waveforms`, alert_events: `${id}-alert-events`, audit_log: `${id}-audit-log` }
  const admin = new Kafka({ clientId: 'bench', brokers, logLevel: logLevel.NOTHING }).admin()
  await admin.connect()
  await admin.createTopics({ waitForLeaders: true, topics: Object.values(topics).map((topic) => ({ topic, numPartitions: 3 })) })
  const log = pino({ level: 'error' })
  const outbox = new Outbox(db)
  const sync = new CloudSync(createKafka({ brokers, clientId: 'bench', log }), outbox, new EnvelopeEncoder('bench-hub', admissions, new DeviceRegistry(cfg.beds), Pseudonymizer.open(dir, 'bench', now - 1000)), { topics, maxBatchRecords: 5000 }, createMetrics(), log)
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
  return { name: `sync.drain.${kind === 'obs' ? 'observations' : 'waveforms'}`, value: n / s, unit: 'records/s', note: `${n} records from a ${BEDS}-bed store to Kafka in ${s.toFixed(1)} s; acks=all, idempotent, 1 batch in flight + 1 prepared, gzip level ${GZIP_LEVEL}; batch size settled at ${batch}${kind === 'wave' ? `; ${SAMPLES} samples/chunk` : ''}` }
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
  const rate = (encode: Enc): number => {
    let best = 0
    for (let round = 0; round < 5; round++) {
      const t0 = process.hrtime.bigint()
      for (let rep = 0; rep < 20; rep++) for (const r of records) encode(r)
      best = Math.max(best, (20 * records.length) / (Number(process.hrtime.bigint() - t0) / 1e9))
    }
    return best
  }
  const fast = rate(Record)
  const generic = rate(Record.encodeGeneric)
  return [
    { name: 'sync.kafkajs.record-encode', value: fast, unit: 'records/s', note: `patched one-pass encoder (patches/kafkajs+2.2.4.patch), 160-byte values; ${(fast / generic).toFixed(1)}× the generic path` },
    { name: 'sync.kafkajs.record-encode.generic', value: generic, unit: 'records/s', note: 'kafkajs 2.2.4 as published, same records' },
  ]
}

export default async function bench(): Promise<BenchFigure[]> {
  const brokers = process.env.KAFKA_BROKERS?.split(',').filter(Boolean)
  if (!brokers?.length) {
    console.log('# sync: KAFKA_BROKERS not set, skipped (start scripts/services/services.sh and eval its env)')
    return recordEncoding()
  }
  return [...recordEncoding(), await drain(brokers, 'obs'), await drain(brokers, 'wave')]
}
