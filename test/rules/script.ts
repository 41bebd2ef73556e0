/**
 * Behaviour cases as data: a script of steps (observations, ticks, technical inputs,
 * acknowledgements, patient context) run through the engine, and the alarm changes it produced
 * as compact strings `"<ruleId> <state> <priority> @<t s>"`, so a case reads like a test table.
 * Device time = hub time unless a case says otherwise (`offsetS`: hub − device).
 */
import { codeOf } from '../../drivers/codes.js'
import type { Observation } from '../../drivers/records.js'
import { createRuleEngine, rulesConfigSchema, type AlarmChange, type RuleEngine, type RulesConfig } from '../../agent/rules/index.js'

/** Aligned to a whole minute, so tumbling windows start at t = 0 s. */
export const T0 = 1_750_000_020_000

export type Step =
  | ['obs', string, number, number] // code ref, value, device time s
  | ['obsq', string, number, number, number] // … plus quality bits
  | ['obsd', string, string, number, number] // device id, code ref, value, device time s
  | ['tick', number] // hub time s
  | ['tech', string, boolean, number] // condition, active, hub time s
  | ['ack', string, string, number] // rule id, by, hub time s
  | ['ctx', { spo2Scale?: 1 | 2; onOxygen?: boolean; consciousness?: 'A' | 'C' | 'V' | 'P' | 'U' }, number]

export interface Case {
  readonly name: string
  /** YAML-shaped `rules:` section (defaults off unless the case turns them on). */
  readonly rules: Record<string, unknown>
  readonly steps: readonly Step[]
  /** Expected changes, in order, as `"<ruleId> <state> <priority> @<t>"`. */
  readonly expect: readonly string[]
  /** Only report changes of these rules (for cases on the default set). */
  readonly only?: readonly string[]
  readonly offsetS?: number
  readonly watermarkMs?: number
}

export const BED = 'bed-1'

export function config(rules: Record<string, unknown>): RulesConfig {
  return rulesConfigSchema.parse({ defaults: false, ...rules })
}

export function obs(code: string, value: number, tS: number, quality = 0, deviceId = 'dev-1', offsetS = 0): Observation {
  return {
    kind: 'obs', deviceId, code: codeOf(code), value, unit: '', deviceTimeMs: T0 + Math.round(tS * 1000),
    hubTimeMs: T0 + Math.round((tS + offsetS) * 1000), deviceSeq: 0, quality,
  }
}

export function fmtChange(c: AlarmChange): string {
  return `${c.ruleId} ${c.state} ${c.priority} @${(c.atMs - T0) / 1000}`
}

/** Runs a case; returns the engine and every change produced, formatted. */
export function runCase(c: Case): { engine: RuleEngine; changes: AlarmChange[]; lines: string[] } {
  const engine = createRuleEngine(config(c.rules), { watermarkMs: c.watermarkMs ?? 10_000 })
  const changes: AlarmChange[] = []
  const offsetS = c.offsetS ?? 0
  const open = new Map<string, string>() // rule id → open alarm id
  const collect = (list: readonly AlarmChange[]): void => {
    for (const ch of list) {
      changes.push(ch)
      if (ch.state === 'cleared') open.delete(ch.ruleId)
      else open.set(ch.ruleId, ch.alarmId)
    }
  }
  for (const s of c.steps) {
    switch (s[0]) {
      case 'obs':
        collect(engine.observe(BED, obs(s[1], s[2], s[3], 0, 'dev-1', offsetS)))
        break
      case 'obsq':
        collect(engine.observe(BED, obs(s[1], s[2], s[3], s[4], 'dev-1', offsetS)))
        break
      case 'obsd':
        collect(engine.observe(BED, obs(s[2], s[3], s[4], 0, s[1], offsetS)))
        break
      case 'tick':
        collect(engine.tick(T0 + Math.round(s[1] * 1000)))
        break
      case 'tech':
        collect(engine.technical(BED, 'dev-1', s[1] as never, s[2], T0 + s[3] * 1000))
        break
      case 'ack': {
        const id = open.get(s[1])
        const ch = id === undefined ? undefined : engine.acknowledge(id, s[2], T0 + s[3] * 1000)
        if (ch) collect([ch])
        break
      }
      case 'ctx':
        collect(engine.setPatientContext(BED, s[1], T0 + s[2] * 1000))
        break
    }
  }
  const shown = c.only ? changes.filter((ch) => c.only!.includes(ch.ruleId)) : changes
  return { engine, changes, lines: shown.map(fmtChange) }
}

/** `n` observations of one value, one every `stepS` seconds from `fromS`. */
export function series(code: string, value: number, fromS: number, n: number, stepS = 1): Step[] {
  return Array.from({ length: n }, (_, i) => ['obs', code, value, fromS + i * stepS] as Step)
}
/** Observations from a list of values, one per second from `fromS`. */
export function values(code: string, vals: readonly number[], fromS = 0, stepS = 1): Step[] {
  return vals.map((v, i) => ['obs', code, v, fromS + i * stepS] as Step)
}
