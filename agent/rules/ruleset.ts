/**
 * A compiled rule set: the rules in force for a bed (or the ward), with the lookups the hot path
 * needs: MDC code → rule indices, technical condition → rule index, the NEWS2 rule.
 * Compiled once at engine creation; beds share their ward's set unless overridden.
 */
import type { RuleDef } from './config.js'
import { assertValidRule } from './schema.js'
import { familyOfCode, familyOfRhythm, NEWS2_GROUP, UNGROUPED } from './grouping.js'
import type { Evaluator } from './kinds/common.js'
import { News2Rule } from './kinds/news2-rule.js'
import { RhythmRule } from './kinds/rhythm.js'
import { TechnicalRule } from './kinds/technical.js'
import { ThresholdRule } from './kinds/threshold.js'
import { TrendRule } from './kinds/trend.js'
import { WindowRule } from './kinds/window.js'
import { RHYTHM_CONDITIONS, TECHNICAL_CONDITIONS } from './types.js'

export type CompiledRule = ThresholdRule | WindowRule | TrendRule | News2Rule | TechnicalRule | RhythmRule
type ValueRule = ThresholdRule | WindowRule | TrendRule

const EMPTY_INDICES: readonly number[] = Object.freeze([])

export class RuleSet {
  readonly rules: readonly CompiledRule[]
  private readonly byCode = new Map<number, number[]>()
  /** Technical condition index → rule index (−1: no rule for it). */
  readonly technicalIndex: Int16Array
  /** Rhythm condition index → rule index (−1: no rule for it). */
  readonly rhythmIndex: Int16Array
  readonly news2Index: number
  /** Alarm grouping (grouping.ts): each rule's initial group; NEWS2's moves with its inputs. */
  readonly initialGroups: Int32Array

  /** `grouping`: one visible alarm per bed and parameter (grouping.ts); off: every rule's alarm on its own. */
  constructor(defs: readonly RuleDef[], readonly grouping = true) {
    const rules: CompiledRule[] = []
    this.technicalIndex = new Int16Array(TECHNICAL_CONDITIONS.length).fill(-1)
    this.rhythmIndex = new Int16Array(RHYTHM_CONDITIONS.length).fill(-1)
    let news2Index = -1
    for (const def of defs) {
      assertValidRule(def)
      const rule = compile(def)
      const idx = rules.push(rule) - 1
      if (rule.kind === 'news2') news2Index = idx
      else if (rule.kind === 'technical') this.technicalIndex[rule.conditionIndex] = idx
      else if (rule.kind === 'rhythm') this.rhythmIndex[rule.rhythmIndex] = idx
      else {
        const list = this.byCode.get(rule.code) ?? []
        list.push(idx)
        this.byCode.set(rule.code, list)
      }
    }
    this.rules = rules
    this.news2Index = news2Index
    this.initialGroups = Int32Array.from(rules, (r) =>
      !grouping || r.kind === 'technical' ? UNGROUPED : r.kind === 'news2' ? NEWS2_GROUP : r.kind === 'rhythm' ? familyOfRhythm(r.rhythm) : familyOfCode(r.code))
  }

  /** Indices of the value rules that watch `code` (a shared empty array when none). */
  rulesFor(code: number): readonly number[] {
    return this.byCode.get(code) ?? EMPTY_INDICES
  }

  /** Fresh per-bed evaluator states, aligned with `rules` (null for NEWS2 and technical rules). */
  newStates(): (Evaluator | null)[] {
    return this.rules.map((r) => (isValueRule(r) ? r.newState() : null))
  }
}

function isValueRule(r: CompiledRule): r is ValueRule {
  return r.kind === 'threshold' || r.kind === 'window' || r.kind === 'trend'
}

function compile(def: RuleDef): CompiledRule {
  switch (def.kind) {
    case 'threshold':
      return new ThresholdRule(def)
    case 'window':
      return new WindowRule(def)
    case 'trend':
      return new TrendRule(def)
    case 'news2':
      return new News2Rule(def)
    case 'rhythm':
      return new RhythmRule(def)
    default:
      return new TechnicalRule(def)
  }
}
