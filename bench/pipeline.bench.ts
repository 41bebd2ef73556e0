/**
 * pipeline: decoded records → validate/normalize → association → rules → durable group commit,
 * in process, one core. Beside it, the raw limit: better-sqlite3 inserting the same rows in the
 * same transaction sizes with nothing else, so the ratio shows what the pipeline costs.
 * pipeline.commit-batch.rows-N: the group commit alone (agent/store/commit.ts) writing the same rows
 * with N rows per INSERT statement (1: one statement per row, as before issue 23); CPU per record
 * (user + system) beside the rate, since the rate on a shared machine moves with the fsyncs.
 * pipeline.commit-batch.runs-100: the same observations as run rows (schema v9, appendRun), 100 per
 * row as a 100-obs device message would give, packing (store/run-items.ts) included, in transactions
 * of the same ≈4,096 observations. pipeline.store-read.*: reading them all back in hub_seq order in
 * pages of 5,000 rows, as the outbox does (rows: raw arrays; runs: rows unpacked item by item).
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
import { openDatabase, type Db } from '../agent/store/db.js'
import { forEachRunItem, packRunItems, type RunItem } from '../agent/store/run-items.js'
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

/** Observations per run row in the runs variant (issue 23's device message). */
const RUN = 100

type CommitFigure = { rate: number; cpuUsPerRecord: number; readRate: number; readCpuUsPerRecord: number }

/**
 * The group commit alone: `rowsPerInsert` rows per INSERT, or (`runs`) RUN observations per row;
 * then the whole store read back as the outbox reads it. Best of `reps` rounds alternated with the others.
 */
function commitOnly(obs: Observation[], rowsPerInsert: number, runs = false): CommitFigure {
  const dir = mkdtempSync(join(tmpdir(), 'bench-commit-'))
  const db = openDatabase(dir)
  const committer = new GroupCommitter(db, { intervalMs: 2, maxRecords: runs ? Math.round(BATCH / RUN) : BATCH, rowsPerInsert })
  const t0 = Date.now()
  const cpu0 = process.cpuUsage()
  const start = process.hrtime.bigint()
  if (runs) {
    const items: RunItem[] = new Array<RunItem>(RUN)
    for (let i = 0; i + RUN <= obs.length; i += RUN) {
      for (let j = 0; j < RUN; j++) {
        const o = obs[i + j]!
        items[j] = { code: o.code, value: o.value, unit: o.unit, deviceTimeMs: o.deviceTimeMs, deviceSeq: o.deviceSeq ?? null, quality: o.quality ?? null }
      }
      committer.appendRun(`bed-${i % BEDS}`, obs[i]!.deviceId, null, t0, RUN, packRunItems(items))
    }
  } else {
    for (let i = 0; i < obs.length; i++) {
      const o = obs[i]!
      committer.appendRecord(RecordKind.OBSERVATION, `bed-${i % BEDS}`, o.deviceId, null, o.code, o.value, o.unit, o.deviceTimeMs, t0, o.deviceSeq ?? null, o.quality ?? null, null)
    }
  }
  committer.flush()
  const s = Number(process.hrtime.bigint() - start) / 1e9
  const cpu = process.cpuUsage(cpu0)
  const read = readAll(db, runs)
  if (read.observations !== obs.length) throw new Error(`bench: read back ${read.observations} observations of ${obs.length}`)
  db.close()
  rmSync(dir, { recursive: true, force: true })
  return { rate: obs.length / s, cpuUsPerRecord: (cpu.user + cpu.system) / obs.length, readRate: obs.length / read.s, readCpuUsPerRecord: read.cpuUs / obs.length }
}

/** Every observation in hub_seq order, 5,000 rows a page, the outbox's columns (and a run's items). */
function readAll(db: Db, runs: boolean): { observations: number; s: number; cpuUs: number } {
  const page = db.prepare(`SELECT hub_seq, kind, bed_id, device_id, admission_id, code, value, unit, device_time_ms, hub_time_ms, device_seq, quality, body, t0_us${runs ? ', n, items' : ''} FROM records WHERE hub_seq > ? ORDER BY hub_seq LIMIT 5000`).raw(true)
  let count = 0
  let sum = 0
  const each = (it: RunItem): void => {
    sum += it.value ?? 0
    count++
  }
  const cpu0 = process.cpuUsage()
  const start = process.hrtime.bigint()
  let after = 0
  for (;;) {
    const rows = page.all(after) as unknown[][]
    if (rows.length === 0) break
    for (const r of rows) {
      if (runs) forEachRunItem(r[15] as Buffer, each)
      else {
        sum += (r[6] as number | null) ?? 0
        count++
      }
    }
    const last = rows[rows.length - 1]!
    after = (last[0] as number) + (runs ? (last[14] as number) - 1 : 0)
  }
  const s = Number(process.hrtime.bigint() - start) / 1e9
  const cpu = process.cpuUsage(cpu0)
  if (!(sum > 0)) throw new Error('bench: nothing read')
  return { observations: count, s, cpuUs: cpu.user + cpu.system }
}

/** rows-N: N rows per INSERT, one observation each; runs-100: one row per RUN observations, 32 rows per INSERT. */
const VARIANTS: { name: string; rowsPerInsert: number; runs: boolean }[] = [
  ...[1, 8, 32, 64].map((k) => ({ name: `rows-${k}`, rowsPerInsert: k, runs: false })),
  { name: `runs-${RUN}`, rowsPerInsert: 32, runs: true },
]

function commitBatchFigures(obs: Observation[]): BenchFigure[] {
  const best = new Map<string, CommitFigure>()
  for (let round = 0; round < 3; round++) {
    for (const v of VARIANTS) {
      const r = commitOnly(obs, v.rowsPerInsert, v.runs)
      const b = best.get(v.name)
      best.set(v.name, {
        rate: Math.max(b?.rate ?? 0, r.rate), cpuUsPerRecord: Math.min(b?.cpuUsPerRecord ?? Infinity, r.cpuUsPerRecord),
        readRate: Math.max(b?.readRate ?? 0, r.readRate), readCpuUsPerRecord: Math.min(b?.readCpuUsPerRecord ?? Infinity, r.readCpuUsPerRecord),
      })
    }
  }
  const commit = VARIANTS.map((v) => {
    const r = best.get(v.name)!
    const shape = v.runs ? `${RUN} observations per row, packed, ≈${BATCH} observations per transaction` : `${BATCH} records per transaction, ${v.rowsPerInsert} per INSERT`
    return { name: `pipeline.commit-batch.${v.name}`, value: r.rate, unit: 'records/s', note: `${r.cpuUsPerRecord.toFixed(2)} CPU µs per record; group commit alone, ${shape}, WAL synchronous=FULL, best of 3 alternated` }
  })
  const read = [best.get('rows-32')!, best.get(`runs-${RUN}`)!].map((r, i) => ({
    name: `pipeline.store-read.${i === 0 ? 'rows' : `runs-${RUN}`}`, value: r.readRate, unit: 'records/s',
    note: `${r.readCpuUsPerRecord.toFixed(2)} CPU µs per record; every stored observation in hub_seq order, 5,000 rows a page${i === 0 ? '' : ', items unpacked one by one'}, best of 3`,
  }))
  return [...commit, ...read]
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
