/**
 * Alarm fatigue, measured (issue 19): one patient's observations replayed through the default
 * rules twice, with alarm grouping off (every rule's alarm is a list entry, as before) and on, and
 * counted the way a nurse meets them:
 * - entries: alarms that were a list entry of their own at some moment (raised visible, or
 *   promoted when the alarm they were folded under ended);
 * - sounding: entries of medium or high priority (IEC 60601-1-8 asks an auditory signal of those;
 *   for low priority it is optional, and the central station keeps low silent);
 * - first high: the time of the first high-priority alarm (raised or escalated) — grouping must
 *   never make it later or lose it.
 * Used by test/rules/fatigue.test.ts and bench/rules.bench.ts (the table in BENCHMARKS.md).
 */
import { codeOf } from '../../drivers/codes.js'
import { Quality, type Observation } from '../../drivers/records.js'
import { SimPatient, type Scenario } from '../../drivers/sim/vitals.js'
import { createRuleEngine, rulesConfigSchema, type AlarmChange, type RuleEngine } from '../../agent/rules/index.js'
import { BIDMC_T0, type NumericsRow } from './bidmc.js'

/** One second of a patient: the observations (code ref, value; NaN = unavailable) at `timeS`. */
export interface Second {
  readonly timeS: number
  readonly values: ReadonlyArray<readonly [string, number]>
}

export interface FatigueCount {
  readonly entries: number
  readonly sounding: number
  /** Seconds from the start to the first high-priority alarm; undefined when none. */
  readonly firstHighS: number | undefined
  readonly raised: number
}

export interface FatigueResult {
  readonly name: string
  readonly hours: number
  readonly off: FatigueCount
  readonly on: FatigueCount
}

const BED = 'fatigue-bed'

function count(seconds: readonly Second[], grouping: boolean, rules: Record<string, unknown>): FatigueCount {
  const engine = createRuleEngine(rulesConfigSchema.parse({ ...rules, grouping }))
  const entries = new Set<string>()
  const sounding = new Set<string>()
  let firstHighMs = Number.NaN
  let raised = 0
  const see = (changes: readonly AlarmChange[], e: RuleEngine) => {
    for (const c of changes) {
      if (c.state === 'raised') raised++
      if ((c.state === 'raised' || c.state === 'escalated') && c.priority === 'high' && Number.isNaN(firstHighMs)) firstHighMs = c.atMs
    }
    if (changes.length === 0) return
    // Visibility is a view: an alarm counts as an entry whenever it is open and not folded.
    for (const a of e.active()) {
      if (a.category === 'technical' || a.foldedInto !== undefined) continue
      entries.add(a.alarmId)
      if (a.priority !== 'low') sounding.add(a.alarmId)
    }
  }
  let seq = 0
  for (const s of seconds) {
    const tMs = BIDMC_T0 + s.timeS * 1000
    for (const [ref, v] of s.values) {
      const o: Observation = { kind: 'obs', deviceId: 'fatigue-mon', code: codeOf(ref), value: v, unit: '', deviceTimeMs: tMs, hubTimeMs: tMs, deviceSeq: seq++, quality: Number.isNaN(v) ? Quality.UNAVAILABLE : 0 }
      see(engine.observe(BED, o), engine)
    }
    for (let k = 1; k <= 4; k++) see(engine.tick(tMs + k * 250), engine)
  }
  return { entries: entries.size, sounding: sounding.size, firstHighS: Number.isNaN(firstHighMs) ? undefined : (firstHighMs - BIDMC_T0) / 1000, raised }
}

/** `rules`: a `rules:` section over the defaults (e.g. `{ set: [{ id: 'news2', low_priority: 'none' }] }`). */
export function measureFatigue(name: string, seconds: readonly Second[], rules: Record<string, unknown> = {}): FatigueResult {
  const span = seconds.length === 0 ? 0 : seconds[seconds.length - 1]!.timeS - seconds[0]!.timeS + 1
  return { name, hours: span / 3600, off: count(seconds, false, rules), on: count(seconds, true, rules) }
}

/** BIDMC numerics rows (HR, PULSE, RESP, SpO2) as seconds. */
export function bidmcSeconds(rows: readonly NumericsRow[]): Second[] {
  const refs = ['MDC_ECG_HEART_RATE', 'MDC_PULS_OXIM_PULS_RATE', 'MDC_RESP_RATE', 'MDC_PULS_OXIM_SAT_O2'] as const
  return rows.map((r) => ({ timeS: r.timeS, values: r.values.map((v, i) => [refs[i]!, v] as const) }))
}

/** A demo-ward patient (drivers/sim/vitals.ts), as its monitor sends it: 1 Hz HR/SpO2/RR, temperature each minute, NIBP each 5 min. */
export function demoSeconds(scenario: Scenario, seed: number, durationS: number): Second[] {
  const p = new SimPatient(scenario, seed)
  const out: Second[] = []
  for (let t = 0; t < durationS; t++) {
    const v = p.sample(t)
    const values: Array<readonly [string, number]> = [['MDC_ECG_HEART_RATE', v.hr], ['MDC_PULS_OXIM_SAT_O2', v.spo2], ['MDC_RESP_RATE', v.rr]]
    if (t % 60 === 0) values.push(['MDC_TEMP_BODY', v.tempC])
    if (t % 300 === 0) values.push(['MDC_PRESS_BLD_NONINV_SYS', v.sys])
    out.push({ timeS: t, values })
  }
  return out
}

/** The markdown table: per source, entries and sounding alarms per patient-hour, first high alarm. */
export function fatigueTable(results: readonly FatigueResult[]): string {
  const perH = (n: number, h: number) => (h > 0 ? (n / h).toFixed(1) : '–')
  const fmtS = (s: number | undefined) => (s === undefined ? '—' : `${s.toFixed(1)} s`)
  const lines = [
    '| Source | Patient-hours | Alarms raised | Entries/h, before → after | Sounding/h, before → after | First high-priority alarm, before → after |',
    '|---|---:|---:|---:|---:|---|',
  ]
  for (const r of results) {
    lines.push(`| ${r.name} | ${r.hours.toFixed(2)} | ${r.off.raised} | ${perH(r.off.entries, r.hours)} → ${perH(r.on.entries, r.hours)} | ${perH(r.off.sounding, r.hours)} → ${perH(r.on.sounding, r.hours)} | ${fmtS(r.off.firstHighS)} → ${fmtS(r.on.firstHighS)} |`)
  }
  return lines.join('\n')
}

/** Sums results into one row (for the BIDMC set as a whole). */
export function totalOf(name: string, results: readonly FatigueResult[]): FatigueResult {
  const sum = (pick: (r: FatigueResult) => FatigueCount): FatigueCount => ({
    entries: results.reduce((a, r) => a + pick(r).entries, 0),
    sounding: results.reduce((a, r) => a + pick(r).sounding, 0),
    raised: results.reduce((a, r) => a + pick(r).raised, 0),
    firstHighS: undefined,
  })
  return { name, hours: results.reduce((a, r) => a + r.hours, 0), off: sum((r) => r.off), on: sum((r) => r.on) }
}
