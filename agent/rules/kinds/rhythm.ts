/**
 * Rhythm alarm conditions: episodes the per-patch rhythm analysis reports (agent/signal/rhythm.ts),
 * asystole, VF, VT, extreme brady/tachycardia and AF. Physiological (from the patient), on device
 * time; the condition holds from the episode's onset to its offset, with no further delay: the
 * analysis has already applied its own (4 s without a QRS, a 4 s window of VF held 1.5 s, 5 ventricular beats, …).
 * Life-threatening rhythms are configured high and latching (IEC 60601-1-8 [S-LUCAS],
 * defaults.ts), so the alarm stays after the episode until someone acknowledges it.
 * Per bed, the episode state of each rhythm is kept like a technical condition (TechState: which
 * devices report it, since when).
 */
import type { RhythmRuleDef } from '../config.js'
import { PRIORITY_RANK, RHYTHM_CONDITIONS, type RhythmCondition } from '../types.js'
import type { CompiledBase } from './common.js'

const TEXT: Readonly<Record<RhythmCondition, string>> = {
  ASYS: 'Asystole',
  VF: 'Ventricular fibrillation/flutter',
  VT: 'Ventricular tachycardia',
  AFIB: 'Atrial fibrillation',
  BRADY: 'Extreme bradycardia',
  TACHY: 'Extreme tachycardia',
}

export class RhythmRule implements CompiledBase {
  readonly kind = 'rhythm'
  readonly category = 'physiological'
  readonly id: string
  readonly rhythm: RhythmCondition
  readonly rhythmIndex: number
  readonly cooldownMs: number
  readonly latching: RhythmRuleDef['latching']
  readonly rank: number

  constructor(def: RhythmRuleDef) {
    this.id = def.id
    this.rhythm = def.rhythm
    this.rhythmIndex = RHYTHM_CONDITIONS.indexOf(def.rhythm)
    this.cooldownMs = def.cooldown_s * 1000
    this.latching = def.latching
    this.rank = PRIORITY_RANK[def.priority]
  }

  describe(_value: number, _rank: number, _sinceMs: number, detail?: unknown): string {
    return typeof detail === 'string' && detail !== '' ? `${TEXT[this.rhythm]}: ${detail}` : TEXT[this.rhythm]
  }
}
