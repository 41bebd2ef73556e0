/**
 * The rule engine: per-bed state, created lazily, driven by observations (device time), technical
 * inputs and ticks (hub time). Pure: no clock reads, no I/O; the caller supplies every time.
 *
 * Time frames. Physiological rules run on device time. Each bed keeps its newest device time and
 * the offset hub − device of its latest record, so a tick (hub time) maps to the bed's device time.
 * Watermark: a record older than (its device's newest device time − watermarkMs) is too late and
 * is only counted.
 * Technical rules run on hub time.
 *
 * Hot path (`observe`): one Map lookup for the bed, one for the code's rules, integer compares;
 * the shared NONE array is returned when nothing changes (no allocation).
 */
import type { Observation } from '../../drivers/records.js'
import { Quality } from '../../drivers/records.js'
import { AlarmSlot } from './alarm-slot.js'
import { news2Group, regroup, UNGROUPED } from './grouping.js'
import type { RulesConfig } from './config.js'
import type { Evaluator, Verdict } from './kinds/common.js'
import { News2Inputs, NEWS2_INPUT_OF_CODE, type News2Rule } from './kinds/news2-rule.js'
import type { RhythmRule } from './kinds/rhythm.js'
import { TechState, type TechnicalRule } from './kinds/technical.js'
import type { News2Result } from './news2.js'
import { RuleSet, type CompiledRule } from './ruleset.js'
import { groupingOf, resolveRules } from './schema.js'
import {
  RHYTHM_CONDITIONS,
  TECHNICAL_CONDITIONS,
  type AlarmChange,
  type AlarmView,
  type RuleEngine,
  type RuleEngineOptions,
  type RuleEngineStats,
  type RhythmCondition,
  type TechnicalCondition,
} from './types.js'

const NONE: readonly AlarmChange[] = Object.freeze([])
const noop = (): void => {}
const LEADS_OFF = TECHNICAL_CONDITIONS.indexOf('leads-off')
const SENSOR_OFF = TECHNICAL_CONDITIONS.indexOf('sensor-off')
const NO_DATA = TECHNICAL_CONDITIONS.indexOf('no-data')
/**
 * A value that is not there or cannot be: no data. A questionable or calibrating value is data
 * (the device measures; noise and zeroing have their own technical alarms).
 */
const ABSENT = Quality.UNAVAILABLE | Quality.OUT_OF_RANGE
/** NEWS2 input ages when a bed has no NEWS2 rule (dashboard only): the default rule's. */
const DEFAULT_NEWS2_AGES = { maxAgeMs: 3_600_000, ctxMaxAgeMs: 43_200_000 }

class Bed {
  readonly slots: AlarmSlot[]
  readonly evals: (Evaluator | null)[]
  /** Each slot's alarm group (grouping.ts); UNGROUPED for all when grouping is off. */
  readonly groups: Int32Array
  readonly news2 = new News2Inputs()
  readonly tech = TECHNICAL_CONDITIONS.map(() => new TechState())
  /** Rhythm episodes per condition: which ECG devices report one, since when (device time). */
  readonly rhythm = RHYTHM_CONDITIONS.map(() => new TechState())
  offsetMs = Number.NaN
  /** Newest device time of any of the bed's devices: the bed's "now" on device time. */
  maxDeviceMs = Number.NEGATIVE_INFINITY
  /** Newest device time per device (a bed has a handful): lateness is judged per device, so one
   *  device whose clock runs ahead cannot make another device's records late. */
  readonly deviceIds: string[] = []
  readonly deviceMaxMs: number[] = []
  lastTickDeviceMs = Number.NEGATIVE_INFINITY
  lastObsHubMs = Number.NaN
  /** No observation with a value for the no-data timeout (bed-level silence, hub time). */
  silent = false

  constructor(
    readonly id: string,
    readonly set: RuleSet,
  ) {
    this.slots = set.rules.map(() => new AlarmSlot())
    this.evals = set.newStates()
    this.groups = set.initialGroups.slice()
    if (set.news2Index >= 0) this.slots[set.news2Index]!.detail = this.news2
  }

  /** Records `t` for `deviceId`; returns that device's watermark base (its newest device time). */
  deviceMax(deviceId: string, t: number): number {
    const i = this.deviceIds.indexOf(deviceId)
    if (i < 0) {
      this.deviceIds.push(deviceId)
      this.deviceMaxMs.push(t)
      return t
    }
    if (t > this.deviceMaxMs[i]!) this.deviceMaxMs[i] = t
    return this.deviceMaxMs[i]!
  }

  deviceNow(hubMs: number): number {
    return Number.isNaN(this.offsetMs) ? hubMs : hubMs - this.offsetMs
  }
}

export class Engine implements RuleEngine {
  private readonly wardSet: RuleSet
  private readonly bedSets = new Map<string, RuleSet>()
  private readonly beds = new Map<string, Bed>()
  private readonly open = new Map<string, { bed: Bed; index: number }>()
  private readonly watermarkMs: number
  private readonly acceptMask: number
  private readonly verdict: Verdict = { active: false, rank: 0, value: Number.NaN, sinceMs: Number.NaN, watermarkMs: Number.NaN }
  private out: AlarmChange[] | null = null
  private lateDropped = 0
  private flaggedIgnored = 0
  private unmatched = 0

  constructor(config: RulesConfig, opts: RuleEngineOptions = {}) {
    this.wardSet = new RuleSet(resolveRules(config), groupingOf(config))
    for (const bedId of Object.keys(config.beds)) this.bedSets.set(bedId, new RuleSet(resolveRules(config, bedId), groupingOf(config, bedId)))
    this.watermarkMs = opts.watermarkMs ?? 10_000
    // No option makes an impossible or absent value count (issue 16): those bits never enter the mask.
    this.acceptMask = (opts.validQualityMask ?? 0) & ~(Quality.OUT_OF_RANGE | Quality.UNAVAILABLE)
  }

  observe(bedId: string, obs: Observation): readonly AlarmChange[] {
    const bed = this.bed(bedId)
    const t = obs.deviceTimeMs
    bed.offsetMs = obs.hubTimeMs - t
    if (t > bed.maxDeviceMs) bed.maxDeviceMs = t
    const wm = bed.deviceMax(obs.deviceId, t) - this.watermarkMs
    if (t < wm) {
      this.lateDropped++
      return this.flush()
    }
    const bad = obs.quality & ~this.acceptMask
    if (bad !== 0 || Number.isNaN(obs.value)) {
      this.flaggedIgnored++
      if (bad & Quality.LEADS_OFF) this.setTech(bed, LEADS_OFF, obs.deviceId, true, obs.hubTimeMs, undefined, true)
      if (bad & Quality.SENSOR_OFF) this.setTech(bed, SENSOR_OFF, obs.deviceId, true, obs.hubTimeMs, undefined, true)
      // A value absent or impossible (without leads or sensor off, which say why and have their
      // own alarm) is no data. It used to end the no-data condition, so a failing sensor sending
      // nulls or garbage left its bed unmonitored without an alarm (red-team finding, session 11).
      // A bed never heard since this agent started starts its no-data clock at such a record:
      // else a monitor sending only nulls after a restart would never be "silent".
      if ((Number.isNaN(obs.value) || bad & ABSENT) && !(bad & (Quality.LEADS_OFF | Quality.SENSOR_OFF))) {
        if (Number.isNaN(bed.lastObsHubMs)) bed.lastObsHubMs = obs.hubTimeMs
      } else {
        this.heard(bed, obs.hubTimeMs)
      }
      return this.flush()
    }
    this.heard(bed, obs.hubTimeMs)
    // A valid value from a device means the leads/sensor its flags reported off are on again.
    if (bed.tech[LEADS_OFF]!.flagged.length > 0) this.setTech(bed, LEADS_OFF, obs.deviceId, false, obs.hubTimeMs, undefined, true)
    if (bed.tech[SENSOR_OFF]!.flagged.length > 0) this.setTech(bed, SENSOR_OFF, obs.deviceId, false, obs.hubTimeMs, undefined, true)
    const news2Slot = NEWS2_INPUT_OF_CODE.get(obs.code)
    if (news2Slot !== undefined) {
      bed.news2.set(news2Slot, obs.value, t)
      this.news2Eval(bed, bed.maxDeviceMs)
    }
    const indices = bed.set.rulesFor(obs.code)
    if (indices.length === 0 && news2Slot === undefined) this.unmatched++
    for (let k = 0; k < indices.length; k++) {
      const i = indices[k]!
      this.verdict.watermarkMs = wm
      if (bed.evals[i]!.observe(obs, this.verdict)) this.apply(bed, i, bed.maxDeviceMs)
    }
    return this.flush()
  }

  technical(bedId: string, deviceId: string, condition: TechnicalCondition, active: boolean, atMs: number, detail?: string): readonly AlarmChange[] {
    const ci = TECHNICAL_CONDITIONS.indexOf(condition)
    if (ci < 0) throw new RangeError(`unknown technical condition "${condition}"`)
    this.setTech(this.bed(bedId), ci, deviceId, active, atMs, detail, false)
    return this.flush()
  }

  rhythm(bedId: string, deviceId: string, condition: RhythmCondition, active: boolean, sinceMs: number, atMs: number): readonly AlarmChange[] {
    const ri = RHYTHM_CONDITIONS.indexOf(condition)
    if (ri < 0) throw new RangeError(`unknown rhythm condition "${condition}"`)
    const bed = this.bed(bedId)
    const st = bed.rhythm[ri]!
    st.set(deviceId, active, sinceMs, undefined, false)
    const index = bed.set.rhythmIndex[ri]!
    if (index < 0) return this.flush()
    const rule = bed.set.rules[index] as RhythmRule
    const slot = bed.slots[index]!
    slot.detail = st.active ? st.detail : undefined
    this.record(bed, index, st.active ? slot.fulfil(rule, bed.id, rule.rank, Number.NaN, st.sinceMs, atMs) : slot.relieve(rule, bed.id, atMs))
    return this.flush()
  }

  tick(nowMs: number): readonly AlarmChange[] {
    for (const bed of this.beds.values()) {
      const devNow = bed.deviceNow(nowMs)
      if (devNow > bed.lastTickDeviceMs) bed.lastTickDeviceMs = devNow
      const wm = devNow - this.watermarkMs
      for (let i = 0; i < bed.evals.length; i++) {
        if (bed.evals[i]?.tick(devNow, wm, this.verdict)) this.apply(bed, i, devNow)
      }
      for (let ci = 0; ci < TECHNICAL_CONDITIONS.length; ci++) this.technicalEval(bed, ci, nowMs)
      this.news2Eval(bed, Math.max(devNow, bed.maxDeviceMs))
      const rules = bed.set.rules
      for (let i = 0; i < rules.length; i++) {
        const rule = rules[i]!
        this.record(bed, i, bed.slots[i]!.tick(rule, bed.id, rule.category === 'technical' ? nowMs : devNow))
      }
    }
    return this.flush()
  }

  acknowledge(alarmId: string, by: string, atMs: number): AlarmChange | undefined {
    const ref = this.open.get(alarmId)
    if (!ref) return undefined
    const change = ref.bed.slots[ref.index]!.acknowledge(ref.bed.set.rules[ref.index]!, ref.bed.id, by, atMs)
    if (change?.state === 'cleared') this.open.delete(alarmId)
    return change
  }

  active(): readonly AlarmView[] {
    const out: AlarmView[] = []
    for (const { bed, index } of this.open.values()) out.push(bed.slots[index]!.view(bed.set.rules[index]!, bed.id))
    return out
  }

  news2(bedId: string): News2Result | undefined {
    const bed = this.beds.get(bedId)
    if (!bed) return undefined
    const ages = this.news2Ages(bed)
    return bed.news2.result(Math.max(bed.maxDeviceMs, bed.lastTickDeviceMs), ages.maxAgeMs, ages.ctxMaxAgeMs)
  }

  setPatientContext(
    bedId: string,
    ctx: { spo2Scale?: 1 | 2; onOxygen?: boolean; consciousness?: 'A' | 'C' | 'V' | 'P' | 'U' },
    atMs: number,
  ): readonly AlarmChange[] {
    const bed = this.bed(bedId)
    const devAt = bed.deviceNow(atMs)
    if (ctx.spo2Scale !== undefined) bed.news2.spo2Scale = ctx.spo2Scale
    if (ctx.onOxygen !== undefined) {
      bed.news2.onOxygen = ctx.onOxygen
      bed.news2.onOxygenMs = devAt
    }
    if (ctx.consciousness !== undefined) {
      bed.news2.consciousness = ctx.consciousness
      bed.news2.consciousnessMs = devAt
    }
    this.news2Eval(bed, Math.max(devAt, bed.maxDeviceMs))
    return this.flush()
  }

  resetBed(bedId: string, atMs: number): readonly AlarmChange[] {
    const bed = this.beds.get(bedId)
    if (!bed) return NONE
    const rules = bed.set.rules
    // Visible ones first: a folded alarm's clear then names a leader that is already cleared.
    const order = [...rules.keys()].sort((a, b) => Number(bed.slots[a]!.foldedInto !== '') - Number(bed.slots[b]!.foldedInto !== ''))
    for (const i of order) {
      const rule = rules[i]!
      if (rule.category === 'technical') continue
      const slot = bed.slots[i]!
      const change = slot.close(rule, bed.id, bed.deviceNow(atMs), 'cleared: the patient left the bed')
      if (change) {
        this.open.delete(change.alarmId)
        ;(this.out ??= []).push(change)
      }
    }
    const fresh = bed.set.newStates()
    for (let i = 0; i < rules.length; i++) if (rules[i]!.category !== 'technical') bed.evals[i] = fresh[i]!
    bed.news2.reset()
    // The rhythm episodes were the last patient's: the next one's are reported afresh by the analysis.
    for (let i = 0; i < bed.rhythm.length; i++) bed.rhythm[i] = new TechState()
    bed.groups.set(bed.set.initialGroups)
    return this.flush()
  }

  stats(): RuleEngineStats {
    return { beds: this.beds.size, lateDropped: this.lateDropped, flaggedIgnored: this.flaggedIgnored, unmatched: this.unmatched }
  }

  /** Approximate bytes of evaluator state of one bed (ring buffers and scalars), for the memory report. */
  stateBytes(bedId: string): number | undefined {
    const bed = this.beds.get(bedId)
    if (!bed) return undefined
    let bytes = 400 + bed.slots.length * 160
    for (const e of bed.evals) bytes += e?.bytes ?? 0
    return bytes
  }

  private bed(bedId: string): Bed {
    let bed = this.beds.get(bedId)
    if (!bed) {
      bed = new Bed(bedId, this.bedSets.get(bedId) ?? this.wardSet)
      this.beds.set(bedId, bed)
    }
    return bed
  }

  private setTech(bed: Bed, ci: number, deviceId: string, active: boolean, atMs: number, detail: string | undefined, fromQuality: boolean): void {
    if (bed.tech[ci]!.set(deviceId, active, atMs, detail, fromQuality) || active) this.technicalEval(bed, ci, atMs)
  }

  /** The bed had data at hub time `atMs`: the no-data timeout starts again (and an open no-data condition ends). */
  private heard(bed: Bed, atMs: number): void {
    if (!(atMs <= bed.lastObsHubMs)) bed.lastObsHubMs = atMs
    if (bed.silent) this.technicalEval(bed, NO_DATA, atMs)
  }

  /** Decides technical condition `ci` of a bed at hub time `atMs`. */
  private technicalEval(bed: Bed, ci: number, atMs: number): void {
    const index = bed.set.technicalIndex[ci]!
    if (index < 0) return
    const rule = bed.set.rules[index] as TechnicalRule
    const slot = bed.slots[index]!
    const st = bed.tech[ci]!
    let since = st.sinceMs
    if (ci === NO_DATA && !st.active) {
      // Bed-level silence: no observation with a value for timeoutMs (hub time).
      bed.silent = !Number.isNaN(bed.lastObsHubMs) && atMs - bed.lastObsHubMs >= rule.timeoutMs
      since = bed.silent ? bed.lastObsHubMs : Number.NaN
    }
    if (Number.isNaN(since)) return this.record(bed, index, slot.relieve(rule, bed.id, atMs))
    if (atMs - since < rule.delayMs) return
    slot.detail = st.active ? st.detail : undefined
    this.record(bed, index, slot.fulfil(rule, bed.id, rule.rank, Number.NaN, since, atMs))
  }

  private news2Eval(bed: Bed, devNowMs: number): void {
    const index = bed.set.news2Index
    if (index < 0) return
    ;(bed.set.rules[index] as News2Rule).decide(bed.news2, devNowMs, this.verdict)
    const was = bed.groups[index]!
    // NEWS2 sits under the parameter that alone gave its points (grouping.ts).
    const now = was === UNGROUPED ? was : news2Group(this.verdict.value, bed.news2.contributors)
    bed.groups[index] = now
    this.apply(bed, index, devNowMs)
    // Also when NEWS2 just cleared: its old group's alarms were folded under it (a property test
    // found hr-avg-high left folded under a cleared NEWS2 alarm, hidden on the page).
    if (now !== was) {
      this.regroup(bed, was)
      this.regroup(bed, now)
    }
  }

  private news2Ages(bed: Bed): { maxAgeMs: number; ctxMaxAgeMs: number } {
    const index = bed.set.news2Index
    return index < 0 ? DEFAULT_NEWS2_AGES : (bed.set.rules[index] as News2Rule)
  }

  /** Feeds the scratch verdict to the rule's alarm slot. */
  private apply(bed: Bed, index: number, atMs: number): void {
    const rule: CompiledRule = bed.set.rules[index]!
    const slot = bed.slots[index]!
    const v = this.verdict
    const change = v.active ? slot.fulfil(rule, bed.id, v.rank, v.value, v.sinceMs, atMs) : slot.relieve(rule, bed.id, atMs)
    this.record(bed, index, change)
  }

  private record(bed: Bed, index: number, change: AlarmChange | undefined): void {
    if (!change) return
    if (change.state === 'raised') this.open.set(change.alarmId, { bed, index })
    else if (change.state === 'cleared') this.open.delete(change.alarmId)
    const out = (this.out ??= [])
    out.push(change)
    const g = bed.groups[index]!
    if (g === UNGROUPED) return
    // The change may fold or unfold alarms of its group (grouping.ts). The change itself carries
    // the result; the others' visibility is a view (active()), not a state change of theirs.
    const at = out.length - 1
    const slot = bed.slots[index]!
    regroup(bed.slots, bed.groups, g, (i) => {
      if (i === index && slot.open) out[at] = slot.view(bed.set.rules[i]!, bed.id)
    })
  }

  /** Re-derives the visibility of group `g` of a bed (NEWS2 moved between groups). */
  private regroup(bed: Bed, g: number): void {
    regroup(bed.slots, bed.groups, g, noop)
  }

  private flush(): readonly AlarmChange[] {
    const out = this.out
    this.out = null
    return out ?? NONE
  }
}

export function createRuleEngine(rules: RulesConfig, opts?: RuleEngineOptions): Engine {
  return new Engine(rules, opts)
}
