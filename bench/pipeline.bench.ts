/**
 * pipeline: decoded records → validate/normalize → association → rules → durable group commit,
 * in process, one core. Beside it, the raw limit: better-sqlite3 inserting the same rows in the
 * same transaction sizes with nothing else, so the ratio shows what the pipeline costs.
 * pipeline.commit-batch.rows-N: the group commit alone (agent/store/commit.ts) writing the same rows
 * with N rows per INSERT statement (1: one statement per row, as before issue 23); CPU per record
 * (user + system) beside the rate, since the rate on a shared machine moves with the fsyncs.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { MDC } from '../drivers/codes.js'
import type { Observation } from '../drivers/records.js'
import { parseConfig } from '../agent/config.js'
import { DeviceRegistry } from '../agent/pipeline/devices.js'
import { Pipeline } from '../agent/pipeline/ingest.js'
import { LatestVitals } from '../agent/pipeline/latest.js'
import { createRuleEngine, DEFAULT_RULES } from '../agent/rules/index.js'
import { createMetrics } from '../agent/serve/metrics.js'
import { Admissions } from '../agent/store/admissions.js'
import { GroupCommitter, RecordKind } from '../agent/store/commit.js'
import { openDatabase } from '../agent/store/db.js'
import type { BenchFigure } from './harness.js'

const BEDS = 64
const N = 400_000
const BATCH = 4096

function observations(): Observation[] {
  const codes = [MDC.MDC_ECG_HEART_RATE!, MDC.MDC_PULS_OXIM_SAT_O2!, MDC.MDC_RESP_RATE!, MDC.MDC_TEMP_BODY!]
  const units = ['/min', '%', '/min', 'Cel']
  const values = [76, 97, 15, 36.8]
  const t0 = Date.now()
  return Array.from({ length: N }, (_, i) => {
    const c = i % 4
    const bed = Math.floor(i / 4) % BEDS
    return { kind: 'obs', deviceId: `mon-${bed}`, code: codes[c]!, value: values[c]! + (i % 3), unit: units[c]!, deviceTimeMs: t0 + Math.floor(i / (4 * BEDS)) * 1000, hubTimeMs: t0, deviceSeq: i, quality: 0 }
  })
}

function pipelineRate(obs: Observation[]): number {
  const dir = mkdtempSync(join(tmpdir(), 'bench-pipe-'))
  const cfg = parseConfig({ hub: { id: 'bench', site: 's', data_dir: dir }, beds: Array.from({ length: BEDS }, (_, b) => ({ id: `bed-${b}`, devices: [{ id: `mon-${b}`, type: 'mqtt', secret: 'secret-secret' }] })) })
  const db = openDatabase(dir)
  const metrics = createMetrics()
  const committer = new GroupCommitter(db, { intervalMs: 2, maxRecords: BATCH })
  const pipeline = new Pipeline({
    devices: new DeviceRegistry(cfg.beds), admissions: new Admissions(db), committer, engine: createRuleEngine(DEFAULT_RULES), latest: new LatestVitals(),
    metrics, log: pino({ level: 'silent' }), publishAlarm: () => undefined,
  })
  const start = process.hrtime.bigint()
  for (let i = 0; i < obs.length; i++) pipeline.ingestObservation(obs[i]!)
  committer.flush()
  const s = Number(process.hrtime.bigint() - start) / 1e9
  db.close()
  rmSync(dir, { recursive: true, force: true })
  return obs.length / s
}

function rawRate(obs: Observation[]): number {
  const dir = mkdtempSync(join(tmpdir(), 'bench-raw-'))
  const db = openDatabase(dir)
  const ins = db.prepare('INSERT INTO records (hub_seq, kind, bed_id, device_id, admission_id, code, value, unit, device_time_ms, hub_time_ms, device_seq, quality, body) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)')
  const tx = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const o = obs[i]!
      ins.run(i + 1, RecordKind.OBSERVATION, 'bed', o.deviceId, null, o.code, o.value, o.unit, o.deviceTimeMs, o.hubTimeMs, o.deviceSeq, o.quality, null)
    }
  })
  const start = process.hrtime.bigint()
  for (let i = 0; i < obs.length; i += BATCH) tx(i, Math.min(obs.length, i + BATCH))
  const s = Number(process.hrtime.bigint() - start) / 1e9
  db.close()
  rmSync(dir, { recursive: true, force: true })
  return obs.length / s
}

/** The group commit alone: `rowsPerInsert` rows per INSERT, best of `reps` rounds alternated with the others. */
function commitOnly(obs: Observation[], rowsPerInsert: number): { rate: number; cpuUsPerRecord: number } {
  const dir = mkdtempSync(join(tmpdir(), 'bench-commit-'))
  const db = openDatabase(dir)
  const committer = new GroupCommitter(db, { intervalMs: 2, maxRecords: BATCH, rowsPerInsert })
  const t0 = Date.now()
  const cpu0 = process.cpuUsage()
  const start = process.hrtime.bigint()
  for (let i = 0; i < obs.length; i++) {
    const o = obs[i]!
    committer.appendRecord(RecordKind.OBSERVATION, `bed-${i % BEDS}`, o.deviceId, null, o.code, o.value, o.unit, o.deviceTimeMs, t0, o.deviceSeq ?? null, o.quality ?? null, null)
  }
  committer.flush()
  const s = Number(process.hrtime.bigint() - start) / 1e9
  const cpu = process.cpuUsage(cpu0)
  db.close()
  rmSync(dir, { recursive: true, force: true })
  return { rate: obs.length / s, cpuUsPerRecord: (cpu.user + cpu.system) / obs.length }
}

const ROWS_PER_INSERT = [1, 8, 32, 64]

function commitBatchFigures(obs: Observation[]): BenchFigure[] {
  const best = new Map<number, { rate: number; cpuUsPerRecord: number }>()
  for (let round = 0; round < 3; round++) {
    for (const k of ROWS_PER_INSERT) {
      const r = commitOnly(obs, k)
      const b = best.get(k)
      best.set(k, { rate: Math.max(b?.rate ?? 0, r.rate), cpuUsPerRecord: Math.min(b?.cpuUsPerRecord ?? Infinity, r.cpuUsPerRecord) })
    }
  }
  return ROWS_PER_INSERT.map((k) => {
    const r = best.get(k)!
    return { name: `pipeline.commit-batch.rows-${k}`, value: r.rate, unit: 'records/s', note: `${r.cpuUsPerRecord.toFixed(2)} CPU µs per record; group commit alone, ${BATCH} records per transaction, ${k} per INSERT, WAL synchronous=FULL, best of 3 alternated` }
  })
}

export default async function bench(): Promise<BenchFigure[]> {
  const obs = observations()
  pipelineRate(obs.slice(0, 50_000)) // warm-up
  const raw = rawRate(obs)
  const pipe = pipelineRate(obs)
  const commitBatch = commitBatchFigures(obs)
  return [
    ...commitBatch,
    { name: 'pipeline.commit', value: pipe, unit: 'records/s', note: `${BEDS} beds, default rules, group commit ${BATCH} records, WAL synchronous=FULL; goal ≥ 500,000` },
    { name: 'pipeline.raw-sqlite', value: raw, unit: 'records/s', note: `same rows, same transaction size, nothing else; pipeline/raw = ${(pipe / raw).toFixed(2)}` },
  ]
}
