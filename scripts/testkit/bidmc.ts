/**
 * Replays BIDMC PPG and Respiration Dataset numerics (PhysioNet bidmc 1.0.0, CSV form; layout in
 * /work/shared/data/README.md §2) through a rule engine: one observation per column per second,
 * "NaN" as an UNAVAILABLE-flagged observation, a tick every 250 ms of hub time.
 * Used by test/rules/bidmc.test.ts and bench/rules.bench.ts (which writes bench/results/rules.md); it lives
 * in scripts/testkit/ so that neither imports the other.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { codeOf } from '../../drivers/codes.js'
import { Quality, type Observation } from '../../drivers/records.js'
import { createRuleEngine, DEFAULT_RULES, type AlarmChange, type RuleEngine } from '../../agent/rules/index.js'

export const BIDMC_DIR = '/work/shared/data/bidmc/bidmc_csv'
export const BIDMC_T0 = 1_700_000_000_000

/** CSV column → MDC reference id: HR from the ECG, PULSE from the pleth. */
const COLUMNS: ReadonlyArray<[string, string]> = [
  ['HR', 'MDC_ECG_HEART_RATE'],
  ['PULSE', 'MDC_PULS_OXIM_PULS_RATE'],
  ['RESP', 'MDC_RESP_RATE'],
  ['SpO2', 'MDC_PULS_OXIM_SAT_O2'],
]

export interface NumericsRow {
  readonly timeS: number
  readonly values: readonly number[] // in COLUMNS order; NaN when missing
}

export function bidmcRecords(): string[] {
  return Array.from({ length: 53 }, (_, i) => `bidmc_${String(i + 1).padStart(2, '0')}`)
}

/** Parses `<record>_Numerics.csv`, selecting columns by header name (trimmed). */
export function readNumerics(record: string, dir = BIDMC_DIR): NumericsRow[] {
  const lines = readFileSync(join(dir, `${record}_Numerics.csv`), 'utf8').trim().split(/\r?\n/)
  const header = lines[0]!.split(',').map((h) => h.trim())
  const timeCol = header.indexOf('Time [s]')
  const cols = COLUMNS.map(([name]) => header.indexOf(name))
  if (timeCol < 0 || cols.some((c) => c < 0)) throw new Error(`${record}: unexpected header ${lines[0]}`)
  return lines.slice(1).map((line) => {
    const f = line.split(',')
    return { timeS: Number(f[timeCol]), values: cols.map((c) => Number(f[c]!.trim())) }
  })
}

export interface Replay {
  readonly record: string
  readonly rows: number
  readonly observations: number
  readonly changes: readonly AlarmChange[]
  readonly engine: RuleEngine
}

export function replay(record: string, rows: readonly NumericsRow[], engine: RuleEngine = createRuleEngine(DEFAULT_RULES)): Replay {
  const changes: AlarmChange[] = []
  const codes = COLUMNS.map(([, ref]) => codeOf(ref))
  let seq = 0
  for (const row of rows) {
    const tMs = BIDMC_T0 + row.timeS * 1000
    row.values.forEach((v, i) => {
      const o: Observation = {
        kind: 'obs', deviceId: `${record}-mon`, code: codes[i]!, value: v, unit: '', deviceTimeMs: tMs, hubTimeMs: tMs,
        deviceSeq: seq++, quality: Number.isNaN(v) ? Quality.UNAVAILABLE : 0,
      }
      changes.push(...engine.observe(record, o))
    })
    for (let k = 1; k <= 4; k++) changes.push(...engine.tick(tMs + k * 250))
  }
  return { record, rows: rows.length, observations: seq, changes, engine }
}

/** "rule (priority) @t s" for every raise and escalation, in order. */
export function summarize(r: Replay): string[] {
  return r.changes
    .filter((c) => c.state === 'raised' || c.state === 'escalated')
    .map((c) => `${c.ruleId}${c.state === 'escalated' ? '↑' : ''} (${c.priority}) @${Math.round((c.atMs - BIDMC_T0) / 1000)} s`)
}

/** The markdown table for bench/results/rules.md. */
export function replayTable(replays: readonly Replay[]): string {
  const out = [
    '| Record | Rows | Alarms raised / escalated (rule (priority) @ time) |',
    '|---|---:|---|',
  ]
  for (const r of replays) out.push(`| ${r.record} | ${r.rows} | ${summarize(r).join('; ') || '—'} |`)
  return out.join('\n')
}
