/**
 * Rule engine benchmarks (issue 6): per-record cost of `observe` with the default adult rule set,
 * per-call latency percentiles, tick cost for a 64-bed ward, state bytes per bed, and the BIDMC
 * replay, whose per-record alarm table is written to bench/results/rules.md.
 * Goal context: alarm latency p99 < 5 ms end to end (the lead measures that); this is the engine's share.
 * Reproduce: `node --import tsx bench/run.ts rules` (or `npm run bench -- rules`).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import v8 from 'node:v8'
import vm from 'node:vm'
import { createRuleEngine, DEFAULT_RULES, type Engine } from '../agent/rules/index.js'
import { codeOf } from '../drivers/codes.js'
import type { Observation } from '../drivers/records.js'
import { bidmcRecords, readNumerics, replay, replayTable } from '../scripts/testkit/bidmc.js'
import { bidmcSeconds, demoSeconds, fatigueTable, measureFatigue, totalOf, type FatigueResult } from '../scripts/testkit/fatigue.js'
import { opsPerSecond, type BenchFigure } from './harness.js'

const T0 = 1_700_000_000_000
const BEDS = 64
const CODES = ['MDC_ECG_HEART_RATE', 'MDC_PULS_OXIM_PULS_RATE', 'MDC_PULS_OXIM_SAT_O2', 'MDC_RESP_RATE'].map(codeOf)
const NORMAL = [78, 77, 97, 16]

/** A stable ward: every bed sends HR, PR, SpO2 and RR once per second, with ±2 of noise. */
class Ward {
  private t = 0
  private i = 0
  private readonly bedIds = Array.from({ length: BEDS }, (_, b) => `3a-${String(b).padStart(2, '0')}`)
  private readonly records: Observation[] = []
  constructor(readonly engine: Engine) {
    // Pre-built records (mutable copies) so the benchmark measures the engine, not the generator.
    for (let b = 0; b < BEDS; b++) for (let c = 0; c < CODES.length; c++) {
      this.records.push({ kind: 'obs', deviceId: `mon-${b}`, code: CODES[c]!, value: 0, unit: '', deviceTimeMs: 0, hubTimeMs: 0, deviceSeq: 0, quality: 0 })
    }
  }
  step(): number {
    const k = this.i++ % this.records.length
    if (k === 0) this.t += 1000
    const r = this.records[k] as { -readonly [K in keyof Observation]: Observation[K] }
    r.value = NORMAL[k % CODES.length]! + ((this.i * 7919) % 5) - 2
    r.deviceTimeMs = r.hubTimeMs = T0 + this.t
    r.deviceSeq = this.i
    return this.engine.observe(this.bedIds[(k / CODES.length) | 0]!, r).length
  }
  tick(): void {
    this.engine.tick(T0 + this.t + 500)
  }
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!
}

function latency(ward: Ward, n: number): { p50: number; p99: number; max: number } {
  const ns = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    const a = process.hrtime.bigint()
    ward.step()
    ns[i] = Number(process.hrtime.bigint() - a)
  }
  ns.sort()
  return { p50: percentile(ns, 0.5) / 1000, p99: percentile(ns, 0.99) / 1000, max: ns[n - 1]! / 1000 }
}

function gcFn(): () => void {
  v8.setFlagsFromString('--expose-gc')
  return vm.runInNewContext('gc') as () => void
}

/** Heap bytes per bed: heapUsed delta over many beds after each received 10 min of data. */
function bytesPerBed(beds: number): { measured: number; estimated: number } {
  const gc = gcFn()
  const engine = createRuleEngine(DEFAULT_RULES) as Engine
  const feed = (bedId: string) => {
    for (let s = 0; s < 600; s++) for (let c = 0; c < CODES.length; c++) {
      engine.observe(bedId, { kind: 'obs', deviceId: 'd', code: CODES[c]!, value: NORMAL[c]!, unit: '', deviceTimeMs: T0 + s * 1000, hubTimeMs: T0 + s * 1000, deviceSeq: s, quality: 0 })
    }
  }
  const ids = Array.from({ length: beds }, (_, i) => `bed-${i}`)
  feed('warm-up')
  gc()
  const before = process.memoryUsage().heapUsed
  for (const id of ids) feed(id)
  gc()
  const after = process.memoryUsage().heapUsed
  return { measured: (after - before) / beds, estimated: engine.stateBytes(ids[0]!)! }
}

function bidmc(): { table: string; ms: number; observations: number } {
  const start = performance.now()
  const replays = bidmcRecords().map((r) => replay(r, readNumerics(r)))
  const ms = performance.now() - start
  return { table: replayTable(replays), ms, observations: replays.reduce((n, r) => n + r.observations, 0) }
}

/** Alarm fatigue before and after grouping (issue 19): BIDMC and the demo ward's scenarios, 30 min each. */
function fatigue(): { table: string; bidmc: FatigueResult } {
  const records = bidmcRecords().map((r) => measureFatigue(r, bidmcSeconds(readNumerics(r))))
  const bidmcTotal = totalOf('BIDMC, 53 records', records)
  const demo = DEMO_SCENARIOS.map((s, i) => measureFatigue(`demo: ${s}`, demoSeconds(s, i + 1, 1800)))
  const deteriorations = records.filter((r) => r.off.firstHighS !== undefined)
  return { table: fatigueTable([bidmcTotal, ...deteriorations, ...demo]), bidmc: bidmcTotal }
}
const DEMO_SCENARIOS = ['stable', 'tachycardia', 'desaturation', 'fever'] as const

function writeResults(figures: BenchFigure[], table: string, fatigueTableMd: string): void {
  const dir = new URL('./results/', import.meta.url)
  mkdirSync(dir, { recursive: true })
  const machine = `${os.cpus().length}× ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}`
  const lines = [
    '# Rule engine: figures and BIDMC replay',
    '',
    `Generated by \`node --import tsx bench/run.ts rules\` on ${machine}.`,
    '',
    '| Figure | Value | Unit | Note |',
    '|---|---:|---|---|',
    ...figures.map((f) => `| ${f.name} | ${f.value >= 100 ? Math.round(f.value).toLocaleString('en-US') : f.value.toPrecision(3)} | ${f.unit} | ${f.note ?? ''} |`),
    '',
    '## BIDMC numerics through the default adult rule set',
    '',
    'PhysioNet bidmc 1.0.0 (Pimentel et al. 2017, doi:10.13026/C2208R), 53 records × 481 s of 1 Hz HR (ECG),',
    'PULSE (pleth), RESP and SpO2; NaN sent as UNAVAILABLE-flagged observations; ticks every 250 ms.',
    'NEWS2 here sees only RR, SpO2 and pulse (no BP, temperature, consciousness or oxygen in these files),',
    'so its scores are partial (lower bounds). `↑` = escalation of the open alarm.',
    '',
    table,
    '',
    '## Alarm fatigue before and after grouping (issue 19)',
    '',
    'Each source replayed through the default rules with `rules.grouping` off (every alarm its own entry) and on.',
    'Entries: alarms that were a list entry of their own at some moment; sounding: entries of medium or high',
    'priority; first high: seconds to the first high-priority alarm (BIDMC rows: the records that have one).',
    '',
    fatigueTableMd,
    '',
  ]
  writeFileSync(new URL('rules.md', dir), lines.join('\n'))
}

export default async function rulesBench(): Promise<BenchFigure[]> {
  const ward = new Ward(createRuleEngine(DEFAULT_RULES) as Engine)
  for (let i = 0; i < 64 * 4 * 120; i++) ward.step() // two minutes of ward data: windows full
  const rate = opsPerSecond(() => void ward.step(), 1, 1500)
  const lat = latency(ward, 200_000)
  const tickRate = opsPerSecond(() => ward.tick(), 1, 500)
  const mem = bytesPerBed(2000)
  const replayed = bidmc()
  const tired = fatigue()
  const figures: BenchFigure[] = [
    { name: 'rules.observe', value: rate, unit: 'records/s', note: `default adult set, ${BEDS} beds × 4 numerics at 1 Hz, one thread` },
    { name: 'rules.observe.cost', value: 1e9 / rate, unit: 'ns/record', note: 'mean' },
    { name: 'rules.observe.p50', value: lat.p50, unit: 'µs', note: 'per call, 200k calls, includes hrtime overhead' },
    { name: 'rules.observe.p99', value: lat.p99, unit: 'µs', note: `goal: engine share of the 5 ms end-to-end p99; max ${lat.max.toFixed(0)} µs (GC)` },
    { name: 'rules.tick', value: 1e6 / tickRate, unit: 'µs/tick', note: `${BEDS} beds, all default rules` },
    { name: 'rules.memory.bed', value: mem.measured, unit: 'bytes/bed', note: `heapUsed delta over 2000 beds after 10 min of data each; evaluator estimate ${mem.estimated} B` },
    { name: 'rules.memory.64beds', value: (mem.measured * 64) / 2 ** 20, unit: 'MiB', note: 'state of a 64-bed ward' },
    { name: 'rules.bidmc.replay', value: replayed.observations / (replayed.ms / 1000), unit: 'records/s', note: `53 records, ${replayed.observations} observations with ticks, ${replayed.ms.toFixed(0)} ms` },
  ]
  figures.push(
    { name: 'rules.fatigue.entries.before', value: tired.bidmc.off.entries / tired.bidmc.hours, unit: 'entries/patient-h', note: 'BIDMC, grouping off' },
    { name: 'rules.fatigue.entries.after', value: tired.bidmc.on.entries / tired.bidmc.hours, unit: 'entries/patient-h', note: 'BIDMC, grouping on (goal: fewer, no high alarm later)' },
  )
  writeResults(figures, replayed.table, tired.table)
  return figures
}
