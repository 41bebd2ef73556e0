/**
 * The HTTP API's view of the agent (serve/http.ts AgentApi) and the dashboard feed's state
 * (serve/ws.ts LiveState): a thin adapter over the ward's use cases (ward/ward.ts) and the agent's
 * operational state, each given explicitly (no reach into the composition root).
 */
import { isLoopback } from './serve/access.js'
import type { Actor, AdmitRequest, AgentApi, TransferRequest } from './serve/http.js'
import type { LiveState } from './serve/ws.js'
import type { Config } from './config.js'
import type { DeviceStatus } from './pipeline/device-status.js'
import type { DeviceRegistry } from './pipeline/devices.js'
import type { RuleEngine } from './rules/index.js'
import type { Outbox } from './store/outbox.js'
import type { CloudSync } from './sync/sync.js'
import { pseudonymPolicyWarning, type Pseudonymizer } from './sync/pseudonym.js'
import { version } from './version.js'
import type { Ward } from './ward/ward.js'
import type { BedContextInput } from './ward/context.js'

/** Rule ids of the default technical rules the status shows as a state, not only as alarms. */
const isOverQuota = (ruleId: string) => ruleId.includes('queue-over-quota')

export interface ApiDeps {
  readonly hubId: string
  readonly http: Config['http']
  readonly mqtt: Config['mqtt']
  readonly startedMs: number
  readonly ward: Ward
  readonly registry: DeviceRegistry
  readonly devices: DeviceStatus
  readonly engine: RuleEngine
  readonly outbox: Outbox
  /** Cloud sync when configured (it starts after the API exists). */
  readonly sync: () => CloudSync | null
  readonly storeOpen: () => boolean
  readonly brokerListening: () => boolean
  /** Issue 21: whether the ADT listener listens; null when hl7.adt is not configured. */
  readonly adtListening: () => boolean | null
  /** Issue 24: the pseudonym key policy, shown by `bedside-hub status`. */
  readonly pseudonyms: Pseudonymizer
  /** Issue 21: PCD-01 on demand (agent.ts), when hl7.results is configured. */
  readonly requestResults?: AgentApi['requestResults']
}

/** A listener without TLS on an address other hosts reach (allowed only with `insecure: true`). */
function plainBeyondLoopback(listen: string, tls: unknown): boolean {
  return tls === undefined && !isLoopback(listen.slice(0, listen.lastIndexOf(':')))
}

export class AgentApiImpl implements AgentApi, LiveState {
  constructor(private readonly d: ApiDeps) {}

  hubId(): string {
    return this.d.hubId
  }

  beds(): unknown[] {
    return this.d.ward.beds()
  }

  bed(bedId: string): unknown {
    return this.d.ward.bed(bedId)
  }

  alarms(): unknown[] {
    return this.d.ward.alarms()
  }

  alarmHistory(sinceMs: number, limit: number) {
    return this.d.ward.alarmHistory(sinceMs, limit)
  }

  alarmFolding(bedId: string): Record<string, string | null> {
    const out: Record<string, string | null> = {}
    for (const a of this.d.engine.active()) if (a.bedId === bedId) out[a.alarmId] = a.foldedInto ?? null
    return out
  }

  acknowledge(alarmId: string, actor: Actor) {
    return this.d.ward.acknowledge(alarmId, actor)
  }

  admit(req: AdmitRequest, actor: Actor) {
    return this.d.ward.admit(req, actor)
  }

  discharge(bedId: string, actor: Actor) {
    return this.d.ward.discharge(bedId, actor)
  }

  transfer(req: TransferRequest, actor: Actor) {
    return this.d.ward.transfer(req, actor)
  }

  requestResults(bedId: string, actor: Actor) {
    return this.d.requestResults ? this.d.requestResults(bedId, actor) : Promise.resolve({ ok: false as const, status: 409 as const, error: 'hl7.results is not configured', field: 'hl7.results' })
  }

  setContext(bedId: string, input: BedContextInput, actor: Actor) {
    return this.d.ward.setContext(bedId, input, actor)
  }

  signedIn(actor: Actor, detail: string, explicit: boolean): void {
    this.d.ward.signedIn(actor, detail, explicit)
  }

  viewed(actor: Actor, bedIds: readonly string[] | 'all', via: string): void {
    this.d.ward.viewed(actor, bedIds, via)
  }

  status() {
    const { outbox, devices, engine } = this.d
    const oldest = outbox.oldestUnsyncedMs()
    const active = engine.active()
    const sync = this.d.sync()
    const http = this.d.http
    return {
      hub: this.d.hubId,
      version: version(),
      uptimeS: Math.round((Date.now() - this.d.startedMs) / 1000),
      devices: [...this.d.registry.all()].map((d) => ({ id: d.id, bedId: d.bedId, type: d.config.type, link: devices.link(d.id) ?? (d.config.type === 'mqtt' ? null : { state: 'connecting' }), batteryPct: devices.batteryPct(d.id) ?? null })),
      queue: {
        depth: outbox.depth(), cursor: outbox.cursor, oldestUnsyncedMs: oldest, oldestUnsyncedAgeS: oldest === null ? 0 : Math.round((Date.now() - oldest) / 1000),
        overQuota: active.some((v) => isOverQuota(v.ruleId)),
      },
      sync: sync ? { configured: true, ...sync.status } : { configured: false },
      activeAlarms: active.length,
      // Shown on the page and by `bedside-hub status`: plain HTTP beyond loopback is the operator's explicit choice.
      http: { tls: http.tls !== undefined, insecure: plainBeyondLoopback(http.listen, http.tls) },
      mqtt: { tls: this.d.mqtt.tls !== undefined, insecure: plainBeyondLoopback(this.d.mqtt.listen, this.d.mqtt.tls) },
      pseudonyms: { policy: this.d.pseudonyms.policy, configured: this.d.pseudonyms.policyConfigured, epoch: this.d.pseudonyms.currentEpoch.id, warning: pseudonymPolicyWarning(this.d.pseudonyms) },
    }
  }

  health() {
    return { live: this.d.storeOpen() }
  }

  /** Which part is unhealthy: the store, the MQTT broker, cloud sync (when configured), each driver with a link. */
  readiness() {
    const parts: Record<string, { ok: boolean; detail?: string }> = {
      store: this.d.storeOpen() ? { ok: true } : { ok: false, detail: 'database closed' },
      broker: this.d.brokerListening() ? { ok: true } : { ok: false, detail: 'MQTT broker not listening' },
    }
    const adt = this.d.adtListening()
    if (adt !== null) parts['hl7-adt'] = adt ? { ok: true } : { ok: false, detail: 'ADT listener not listening' }
    const sync = this.d.sync()
    if (sync) {
      const s = sync.status
      parts.sync = s.failingSinceMs === null ? { ok: true } : { ok: false, detail: `failing since ${new Date(s.failingSinceMs).toISOString()}: ${s.lastError?.message ?? ''}` }
    }
    for (const [deviceId, link] of this.d.devices.allLinks()) {
      parts[`driver:${deviceId}`] = link.state === 'disconnected' ? { ok: false, detail: `disconnected: ${link.cause}` } : { ok: true, detail: link.state }
    }
    return { ready: Object.values(parts).every((p) => p.ok), parts }
  }
}
