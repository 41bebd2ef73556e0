/**
 * The ward's use cases, with explicit inputs: what a nurse, an admitting clerk or a station does
 * (acknowledge an alarm, admit, discharge, transfer) and what they are shown (beds, alarms), with
 * the audit every one of them leaves (who saw whom, issue 18). Transport-free: the HTTP API, the
 * dashboard feed and MQTT nurse stations are thin adapters over it (api.ts, serve/mqtt.ts).
 *
 * Every write is audited and resolves only once durable (its audit event committed).
 */
import type { AuditAction } from '../audit-actions.js'
import type { Config } from '../config.js'
import { alarmJson, vitalJson } from '../outputs.js'
import type { DeviceStatus } from '../pipeline/device-status.js'
import type { LatestVitals } from '../pipeline/latest.js'
import type { AlarmChange, RuleEngine } from '../rules/index.js'
import { MANUAL, type Admission, type Admissions } from '../store/admissions.js'
import { unknownBed, who, type Actor } from './actor.js'
import { AdtCases } from './adt-cases.js'
import { AlarmHistory } from '../store/alarm-history.js'
import type { Db } from '../store/db.js'
import type { Pseudonymizer } from '../sync/pseudonym.js'
import { AuditedViews } from './audited-views.js'
import { BedContexts, type BedContext, type BedContextInput } from './context.js'

export type { Actor } from './actor.js'

export type Refusal<S extends number> = { ok: false; status: S; error: string; field: string }

export interface WardDeps {
  readonly beds: Config['beds']
  readonly db: Db
  readonly admissions: Admissions
  readonly engine: RuleEngine
  readonly latest: LatestVitals
  readonly devices: DeviceStatus
  readonly pseudonyms: Pseudonymizer
  /** Records and publishes alarm changes (Pipeline.handleAlarms). */
  readonly alarms: (changes: readonly AlarmChange[]) => void
  /** Appends an audit event (Pipeline.audit). */
  readonly audit: (action: AuditAction, actor: string, bedId: string | null, detail: string, admissionId?: number) => void
  /** The hub_seq the next appended record gets (GroupCommitter.peekHubSeq). */
  readonly nextSeq: () => number
  /** Resolves once the records appended from `fromSeq` on are durable; rejects with their commit's error. */
  readonly durable: (fromSeq: number) => Promise<void>
  /** A bed's patient changed: its tile must be redrawn. */
  readonly bedChanged: (bedId: string) => void
}

export class Ward {
  private readonly audited = new AuditedViews()
  private readonly contexts: BedContexts
  private readonly history: AlarmHistory
  private readonly bedIds: ReadonlySet<string>
  /** Issue 21: the same use cases as the hospital's ADT feed drives them (ward/adt-cases.ts). */
  readonly adt: AdtCases

  constructor(private readonly d: WardDeps) {
    this.bedIds = new Set(d.beds.map((b) => b.id))
    this.adt = new AdtCases(d, this.bedIds, {
      reset: (bedId) => this.resetBed(bedId),
      contextOf: (bedId) => ({ ...this.contexts.of(bedId) }),
      carryContext: (bedId, admissionId, c) => this.carryContext(bedId, admissionId, c),
    })
    this.contexts = new BedContexts(d.db, (bedId) => d.admissions.current(bedId)?.id ?? null)
    this.history = new AlarmHistory(d.db)
  }

  /**
   * At start, once the outputs exist: the NEWS2 context a nurse set before a restart is still the
   * patient's (scale 2 is a clinical decision), back into the engine, its alarms published as usual.
   */
  restoreContexts(): void {
    for (const [bedId, c] of this.contexts.all()) if (this.bedIds.has(bedId)) this.applyContext(bedId, c)
  }

  /** The context a patient brought from their previous bed, stored for the new admission and into the engine. */
  private carryContext(bedId: string, admissionId: number, carried: BedContext): void {
    if (Object.keys(carried).length === 0) return
    this.contexts.put(bedId, admissionId, carried)
    this.applyContext(bedId, carried)
  }

  /** A stored context into the engine, each value at the time it was set; its alarms published as usual. */
  private applyContext(bedId: string, c: BedContext): void {
    const apply = (ctx: Parameters<RuleEngine['setPatientContext']>[1], atMs: number) => {
      const changes = this.d.engine.setPatientContext(bedId, ctx, atMs)
      if (changes.length > 0) this.d.alarms(changes)
    }
    if (c.spo2_scale) apply({ spo2Scale: c.spo2_scale.value }, c.spo2_scale.atMs)
    if (c.on_oxygen) apply({ onOxygen: c.on_oxygen.value }, c.on_oxygen.atMs)
    if (c.consciousness) apply({ consciousness: c.consciousness.value }, c.consciousness.atMs)
  }

  beds(): unknown[] {
    return this.d.beds.map((b) => this.bed(b.id))
  }

  /** One bed's tile: patient label, vitals, NEWS2, devices with link and battery state. */
  bed(bedId: string): unknown {
    const admission = this.d.admissions.current(bedId)
    const latest = this.d.latest.of(bedId)
    const devices = this.d.beds.find((b) => b.id === bedId)?.devices ?? []
    return {
      id: bedId,
      // The patient label stays on the ward network (never synced); the MRN is not shown.
      // source (issue 21): 'adt' from the hospital's interface engine, 'manual' through the API.
      patient: admission ? { label: admission.name ?? 'admitted', admittedMs: admission.admittedMs, source: admission.source } : null,
      devices: devices.map((d) => ({ id: d.id, type: d.type, link: this.d.devices.link(d.id) ?? null, battery: this.d.devices.isLowBattery(d.id) ? 'low' : null })),
      vitals: latest ? [...latest.values()].map(vitalJson) : [],
      // The NEWS2 inputs a nurse set (POST /api/beds/{bed}/context), each with when and by whom.
      context: this.contexts.of(bedId),
      news2: this.d.engine.news2(bedId) ?? null,
    }
  }

  /**
   * The active alarms as a nurse's list: one entry per visible alarm, the alarms folded under it
   * (grouping, rules/grouping.ts) inside it as `folded`, never as entries of their own.
   */
  alarms(): unknown[] {
    const active = this.d.engine.active()
    const folded = new Map<string, unknown[]>()
    for (const v of active) if (v.foldedInto !== undefined) (folded.get(v.foldedInto) ?? folded.set(v.foldedInto, []).get(v.foldedInto)!).push(alarmJson(v))
    const open = new Set(active.map((v) => v.alarmId))
    const out: unknown[] = []
    for (const v of active) {
      if (v.foldedInto !== undefined && open.has(v.foldedInto)) continue
      out.push({ ...alarmJson(v), folded: folded.get(v.alarmId) ?? [] })
    }
    return out
  }

  /**
   * The alarm history (GET /api/alarms?state=all&since=…): every alarm with a state change
   * recorded since `sinceMs` (hub time), read from the store, one entry per alarm (episode) with its
   * changes in order; open alarms whose changes are older are included too. `limit` bounds the rows read.
   */
  alarmHistory(sinceMs: number, limit: number): { alarms: unknown[]; truncated: boolean; unreadable: number } {
    const { changes, truncated, unreadable } = this.history.changesSince(sinceMs, limit)
    const byId = new Map<string, { latest: Record<string, unknown>; history: unknown[] }>()
    for (const { hubSeq, bedId, hubTimeMs, alarm: a } of changes) {
      const latest: Record<string, unknown> = {
        alarmId: a.alarmId, bedId, ruleId: a.ruleId, state: a.state, priority: a.priority, category: a.category, message: a.message,
        conditionSinceMs: a.conditionSinceMs, atMs: a.atMs, latching: a.latching,
        ...(a.code ? { code: a.code } : {}), ...(Number.isNaN(a.value) ? {} : { value: a.value }), ...(a.ackBy ? { ackBy: a.ackBy } : {}),
        ...(a.foldedInto ? { foldedInto: a.foldedInto } : {}),
      }
      const step = { state: a.state, priority: a.priority, atMs: a.atMs, recordedMs: hubTimeMs, hubSeq, ...(a.ackBy ? { ackBy: a.ackBy } : {}), ...(a.foldedInto ? { foldedInto: a.foldedInto } : {}) }
      const entry = byId.get(a.alarmId)
      if (entry) {
        entry.latest = latest
        entry.history.push(step)
      } else byId.set(a.alarmId, { latest, history: [step] })
    }
    const alarms: unknown[] = [...byId.values()].map((e) => ({ ...e.latest, history: e.history }))
    for (const v of this.d.engine.active()) if (!byId.has(v.alarmId)) alarms.push({ ...alarmJson(v), history: [] })
    return { alarms, truncated, unreadable }
  }

  /** `bedId`, when given (MQTT acks name the bed in the topic), must be the alarm's bed. */
  async acknowledge(alarmId: string, actor: Actor, bedId?: string): Promise<{ ok: true; alarm: unknown } | Refusal<404 | 409>> {
    if (bedId !== undefined && !this.d.engine.active().some((v) => v.alarmId === alarmId && v.bedId === bedId)) {
      return { ok: false, status: 404, error: `no active alarm ${alarmId} on bed ${bedId}`, field: 'id' }
    }
    const from = this.d.nextSeq()
    const change = this.d.engine.acknowledge(alarmId, actor.name, Date.now())
    if (!change) {
      const exists = this.d.engine.active().some((v) => v.alarmId === alarmId)
      return exists
        ? { ok: false, status: 409, error: `alarm ${alarmId} is already acknowledged`, field: 'id' }
        : { ok: false, status: 404, error: `no active alarm ${alarmId}`, field: 'id' }
    }
    this.d.alarms([change])
    this.d.audit('alarm-ack', who(actor), change.bedId, `alarm ${alarmId} (${change.ruleId}) acknowledged`)
    await this.d.durable(from)
    return { ok: true, alarm: alarmJson(change) }
  }

  async admit(req: { bed_id: string; mrn: string; name?: string; birth_date?: string }, actor: Actor) {
    if (!this.bedIds.has(req.bed_id)) return unknownBed(req.bed_id, 'bed_id')
    const from = this.d.nextSeq()
    // The bed's alarms are cleared under the admission they belonged to, before the new one starts.
    this.resetBed(req.bed_id)
    const a = this.d.admissions.admit(req.bed_id, req.mrn, req.name ?? null, req.birth_date ?? null, Date.now(), MANUAL)
    this.d.bedChanged(req.bed_id)
    const pseudonym = this.d.pseudonyms.pseudonym('patient', a.mrn)
    // The audit trail names the admission by its local id and pseudonym, never by MRN or name.
    this.d.audit('admission', who(actor), req.bed_id, `admission ${a.id} to bed ${req.bed_id}, patient ${pseudonym}`)
    await this.d.durable(from)
    return { ok: true as const, admission: { id: a.id, bedId: a.bedId, admittedMs: a.admittedMs, pseudonym, source: a.source } }
  }

  async discharge(bedId: string, actor: Actor) {
    if (!this.bedIds.has(bedId)) return unknownBed(bedId, 'bed_id')
    if (!this.d.admissions.current(bedId)) return { ok: false as const, status: 404 as const, error: `bed_id: no patient admitted to bed "${bedId}"`, field: 'bed_id' }
    const from = this.d.nextSeq()
    // "cleared" for every open alarm of the patient, published under their admission (same key, same partition).
    this.resetBed(bedId)
    const a = this.d.admissions.discharge(bedId, Date.now())!
    this.d.bedChanged(bedId)
    this.d.audit('discharge', who(actor), bedId, `admission ${a.id} discharged from bed ${bedId}`, a.id)
    await this.d.durable(from)
    return { ok: true as const }
  }

  /** Moves a patient: discharge from one bed and admission to the other, one audit event. */
  async transfer(req: { bed_id: string; to_bed_id: string }, actor: Actor) {
    if (!this.bedIds.has(req.bed_id)) return unknownBed(req.bed_id, 'bed_id')
    if (!this.bedIds.has(req.to_bed_id)) return unknownBed(req.to_bed_id, 'to_bed_id')
    const from = this.d.admissions.current(req.bed_id)
    if (!from) return { ok: false as const, status: 404 as const, error: `bed_id: no patient admitted to bed "${req.bed_id}"`, field: 'bed_id' }
    if (req.to_bed_id === req.bed_id || this.d.admissions.current(req.to_bed_id)) {
      return { ok: false as const, status: 409 as const, error: `to_bed_id: bed "${req.to_bed_id}" is occupied; discharge first`, field: 'to_bed_id' }
    }
    const now = Date.now()
    const fromSeq = this.d.nextSeq()
    // The NEWS2 context is the patient's (scale 2 is a clinical decision): it moves with them.
    const carried = { ...this.contexts.of(req.bed_id) }
    this.resetBed(req.bed_id)
    this.resetBed(req.to_bed_id)
    // One transaction: a crash cannot leave the patient discharged from one bed and not yet in the other.
    const to: Admission = this.d.db.transaction(() => {
      this.d.admissions.discharge(req.bed_id, now)
      return this.d.admissions.admit(req.to_bed_id, from.mrn, from.name, from.birthDate, now, from) // keeps its source (ADT or manual)
    })()
    this.carryContext(req.to_bed_id, to.id, carried)
    this.d.bedChanged(req.bed_id)
    this.d.bedChanged(req.to_bed_id)
    const pseudonym = this.d.pseudonyms.pseudonym('patient', to.mrn)
    this.d.audit('transfer', who(actor), req.to_bed_id, `admission ${from.id} in bed ${req.bed_id} moved to admission ${to.id} in bed ${req.to_bed_id}, patient ${pseudonym}`)
    await this.d.durable(fromSeq)
    return { ok: true as const, admission: { id: to.id, bedId: to.bedId, admittedMs: to.admittedMs, pseudonym, from: { id: from.id, bedId: from.bedId } } }
  }

  /**
   * The NEWS2 inputs no device sends, set by a nurse (or a station over MQTT): into the engine at
   * once (it re-scores the bed and may raise or clear), audited with who and what.
   */
  async setContext(bedId: string, input: BedContextInput, actor: Actor): Promise<{ ok: true; context: unknown; news2: unknown } | Refusal<404>> {
    if (!this.bedIds.has(bedId)) return unknownBed(bedId, 'bed_id')
    const from = this.d.nextSeq()
    const nowMs = Date.now()
    const changes = this.d.engine.setPatientContext(bedId, { consciousness: input.consciousness, onOxygen: input.on_oxygen, spo2Scale: input.spo2_scale }, nowMs)
    if (changes.length > 0) this.d.alarms(changes)
    const context = this.contexts.set(bedId, this.d.admissions.current(bedId)?.id ?? null, input, nowMs, who(actor))
    const what = [input.consciousness && `consciousness ${input.consciousness}`, input.on_oxygen !== undefined && `on oxygen ${input.on_oxygen ? 'yes' : 'no'}`, input.spo2_scale && `SpO2 scale ${input.spo2_scale}`].filter(Boolean).join(', ')
    this.d.audit('news2-context', who(actor), bedId, `NEWS2 context of bed ${bedId}: ${what}`)
    this.d.bedChanged(bedId)
    await this.d.durable(from)
    return { ok: true, context, news2: this.d.engine.news2(bedId) ?? null }
  }

  /** Audit (issue 18): a sign-in on the page (`explicit`) or a token's first request since start. */
  signedIn(actor: Actor, detail: string, explicit: boolean): void {
    this.d.audit(explicit ? 'sign-in' : 'token-first-use', who(actor), null, detail)
  }

  /** Audits the first view per token, bed and admission; beds without a patient show no one. */
  viewed(actor: Actor, bedIds: readonly string[] | 'all', via: string): void {
    const by = who(actor)
    const ids = bedIds === 'all' ? [...this.bedIds] : bedIds
    for (const bedId of ids) {
      const admission = this.d.admissions.current(bedId)
      if (!admission || !this.audited.firstTime(`${by}|${bedId}|${admission.id}`)) continue
      // Named by admission id, never by name or MRN (the audit log leaves the gateway).
      this.d.audit('patient-view', by, bedId, `admission ${admission.id} in bed ${bedId} shown to ${by} (${via})`)
    }
  }

  /**
   * Its patient is about to change: publishes "cleared" for the bed's open alarms (under the
   * admission they belong to) and forgets what the engine and the latest values knew about it.
   * The caller redraws the tile once the admission changed.
   */
  private resetBed(bedId: string): void {
    // Every open alarm of the patient who left is published as cleared (issue 19), not dropped.
    const cleared = this.d.engine.resetBed(bedId, Date.now())
    if (cleared.length > 0) this.d.alarms(cleared)
    this.contexts.clear(bedId)
    this.d.latest.clearBed(bedId)
  }
}
