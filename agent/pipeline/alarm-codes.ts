/**
 * The numeric code each alarm carries (Alarm.mdc_code, issue 24): the same vocabulary as the
 * readings. A rule on a parameter (threshold, window, trend) takes that parameter's MDC code; a
 * NEWS2, rhythm or technical rule, which has none, takes its private event code (drivers/codes.ts).
 * Built once from the effective rules of every bed (a bed's patch cannot change a rule's kind, so
 * an id means the same condition everywhere), looked up once per alarm change.
 */
import { codeOf, eventCodeRef, termByRef } from '../../drivers/codes.js'
import { resolveRules, type RuleDef, type RulesConfig } from '../rules/index.js'

/** The code of a rule's alarms; 0 when the table has none for it (never expected: codes.json lists them all). */
export function alarmCodeOfRule(def: RuleDef): number {
  switch (def.kind) {
    case 'threshold':
    case 'window':
    case 'trend':
      return codeOf(def.code)
    case 'news2':
      return codeOf('BEDSIDE_NEWS2_SCORE')
    case 'rhythm':
      return termByRef(eventCodeRef(def.rhythm))?.code ?? 0
    case 'technical':
      return termByRef(eventCodeRef(def.condition))?.code ?? 0
  }
}

export class AlarmCodes {
  private readonly byRule = new Map<string, number>()

  constructor(rules: RulesConfig, bedIds: readonly string[]) {
    for (const bedId of [undefined, ...bedIds]) {
      for (const def of resolveRules(rules, bedId)) if (!this.byRule.has(def.id)) this.byRule.set(def.id, alarmCodeOfRule(def))
    }
  }

  /** The code of an alarm of rule `ruleId`; its parameter's (`codeRef`) first, when the change names one. */
  of(ruleId: string, codeRef: string | undefined): number {
    if (codeRef !== undefined) {
      const t = termByRef(codeRef)
      if (t) return t.code
    }
    return this.byRule.get(ruleId) ?? 0
  }
}
