/**
 * The HTTP API's view of the agent (serve/http.ts AgentApi) and the dashboard feed's state
 * (serve/ws.ts LiveState): bed and alarm listings, acknowledgements and admissions. Every write is
 * audited and answered only once durable; every sign-in and every token's first view of a patient
 * is audited too (issue 18: who saw whom, as HIPAA's access log expects).
 */
import type { AgentInternals } from './agent.js'
import { version } from './version.js'
import { alarmJson, vitalJson } from './outputs.js'
import type { Actor, AdmitRequest, AgentApi, TransferRequest } from './serve/http.js'
import type { LiveState } from './serve/ws.js'
import { isLoopback } from './serve/access.js'

/** Rule ids of the default technical rules the page shows as device state, not only as alarms. */
const isLowBattery = (ruleId: string) => ruleId.includes('low-battery')
const isOverQuota = (ruleId: string) => ruleId.includes('queue-over-quota')

/**
 * Views already audited, as `actor|bed|admission` keys. Bounded: past the bound the oldest keys are
 * forgotten, which at worst audits a view again (8 beds × 100 tokens × 10 admissions fit).
 */
export const VIEWS_REMEMBERED = 8192

class AuditedViews {
  private readonly keys = new Set<string>()
  constructor(private readonly max = VIEWS_REMEMBERED) {}

  /** True the first time `key` is offered (since start or since it was forgotten). */
  firstTime(key: string): boolean {
    if (this.keys.has(key)) return false
    if (this.keys.size >= this.max) this.keys.delete(this.keys.values().next().value!)
    this.keys.add(key)
    return true
  }
}

export class AgentApiImpl implements AgentApi, LiveState {
  private readonly audited = new AuditedViews()

  constructor(private readonly a: AgentInternals) {}

  private durable(): Promise<void> {
    return new Promise((resolve, reject) => this.a.committer.whenCommitted((err) => (err ? reject(err) : resolve())))
  }

  private actor(actor: Actor): string {
    return `${actor.role}:${actor.name}`
  }

  hubId(): string {
    return this.a.cfg.hub.id
  }

  beds(): unknown[] {
    return this.a.cfg.beds.map((b) => this.bed(b.id))
  }

  /** One bed's tile: patient label, vitals, NEWS2, devices with link state. */
  bed(bedId: string): unknown {
    const admission = this.a.admissions.current(bedId)
    const latest = this.a.latest.of(bedId)
    const cfg = this.a.cfg.beds.find((b) => b.id === bedId)
    const lowBattery = this.a.engine.active().filter((v) => v.bedId === bedId && isLowBattery(v.ruleId))
    const devices = cfg?.devices ?? []
    // Technical alarms name their device in the message ("…: patch-01 battery 15 %", rules/kinds/technical.ts).
    const batteryOf = (deviceId: string) => (lowBattery.some((v) => devices.length === 1 || v.message.includes(deviceId)) ? 'low' : null)
    return {
      id: bedId,
      // The patient label stays on the ward network (never synced); the MRN is not shown.
      patient: admission ? { label: admission.name ?? 'admitted', admittedMs: admission.admittedMs } : null,
      devices: devices.map((d) => ({ id: d.id, type: d.type, link: this.a.links.get(d.id) ?? null, battery: batteryOf(d.id) })),
      vitals: latest ? [...latest.values()].map(vitalJson) : [],
      news2: this.a.engine.news2(bedId) ?? null,
    }
  }

  alarms(state: 'active' | 'all' = 'active'): unknown[] {
    // The engine keeps only alarms that are not cleared; "all" is the same list until the alarm history lands.
    void state
    return this.a.engine.active().map((v) => alarmJson(v))
  }

  /** `bedId`, when given (MQTT acks name the bed in the topic), must be the alarm's bed. */
  async acknowledge(alarmId: string, actor: Actor, bedId?: string) {
    if (bedId !== undefined && !this.a.engine.active().some((v) => v.alarmId === alarmId && v.bedId === bedId)) {
      return { ok: false as const, status: 404 as const, error: `no active alarm ${alarmId} on bed ${bedId}`, field: 'id' }
    }
    const change = this.a.engine.acknowledge(alarmId, actor.name, Date.now())
    if (!change) {
      const exists = this.a.engine.active().some((v) => v.alarmId === alarmId)
      return exists
        ? { ok: false as const, status: 409 as const, error: `alarm ${alarmId} is already acknowledged`, field: 'id' }
        : { ok: false as const, status: 404 as const, error: `no active alarm ${alarmId}`, field: 'id' }
    }
    this.a.pipeline.handleAlarms([change])
    this.a.pipeline.audit('alarm-ack', this.actor(actor), change.bedId, `alarm ${alarmId} (${change.ruleId}) acknowledged`)
    await this.durable()
    return { ok: true as const, alarm: alarmJson(change) }
  }

  private unknownBed(bedId: string, field: string) {
    return { ok: false as const, status: 404 as const, error: `${field}: unknown bed "${bedId}"`, field }
  }

  private hasBed(bedId: string): boolean {
    return this.a.cfg.beds.some((b) => b.id === bedId)
  }

  /** Forgets what the engine and the latest values knew about a bed (its patient changed). */
  private resetBed(bedId: string): void {
    this.a.engine.resetBed(bedId)
    this.a.latest.clearBed(bedId)
    this.a.events.emit('vitals', bedId)
  }

  async admit(req: AdmitRequest, actor: Actor) {
    if (!this.hasBed(req.bed_id)) return this.unknownBed(req.bed_id, 'bed_id')
    const a = this.a.admissions.admit(req.bed_id, req.mrn, req.name ?? null, req.birth_date ?? null, Date.now())
    this.resetBed(req.bed_id)
    const pseudonym = this.a.pseudonyms.pseudonym('patient', a.mrn)
    // The audit trail names the admission by its local id and pseudonym, never by MRN or name.
    this.a.pipeline.audit('admission', this.actor(actor), req.bed_id, `admission ${a.id} to bed ${req.bed_id}, patient ${pseudonym}`)
    await this.durable()
    return { ok: true as const, admission: { id: a.id, bedId: a.bedId, admittedMs: a.admittedMs, pseudonym } }
  }

  async discharge(bedId: string, actor: Actor) {
    if (!this.hasBed(bedId)) return this.unknownBed(bedId, 'bed_id')
    const a = this.a.admissions.discharge(bedId, Date.now())
    if (!a) return { ok: false as const, status: 404 as const, error: `bed_id: no patient admitted to bed "${bedId}"`, field: 'bed_id' }
    this.resetBed(bedId)
    this.a.pipeline.audit('discharge', this.actor(actor), bedId, `admission ${a.id} discharged from bed ${bedId}`)
    await this.durable()
    return { ok: true as const }
  }

  /** Moves a patient: discharge from one bed and admission to the other, one audit event. */
  async transfer(req: TransferRequest, actor: Actor) {
    if (!this.hasBed(req.bed_id)) return this.unknownBed(req.bed_id, 'bed_id')
    if (!this.hasBed(req.to_bed_id)) return this.unknownBed(req.to_bed_id, 'to_bed_id')
    const from = this.a.admissions.current(req.bed_id)
    if (!from) return { ok: false as const, status: 404 as const, error: `bed_id: no patient admitted to bed "${req.bed_id}"`, field: 'bed_id' }
    if (req.to_bed_id === req.bed_id || this.a.admissions.current(req.to_bed_id)) {
      return { ok: false as const, status: 409 as const, error: `to_bed_id: bed "${req.to_bed_id}" is occupied; discharge first`, field: 'to_bed_id' }
    }
    const now = Date.now()
    // One transaction: a crash cannot leave the patient discharged from one bed and not yet in the other.
    const to = this.a.db.transaction(() => {
      this.a.admissions.discharge(req.bed_id, now)
      return this.a.admissions.admit(req.to_bed_id, from.mrn, from.name, from.birthDate, now)
    })()
    this.resetBed(req.bed_id)
    this.resetBed(req.to_bed_id)
    const pseudonym = this.a.pseudonyms.pseudonym('patient', to.mrn)
    this.a.pipeline.audit('transfer', this.actor(actor), req.to_bed_id, `admission ${from.id} in bed ${req.bed_id} moved to admission ${to.id} in bed ${req.to_bed_id}, patient ${pseudonym}`)
    await this.durable()
    return { ok: true as const, admission: { id: to.id, bedId: to.bedId, admittedMs: to.admittedMs, pseudonym, from: { id: from.id, bedId: from.bedId } } }
  }

  signedIn(actor: Actor, detail: string, explicit: boolean): void {
    this.a.pipeline.audit(explicit ? 'sign-in' : 'token-first-use', this.actor(actor), null, detail)
  }

  /** Audits the first view per token, bed and admission; beds without a patient show no one. */
  viewed(actor: Actor, bedIds: readonly string[] | 'all', via: string): void {
    const who = this.actor(actor)
    const ids = bedIds === 'all' ? this.a.cfg.beds.map((b) => b.id) : bedIds
    for (const bedId of ids) {
      const admission = this.a.admissions.current(bedId)
      if (!admission || !this.audited.firstTime(`${who}|${bedId}|${admission.id}`)) continue
      // Named by admission id, never by name or MRN (the audit log leaves the gateway).
      this.a.pipeline.audit('patient-view', who, bedId, `admission ${admission.id} in bed ${bedId} shown to ${who} (${via})`)
    }
  }

  status() {
    const a = this.a
    const oldest = a.outbox.oldestUnsyncedMs()
    const active = a.engine.active()
    return {
      hub: a.cfg.hub.id,
      version: version(),
      uptimeS: Math.round((Date.now() - a.startedMs) / 1000),
      devices: [...a.devices.all()].map((d) => ({ id: d.id, bedId: d.bedId, type: d.config.type, link: a.links.get(d.id) ?? (d.config.type === 'mqtt' ? null : { state: 'connecting' }), batteryPct: a.batteries.get(d.id) ?? null })),
      queue: {
        depth: a.outbox.depth(), cursor: a.outbox.cursor, oldestUnsyncedMs: oldest, oldestUnsyncedAgeS: oldest === null ? 0 : Math.round((Date.now() - oldest) / 1000),
        overQuota: active.some((v) => isOverQuota(v.ruleId)),
      },
      sync: a.sync ? { configured: true, ...a.sync.status } : { configured: false },
      activeAlarms: active.length,
      // Shown on the page and by `bedside-hub status`: plain HTTP beyond loopback is the operator's explicit choice.
      http: { tls: a.cfg.http.tls !== undefined, insecure: a.cfg.http.tls === undefined && !isLoopback(a.cfg.http.listen.slice(0, a.cfg.http.listen.lastIndexOf(':'))) },
    }
  }

  health() {
    return { live: this.a.db.open }
  }

  /** Which part is unhealthy: the store, the MQTT broker, cloud sync (when configured), each driver with a link. */
  readiness() {
    const parts: Record<string, { ok: boolean; detail?: string }> = {
      store: this.a.db.open ? { ok: true } : { ok: false, detail: 'database closed' },
      broker: this.a.mqtt.listening ? { ok: true } : { ok: false, detail: 'MQTT broker not listening' },
    }
    if (this.a.sync) {
      const s = this.a.sync.status
      parts.sync = s.failingSinceMs === null ? { ok: true } : { ok: false, detail: `failing since ${new Date(s.failingSinceMs).toISOString()}: ${s.lastError?.message ?? ''}` }
    }
    for (const [deviceId, link] of this.a.links) {
      parts[`driver:${deviceId}`] = link.state === 'disconnected' ? { ok: false, detail: `disconnected: ${link.cause}` } : { ok: true, detail: link.state }
    }
    return { ready: Object.values(parts).every((p) => p.ok), parts }
  }
}
