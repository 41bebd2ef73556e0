/**
 * The HTTP API's view of the agent (serve/http.ts AgentApi): bed and alarm listings,
 * acknowledgements and admissions. Every write is audited and answered only once durable.
 */
import type { AgentInternals } from './agent.js'
import { alarmJson, vitalJson } from './outputs.js'
import type { Actor, AdmissionRequest, AgentApi } from './serve/http.js'

export class AgentApiImpl implements AgentApi {
  constructor(private readonly a: AgentInternals) {}

  private durable(): Promise<void> {
    return new Promise((resolve, reject) => this.a.committer.whenCommitted((err) => (err ? reject(err) : resolve())))
  }

  beds(): unknown[] {
    return this.a.cfg.beds.map((b) => {
      const admission = this.a.admissions.current(b.id)
      const latest = this.a.latest.of(b.id)
      return {
        id: b.id,
        // The patient label stays on the ward network (never synced); the MRN is not shown.
        patient: admission ? { label: admission.name ?? 'admitted', admittedMs: admission.admittedMs } : null,
        devices: b.devices.map((d) => ({ id: d.id, type: d.type })),
        vitals: latest ? [...latest.values()].map(vitalJson) : [],
        news2: this.a.engine.news2(b.id) ?? null,
      }
    })
  }

  alarms(state: 'active' | 'all'): unknown[] {
    // The engine keeps only alarms that are not cleared; "all" is the same list until the alarm history lands.
    void state
    return this.a.engine.active().map((v) => alarmJson(v))
  }

  async acknowledge(alarmId: string, actor: Actor) {
    const change = this.a.engine.acknowledge(alarmId, actor.name, Date.now())
    if (!change) {
      const exists = this.a.engine.active().some((v) => v.alarmId === alarmId)
      return exists ? { ok: false as const, status: 409 as const, error: `alarm ${alarmId} is already acknowledged` } : { ok: false as const, status: 404 as const, error: `no active alarm ${alarmId}` }
    }
    this.a.pipeline.handleAlarms([change])
    this.a.pipeline.audit('alarm-ack', `${actor.role}:${actor.name}`, change.bedId, `alarm ${alarmId} (${change.ruleId}) acknowledged`)
    await this.durable()
    return { ok: true as const, alarm: alarmJson(change) }
  }

  async admit(req: AdmissionRequest, actor: Actor) {
    if (!this.a.cfg.beds.some((b) => b.id === req.bed_id)) return { ok: false as const, status: 404 as const, error: `bed_id: unknown bed "${req.bed_id}"` }
    const now = Date.now()
    const a = this.a.admissions.admit(req.bed_id, req.mrn, req.name ?? null, req.birth_date ?? null, now)
    this.a.engine.resetBed(req.bed_id)
    this.a.latest.clearBed(req.bed_id)
    // The audit trail names the admission by its local id and pseudonym, never by MRN or name.
    this.a.pipeline.audit('admission', `${actor.role}:${actor.name}`, req.bed_id, `admission ${a.id} to bed ${req.bed_id}, patient ${this.a.pseudonyms.pseudonym('patient', a.mrn)}`)
    await this.durable()
    return { ok: true as const, admission: { id: a.id, bedId: a.bedId, admittedMs: a.admittedMs, pseudonym: this.a.pseudonyms.pseudonym('patient', a.mrn) } }
  }

  async discharge(bedId: string, actor: Actor) {
    const a = this.a.admissions.discharge(bedId, Date.now())
    if (!a) return { ok: false as const, status: 404 as const, error: `no patient admitted to bed "${bedId}"` }
    this.a.engine.resetBed(bedId)
    this.a.latest.clearBed(bedId)
    this.a.pipeline.audit('discharge', `${actor.role}:${actor.name}`, bedId, `admission ${a.id} discharged from bed ${bedId}`)
    await this.durable()
    return { ok: true as const }
  }

  status() {
    const a = this.a
    const oldest = a.outbox.oldestUnsyncedMs()
    return {
      hub: a.cfg.hub.id,
      version: process.env.npm_package_version ?? null,
      uptimeS: Math.round((Date.now() - a.startedMs) / 1000),
      devices: [...a.devices.all()].map((d) => ({ id: d.id, bedId: d.bedId, type: d.config.type, link: a.links.get(d.id) ?? (d.config.type === 'mqtt' ? null : { state: 'connecting' }) })),
      queue: { depth: a.outbox.depth(), cursor: a.outbox.cursor, oldestUnsyncedMs: oldest, oldestUnsyncedAgeS: oldest === null ? 0 : Math.round((Date.now() - oldest) / 1000) },
      sync: a.sync ? { configured: true, ...a.sync.status } : { configured: false },
      activeAlarms: a.engine.active().length,
    }
  }

  health() {
    return { live: this.a.db.open }
  }

  readiness() {
    const parts: Record<string, { ok: boolean; detail?: string }> = { store: { ok: this.a.db.open } }
    if (this.a.sync) {
      const s = this.a.sync.status
      parts.sync = s.failingSinceMs === null ? { ok: true } : { ok: false, detail: `failing since ${new Date(s.failingSinceMs).toISOString()}: ${s.lastError?.message ?? ''}` }
    }
    return { ready: Object.values(parts).every((p) => p.ok), parts }
  }
}

