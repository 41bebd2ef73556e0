/**
 * Alarm grouping (issue 19): per bed and physiological parameter, one visible alarm at a time.
 *
 * Why: one clinical event fired every rule that watches its parameter. A tachycardia of 185 /min
 * raised `hr-high` (high), `hr-avg-high` (low, 60 s average) and NEWS2 (single parameter 3): three
 * entries for one thing, and 72–99 % of monitor alarms are already false or not actionable
 * (Sendelbach & Funk 2013, AACN Adv Crit Care 24(4):378–386). Grouping keeps every alarm — in the
 * engine, the history and on alert-events — but shows one per parameter.
 *
 * Rules, per group (a bed and a parameter family):
 * - the visible alarm is the open alarm of the highest priority; of several at that priority, the
 *   one whose condition started first (then rule order);
 * - every other open alarm of the group is folded under it (`foldedInto`): not a second list
 *   entry, not sounding;
 * - high-priority alarms are never folded: two high alarms of one parameter are both shown, so
 *   grouping can never hide or delay a high-priority alarm (property-tested);
 * - when the visible alarm ends, the next one by the same order becomes visible;
 * - technical alarms are never grouped (they are about equipment, each needs its own action).
 *
 * Parameter families: one physiological quantity, whichever device measures it. ECG heart rate and
 * oximeter pulse rate are one family (one tachycardia seen by two devices is one event), systolic
 * pressures one, body and core temperature one. A code outside these is its own family.
 *
 * NEWS2 (category clinical-escalation) joins the family of its only contributing parameter while
 * its aggregate is below 5 (e.g. the single 3 of a pulse of 185 sits under the pulse alarm); with
 * points from several parameters, or 5 and above, it is a group of its own.
 * [LOCAL] No published default for grouping was found; the design follows the "highest priority
 * first" presentation IEC 60601-1-8 asks of simultaneous alarm conditions (protocols.md §10).
 */
import { MDC } from '../../drivers/codes.js'
import { RHYTHM_CONDITIONS, type RhythmCondition } from './types.js'

/** Group of an alarm that is never grouped (technical). */
export const UNGROUPED = -1
/** NEWS2 with points from several parameters, or ≥ 5: its own group. */
export const NEWS2_GROUP = -2

const PULSE = 1, SPO2 = 2, RESP = 3, SYSTOLIC = 4, TEMP = 5
/** Codes of other families start above this. */
const OWN_FAMILY_BASE = 16

const FAMILY_OF_CODE: ReadonlyMap<number, number> = new Map([
  [MDC.MDC_ECG_HEART_RATE!, PULSE],
  [MDC.MDC_PULS_RATE!, PULSE],
  [MDC.MDC_PULS_OXIM_PULS_RATE!, PULSE],
  [MDC.MDC_PULS_RATE_NON_INV!, PULSE],
  [MDC.MDC_BLD_PULS_RATE_INV!, PULSE],
  [MDC.MDC_PULS_OXIM_SAT_O2!, SPO2],
  [MDC.MDC_RESP_RATE!, RESP],
  [MDC.MDC_PRESS_BLD_NONINV_SYS!, SYSTOLIC],
  [MDC.MDC_PRESS_BLD_SYS!, SYSTOLIC],
  [MDC.MDC_PRESS_BLD_ART_SYS!, SYSTOLIC],
  [MDC.MDC_TEMP_BODY!, TEMP],
  [MDC.MDC_TEMP_CORE!, TEMP],
])

/** The parameter family of an MDC code (its own family when it is none of the known ones). */
export function familyOfCode(code: number): number {
  return FAMILY_OF_CODE.get(code) ?? OWN_FAMILY_BASE + code
}

/** Rhythm groups (below NEWS2_GROUP): one per rhythm condition. */
const RHYTHM_GROUP_BASE = -16

/**
 * Rhythm alarms (kinds/rhythm.ts): the extreme rates join the pulse family (one tachycardia is one
 * event, whether a threshold or the rhythm analysis saw it); the other rhythms are groups of their
 * own: a rhythm is not a rate, an AF advisory is not folded under a tachycardia alarm. [LOCAL]
 */
export function familyOfRhythm(condition: RhythmCondition): number {
  return condition === 'BRADY' || condition === 'TACHY' ? PULSE : RHYTHM_GROUP_BASE - RHYTHM_CONDITIONS.indexOf(condition)
}

/** Family of each NEWS2 device input slot (news2-rule.ts: RR, SpO2, SBP, pulse, temp). */
const FAMILY_OF_NEWS2_SLOT: readonly number[] = [RESP, SPO2, SYSTOLIC, PULSE, TEMP]

/**
 * The group of the NEWS2 alarm given its aggregate and the bitmask of contributing inputs (bits
 * 0–4 device slots, higher bits consciousness and oxygen).
 */
export function news2Group(total: number, contributors: number): number {
  if (total >= 5 || contributors === 0 || (contributors & (contributors - 1)) !== 0) return NEWS2_GROUP
  const slot = 31 - Math.clz32(contributors)
  return slot < FAMILY_OF_NEWS2_SLOT.length ? FAMILY_OF_NEWS2_SLOT[slot]! : NEWS2_GROUP
}

/** What grouping needs of an alarm slot. */
export interface GroupMember {
  readonly open: boolean
  readonly alarmId: string
  readonly rank: number
  readonly conditionSinceMs: number
  foldedInto: string
}

const HIGH = 2

/**
 * Recomputes `foldedInto` for the open members of group `g` (members[i] is in group groups[i]).
 * Calls `changed(i)` for each member whose visibility changed. No allocation.
 */
export function regroup(members: readonly GroupMember[], groups: Int32Array, g: number, changed: (i: number) => void): void {
  if (g === UNGROUPED) return
  let lead = -1
  for (let i = 0; i < members.length; i++) {
    const m = members[i]!
    if (groups[i] !== g || !m.open) continue
    if (lead < 0) { lead = i; continue }
    const l = members[lead]!
    if (m.rank > l.rank || (m.rank === l.rank && m.conditionSinceMs < l.conditionSinceMs)) lead = i
  }
  if (lead < 0) return
  const leadId = members[lead]!.alarmId
  for (let i = 0; i < members.length; i++) {
    const m = members[i]!
    if (groups[i] !== g || !m.open) continue
    const want = i === lead || m.rank >= HIGH ? '' : leadId
    if (m.foldedInto !== want) {
      m.foldedInto = want
      changed(i)
    }
  }
}
