/**
 * The ward's MQTT broker (aedes, MQTT 3.1.1) for device ingest and live outputs.
 *
 * Devices authenticate with username = device id and password = its secret, and may publish only
 * under their own `bedside/v1/devices/{deviceId}/` prefix. Authorization of a PUBLISH is where the
 * payload is decoded and ingested: for QoS 1 the callback (and so the PUBACK) waits for the
 * record's group commit, so a PUBACK means durable. An error passed to that callback disconnects
 * the client (aedes 1.2), which is how an unauthorized topic, and valid input while the store is
 * full (quota), are refused: the device keeps what was not acknowledged. A malformed payload from
 * an authorized device is acknowledged, counted and kept out of the store: MQTT 3.1.1 has no
 * negative acknowledgement, and a re-send would not make it valid (DESIGN.md, MQTT).
 *
 * Hostile input (issue 16): packet size, connections and pending logins are bounded in front of
 * aedes (mqtt-guard.ts); failed logins are throttled per source (login-throttle.ts); a client id is
 * bound to the identity holding it (no takeover by another login); no client's publish is ever
 * retained; devices subscribe to nothing, and acknowledgements (which name the nurse) reach nurse
 * stations only. Every refusal is counted in `bedside_mqtt_refused_total{reason}`.
 *
 * TLS (issue 18, mqtt-tls.ts): with a `tls` set the same listener and guard serve MQTT over TLS,
 * and a device may log in with a client certificate naming its id instead of its password.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { createServer, type Server, type Socket } from 'node:net'
import { Aedes, type Client, type PublishPacket } from 'aedes'
import { writeToStream } from 'mqtt-packet'
import type { Logger } from 'pino'
import type { Metrics } from './metrics.js'
import { ConnectionGuard, type GuardLimits, type RefusalReason } from './mqtt-guard.js'
import { LoginThrottle, type ThrottleOptions } from './login-throttle.js'
import { MqttTls, type MqttTlsConfig } from './mqtt-tls.js'
import { isLoopback } from './access.js'
import { bedContextSchema, type BedContextInput } from '../ward/context.js'

/** accepted: PUBACK after commit; rejected (malformed, counted): PUBACK now; refused (store full): no PUBACK. */
export type MqttIngestResult = 'accepted' | 'rejected' | 'refused'

const ignoreDurable = (): void => undefined

export interface MqttIngest {
  /**
   * Decodes and ingests one device payload (refusals are already counted and logged). For
   * 'accepted', `durable` is called once the records are committed (or with the commit's error):
   * registered before the ingest returns, so a commit that runs inside it is not missed.
   */
  deviceObs(deviceId: string, payload: Buffer, durable: (err: Error | null) => void): MqttIngestResult
  deviceWave(deviceId: string, payload: Buffer, durable: (err: Error | null) => void): MqttIngestResult
  /** Unknown topic under a device's own prefix: counted. */
  unknownTopic(deviceId: string, topic: string): void
  /** Nurse stations' alarm acknowledgements; without it, ack publishes are refused like any other topic. */
  readonly alarmAck?: AlarmAckHandler
  /** Nurse stations' NEWS2 context of a bed (the body of POST /api/beds/{bed}/context). */
  readonly bedContext?: (bedId: string, input: BedContextInput, actor: { role: 'nurse'; name: string }) => Promise<{ ok: boolean; error?: string }>
}

export interface MqttCredentials {
  /** Device id → secret. */
  readonly devices: ReadonlyMap<string, string>
  /** Non-device clients (central stations, integrations). */
  readonly clients: ReadonlyMap<string, { password: string; role: 'viewer' | 'nurse' }>
}

/** Limits of the listener (config `mqtt.*`, issue 16). */
export interface MqttLimits extends GuardLimits {
  readonly loginThrottle: ThrottleOptions
  /**
   * Logged-in connections of one device, and of one station username, at once; a new one closes
   * the oldest. Logged-in connections only count against max_connections, so one device's secret
   * (stolen, or a device reconnecting in a loop) could otherwise hold every connection and keep
   * the ward's other devices and stations out (red-team finding, session 11).
   */
  readonly maxConnectionsPerDevice: number
  readonly maxConnectionsPerClient: number
}

export const DEFAULT_MQTT_LIMITS: MqttLimits = {
  maxPacketBytes: 256 * 1024,
  maxConnections: 1024,
  maxPending: 128,
  maxPendingPerSource: 32,
  connectTimeoutMs: 5000,
  loginThrottle: { maxFailures: 10, windowMs: 60_000, lockoutMs: 10_000, maxLockoutMs: 900_000 },
  maxConnectionsPerDevice: 4,
  maxConnectionsPerClient: 32,
}

/** The limits of the config's `mqtt` section. */
export function mqttLimits(c: { max_packet_bytes: number; max_connections: number; max_pending: number; max_pending_per_source: number; connect_timeout_s: number; max_connections_per_device: number; max_connections_per_client: number; login_throttle: { max_failures: number; window_s: number; lockout_s: number; max_lockout_s: number } }): MqttLimits {
  const t = c.login_throttle
  return {
    maxPacketBytes: c.max_packet_bytes,
    maxConnections: c.max_connections,
    maxPending: c.max_pending,
    maxPendingPerSource: c.max_pending_per_source,
    connectTimeoutMs: c.connect_timeout_s * 1000,
    loginThrottle: { maxFailures: t.max_failures, windowMs: t.window_s * 1000, lockoutMs: t.lockout_s * 1000, maxLockoutMs: t.max_lockout_s * 1000 },
    maxConnectionsPerDevice: c.max_connections_per_device,
    maxConnectionsPerClient: c.max_connections_per_client,
  }
}

/** The throttle's one name for every username the agent does not know. */
const UNKNOWN_NAME = '(unknown name)'
/** A client-chosen string (a username or client id may be 64 KiB) as it goes into the log. */
function logged(s: string | undefined): string | undefined {
  return s === undefined || s.length <= 64 ? s : `${s.slice(0, 64)}…`
}

type Principal = { kind: 'device'; id: string; prefix: string } | { kind: 'client'; id: string; role: 'viewer' | 'nurse' }

// mqtt-packet (aedes' writer) otherwise fills a cache of 65,536 two-byte Buffers, one per packet
// id, on its first write: 6 MB of heap (a fifth of the agent's live heap in a 64-bed ward, heap
// snapshot 2026-11-26) that every major GC marks again, to save one 2-byte allocation per PUBACK.
writeToStream.cacheNumbers = false

const DEVICE_TOPIC = /^bedside\/v1\/devices\/([^/]+)\/(obs|wave)$/
/** Alarm acknowledgement by a `nurse` client: `{"alarmId": "…", "by": "…"}` (issue 6). */
const ACK_TOPIC = /^bedside\/v1\/alarms\/([^/]+)\/ack$/
const ACK_MAX_BYTES = 1024
/** A bed's NEWS2 context from a `nurse` client (DESIGN.md, MQTT contract). */
const CONTEXT_TOPIC = /^bedside\/v1\/beds\/([^/]+)\/context$/

/** Acknowledges an alarm of `bedId` for a nurse client; resolves once the ack and its audit event are durable. */
export type AlarmAckHandler = (alarmId: string, bedId: string, actor: { role: 'nurse'; name: string }) => Promise<{ ok: boolean; error?: string }>
/** What a device packet carries on through aedes once its payload is ingested (authorizePublish). */
const NO_PAYLOAD = Buffer.alloc(0)
/** Read-only ward feeds any authenticated client may subscribe to (no patient identity is ever published). */
const FEED_FILTER = /^bedside\/v1\/(beds|alarms)(\/|$)/
/** A filter whose last level is `ack` names acknowledgement topics only (nurse stations). */
const ACK_FILTER = /\/ack$/

function digest(s: string | Buffer): Buffer {
  return createHash('sha256').update(s).digest()
}

function devicePrincipal(id: string): Principal {
  return { kind: 'device', id, prefix: `bedside/v1/devices/${id}/` }
}

function secretMatches(expected: string, given: Buffer | undefined): boolean {
  return given !== undefined && timingSafeEqual(digest(expected), digest(given))
}

export class MqttServer {
  private broker: Aedes | null = null
  private server: Server | null = null
  private readonly principals = new WeakMap<Client, Principal>()
  /** Logged-in connections per `kind:id`, oldest first (limits.maxConnectionsPerDevice / PerClient). */
  private readonly perIdentity = new Map<string, Client[]>()
  /** Client id → the identity (username) holding it and the client that does (identity binding). */
  private readonly holders = new Map<string, { identity: string; client: Client }>()
  private readonly guard: ConnectionGuard
  private readonly throttle: LoginThrottle
  private throttleTimer: NodeJS.Timeout | null = null
  private readonly refusedInWindow = new Map<RefusalReason, number>()
  /** MQTT over TLS (issue 18), from start() to stop(). */
  private transport: MqttTls | null = null

  constructor(
    private readonly creds: MqttCredentials,
    private readonly ingest: MqttIngest,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly limits: MqttLimits = DEFAULT_MQTT_LIMITS,
    /** Config `mqtt.tls` (issue 18); null: plain MQTT (config validation allows that on loopback, or with `mqtt.insecure`). */
    private readonly tls: (MqttTlsConfig & { pollMs?: number }) | null = null,
  ) {
    this.guard = new ConnectionGuard(limits, (reason, source) => this.refused(reason, source))
    this.throttle = new LoginThrottle(limits.loginThrottle)
  }

  /**
   * Counts a refusal. Logged once per reason per window (the first, with its source) and then in
   * one summary line per window: a flood cannot flood the journal. Failed logins have their own
   * per-address lines (reportFailedLogins).
   */
  private refused(reason: RefusalReason, source: string): void {
    this.metrics.mqttRefused.inc({ reason })
    if (reason === 'bad-login' || reason === 'login-throttled') return
    const n = this.refusedInWindow.get(reason) ?? 0
    this.refusedInWindow.set(reason, n + 1)
    if (n === 0) this.log.warn({ event: 'mqtt_refused', reason, source }, `MQTT refused (${reason}) from ${source}; further refusals of this kind are summed per window`)
  }

  async start(host: string, port: number): Promise<{ port: number }> {
    const transport = this.openTransport(host) // first: a bad certificate set throws before anything is open
    const broker = await Aedes.createBroker({
      authenticate: (client, username, password, done) => this.authenticate(client, username, password, done),
      authorizePublish: (client, packet, cb) => this.authorizePublish(client, packet, cb),
      authorizeSubscribe: (client, sub, cb) => cb(null, this.maySubscribe(client, sub.topic) ? sub : null),
      authorizeForward: (client, packet) => this.forward(client, packet),
      // Fallback only: the guard closes a socket that has not logged in after connectTimeoutMs.
      connectTimeout: this.limits.connectTimeoutMs + 1000,
    })
    this.broker = broker
    broker.on('client', () => this.metrics.mqttClients.inc())
    broker.on('clientDisconnect', (client) => {
      this.metrics.mqttClients.dec()
      if (this.holders.get(client.id)?.client === client) this.holders.delete(client.id)
    })
    broker.on('clientError', (client, err) => this.log.debug({ event: 'mqtt_client_error', client: client.id, err: err.message }, 'MQTT client error'))
    const server = createServer((socket: Socket) => {
      if (!this.guard.admit(socket, { tls: transport !== null })) return
      if (transport) transport.accept(socket)
      else broker.handle(socket)
    })
    this.server = server
    this.throttleTimer = setInterval(() => this.reportFailedLogins(), this.limits.loginThrottle.windowMs)
    this.throttleTimer.unref()
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, () => resolve())
    })
    const addr = server.address()
    return { port: typeof addr === 'object' && addr ? addr.port : port }
  }

  /** TLS when configured (its files are read now: a bad set throws TlsError); says loudly when plain MQTT leaves this machine. */
  private openTransport(host: string): MqttTls | null {
    if (this.tls) {
      const handlers = {
        onSecure: (socket: Socket, stream: Socket) => {
          if (this.guard.adopt(socket, stream)) this.broker?.handle(stream)
        },
        onFailed: (_err: Error, source: string) => this.refused('tls-handshake', source),
      }
      this.transport = MqttTls.open(this.tls, this.log, handlers, this.tls.pollMs !== undefined ? { pollMs: this.tls.pollMs } : {})
      this.log.info({ event: 'mqtt_tls', clientCerts: this.tls.client_certs }, `MQTT over TLS, client certificates ${this.tls.client_certs}`)
    } else if (!isLoopback(host)) {
      // Config validation lets this through only with mqtt.insecure: true.
      this.log.warn({ event: 'mqtt_insecure', host }, `INSECURE: mqtt.insecure is set: device passwords and vital signs travel in clear on ${host}; set mqtt.tls (MQTT 3.1.1 §5.4.5)`)
    }
    return this.transport
  }

  /** True while the broker accepts connections (readiness, GET /readyz). */
  get listening(): boolean {
    return this.server?.listening ?? false
  }

  /** Publishes on an output topic (alarms, vitals). Never throws; failures are logged. */
  publish(topic: string, payload: string, qos: 0 | 1, retain: boolean): void {
    const broker = this.broker
    if (!broker || broker.closed) return
    broker.publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos, retain, dup: false }, (err) => {
      if (err) this.log.warn({ event: 'mqtt_publish_failed', topic, err: err.message }, 'MQTT output publish failed')
    })
  }

  async stop(): Promise<void> {
    const server = this.server
    const broker = this.broker
    this.server = null
    this.broker = null
    if (this.throttleTimer) clearInterval(this.throttleTimer)
    this.throttleTimer = null
    this.reportFailedLogins()
    this.guard.stop()
    this.transport?.close()
    this.transport = null
    if (broker) await new Promise<void>((r) => broker.close(() => r()))
    if (server) await new Promise<void>((r) => server.close(() => r()))
  }

  private authenticate(client: Client, username: string | undefined, password: Buffer | undefined, done: (err: (Error & { returnCode: number }) | null, ok: boolean | null) => void): void {
    const source = this.guard.sourceOf(client.conn as Socket)
    const refuse = (reason: RefusalReason, returnCode: number, message: string) => {
      this.refused(reason, source)
      done(Object.assign(new Error(message), { returnCode }), null)
    }
    // Names the agent does not know count as one (the attacker chooses them, each up to 64 KiB).
    const name = username !== undefined && (this.creds.devices.has(username) || this.creds.clients.has(username)) ? username : UNKNOWN_NAME
    // Locked out: refused without looking at the password, so guessing costs the guesser time.
    if (this.throttle.locked(source, name)) {
      this.throttle.refusedWhileLocked(source, name)
      return refuse('login-throttled', 5, 'too many failed logins for this name from this address: try later')
    }
    const certDevice = this.transport?.deviceOf(client.conn as Socket, (id) => this.creds.devices.has(id)) ?? null
    // A certificate proves one device: a login under another name with it is refused whatever the
    // password (a device cannot lend its certificate to another identity). CONNACK 5, not authorized.
    if (certDevice !== null && username !== undefined && username !== certDevice) {
      this.throttle.failed(source, name)
      this.log.warn({ event: 'mqtt_cert_mismatch', username: logged(username), certificate: certDevice, client: logged(client.id), source }, 'MQTT connection refused: the client certificate names another device')
      return refuse('cert-mismatch', 5, 'the client certificate names another device')
    }
    const identity = certDevice !== null ? devicePrincipal(certDevice) : this.verify(username, password)
    if (!identity) {
      this.metrics.ingestRejected.inc({ reason: 'mqtt-auth' })
      // One line for the first failure of an address per window; the rest in reportFailedLogins().
      if (this.throttle.failed(source, name)) this.log.warn({ event: 'mqtt_auth_refused', username: logged(username), client: logged(client.id), source }, 'MQTT connection refused: bad username or password')
      return refuse('bad-login', 4, 'bad username or password')
    }
    // A client id is bound to its identity: a configured device id or station username is reserved
    // for that identity, and an id in use is kept by its holder. Another login presenting it is
    // refused (CONNACK 2, identifier rejected) instead of taking the session over [MQTT-3.1.4-2];
    // the same identity reconnecting takes over its own stale session as MQTT intends.
    const id = client.id
    const holder = this.holders.get(id)
    if ((id !== identity.id && (this.creds.devices.has(id) || this.creds.clients.has(id))) || (holder !== undefined && holder.identity !== identity.id)) {
      this.log.warn({ event: 'mqtt_client_id_refused', username: logged(username), client: logged(id), holder: holder?.identity, source }, 'MQTT connection refused: client id belongs to another identity')
      return refuse('client-id-taken', 2, 'client id belongs to another identity')
    }
    // Connections per identity: at the limit the oldest goes for the newest. Refusing the newest
    // let four stale or squatting connections (keepalive 0 never times out) keep the real device
    // out for good (red-team round 2); a device reconnecting after a half-open link is the newest.
    // One that takes over its own client id replaces a connection (aedes closes the old one).
    const key = `${identity.kind}:${identity.id}`
    const max = identity.kind === 'device' ? this.limits.maxConnectionsPerDevice : this.limits.maxConnectionsPerClient
    let held = this.perIdentity.get(key)
    if (!held) this.perIdentity.set(key, (held = []))
    const others = held.filter((c) => c !== holder?.client)
    if (others.length >= max) {
      const oldest = others[0]!
      this.refused('connections-per-identity', source)
      this.log.warn({ event: 'mqtt_identity_connections', username: logged(username), client: logged(id), closed: logged(oldest.id), source, max }, `MQTT: ${identity.id} holds ${max} connections (mqtt.max_connections_per_${identity.kind}); its oldest (${oldest.id}) is closed for the new one`)
      held.splice(held.indexOf(oldest), 1)
      oldest.close()
    }
    held.push(client)
    this.throttle.succeeded(source, name)
    this.holders.set(id, { identity: identity.id, client })
    // Also when the socket dies between login and registration (no 'clientDisconnect' then).
    client.conn.once('close', () => {
      if (this.holders.get(id)?.client === client) this.holders.delete(id)
      const list = this.perIdentity.get(key)
      const at = list?.indexOf(client) ?? -1
      if (at >= 0) list!.splice(at, 1)
      if (list?.length === 0) this.perIdentity.delete(key)
    })
    this.principals.set(client, identity)
    this.guard.authenticated(client.conn as Socket)
    done(null, true)
  }

  /** The principal that `username`/`password` prove, if any. Constant time per secret (digest compare). */
  private verify(username: string | undefined, password: Buffer | undefined): Principal | null {
    if (!username) return null
    const deviceSecret = this.creds.devices.get(username)
    if (deviceSecret !== undefined) return secretMatches(deviceSecret, password) ? devicePrincipal(username) : null
    const c = this.creds.clients.get(username)
    return c && secretMatches(c.password, password) ? { kind: 'client', id: username, role: c.role } : null
  }

  /** Per window: one WARN line per address that failed logins (at most 20, then their sum), one line summing other refusals. */
  private reportFailedLogins(): void {
    if ([...this.refusedInWindow.values()].some((n) => n > 1)) {
      const counts = Object.fromEntries(this.refusedInWindow)
      this.log.warn({ event: 'mqtt_refused_summary', counts }, `MQTT refusals in the last window: ${Object.entries(counts).map(([r, n]) => `${r} ${n}`).join(', ')}`)
    }
    this.refusedInWindow.clear()
    const f = this.throttle.flush()
    for (const r of f.reports) {
      const names = `${r.identities.map((n) => `"${n}"`).join(', ')}${r.nameCount > r.identities.length ? ` and ${r.nameCount - r.identities.length} more` : ''}`
      this.log.warn({ event: 'mqtt_auth_failures', source: r.source, failures: r.failures, usernames: r.identities, usernameCount: r.nameCount, lockedUntil: r.lockedUntilMs ? new Date(r.lockedUntilMs).toISOString() : undefined },
        `MQTT: ${r.failures} failed logins from ${r.source} as ${names}${r.lockedUntilMs ? `; locked out until ${new Date(r.lockedUntilMs).toISOString()}` : ''}`)
    }
    if (f.moreSources > 0) this.log.warn({ event: 'mqtt_auth_failures_more', sources: f.moreSources, failures: f.moreFailures }, `MQTT: ${f.moreFailures} more failed logins from ${f.moreSources} more addresses`)
  }

  private authorizePublish(client: Client | null, packet: PublishPacket, cb: (err?: Error | null) => void): void {
    if (client === null) return cb(null) // the agent's own outputs
    const p = this.principals.get(client)
    if (p?.kind === 'client' && p.role === 'nurse' && this.ingest.alarmAck && ACK_TOPIC.test(packet.topic)) return this.nurseAck(p.id, packet, cb)
    if (p?.kind === 'client' && p.role === 'nurse' && this.ingest.bedContext && CONTEXT_TOPIC.test(packet.topic)) return this.nurseContext(p.id, packet, cb)
    if (!p || p.kind !== 'device' || !packet.topic.startsWith(p.prefix)) {
      this.metrics.ingestRejected.inc({ reason: 'mqtt-topic-not-allowed' })
      this.refused('publish-denied', this.guard.sourceOf(client.conn as Socket))
      this.log.warn({ event: 'mqtt_publish_refused', client: client.id, principal: p?.id, topic: packet.topic }, 'MQTT publish outside the device prefix refused; disconnecting')
      return cb(new Error(`not authorized to publish on ${packet.topic}`))
    }
    // No client's message is retained (the contract wants none): the flag is dropped here, before
    // aedes would store it, and counted; the record itself is ingested like any other.
    if (packet.retain) {
      packet.retain = false
      this.refused('retained', this.guard.sourceOf(client.conn as Socket))
    }
    const m = DEVICE_TOPIC.exec(packet.topic)
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload
    // QoS 1: the PUBACK waits for the commit (`durable`); QoS 0: answered at once below.
    const durable = packet.qos === 0 ? ignoreDurable : (err: Error | null) => cb(err)
    let result: MqttIngestResult
    if (!m) {
      this.ingest.unknownTopic(p.id, packet.topic)
      result = 'rejected'
    } else result = m[2] === 'obs' ? this.ingest.deviceObs(p.id, payload, durable) : this.ingest.deviceWave(p.id, payload, durable)
    // Decoded and stored: nothing needs the bytes again (no client may subscribe to device
    // topics, maySubscribe), yet aedes holds the packet until the PUBACK, after the commit's
    // fsync. The payload is a view into the socket's read chunk (up to 64 KB), so holding it
    // kept whole chunks alive into the old generation, freed only by a full GC: issue 23's peak
    // RSS under load.
    packet.payload = NO_PAYLOAD
    // Store full: no PUBACK. The error disconnects the device (aedes 1.2; MQTT 3.1.1 has no negative
    // acknowledgement), which keeps the unacknowledged QoS 1 message and re-sends it on reconnect.
    if (result === 'refused') return cb(packet.qos === 0 ? null : new Error('store full: input refused, re-send later'))
    if (result === 'rejected' || packet.qos === 0) return cb(null)
    // accepted at QoS 1: `durable` answers once the commit has run
  }

  /**
   * A bed's NEWS2 context from a nurse station (`bedside/v1/beds/{bed}/context`, the JSON of
   * POST /api/beds/{bed}/context). Like an ack: a bad one is counted, logged and PUBACKed; for QoS 1
   * the PUBACK follows the durable audit event.
   */
  private nurseContext(clientId: string, packet: PublishPacket, cb: (err?: Error | null) => void): void {
    const bedId = CONTEXT_TOPIC.exec(packet.topic)![1]!
    const refuse = (cause: string) => {
      this.metrics.ingestRejected.inc({ reason: 'mqtt-context-invalid' })
      this.log.warn({ event: 'mqtt_context_refused', client: clientId, bedId, cause }, `MQTT NEWS2 context refused: ${cause}`)
      cb(null)
    }
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload
    if (payload.length > ACK_MAX_BYTES) return refuse('payload too large')
    let doc: unknown
    try {
      doc = JSON.parse(payload.toString('utf8'))
    } catch {
      return refuse('payload is not JSON')
    }
    const parsed = bedContextSchema.safeParse(doc)
    if (!parsed.success) return refuse(parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; '))
    this.ingest.bedContext!(bedId, parsed.data, { role: 'nurse', name: clientId }).then(
      (r) => (r.ok ? cb(null) : refuse(r.error ?? 'refused')),
      (err: Error) => {
        this.log.error({ event: 'mqtt_context_failed', client: clientId, bedId, cause: err.message }, 'MQTT NEWS2 context failed')
        cb(err)
      },
    )
  }

  /**
   * An acknowledgement from a nurse station. Like a malformed device payload, a bad or unknown ack
   * is counted, logged and PUBACKed (MQTT 3.1.1 has no negative ack); the alarm topic shows the
   * outcome. For QoS 1 the PUBACK follows the durable audit event.
   */
  private nurseAck(clientId: string, packet: PublishPacket, cb: (err?: Error | null) => void): void {
    const bedId = ACK_TOPIC.exec(packet.topic)![1]!
    const refuse = (reason: string, cause: string) => {
      this.metrics.ingestRejected.inc({ reason })
      this.log.warn({ event: 'mqtt_ack_refused', client: clientId, bedId, cause }, `MQTT alarm acknowledgement refused: ${cause}`)
      cb(null)
    }
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload
    if (payload.length > ACK_MAX_BYTES) return refuse('mqtt-ack-invalid', 'payload too large')
    let doc: { alarmId?: unknown; by?: unknown }
    try {
      doc = JSON.parse(payload.toString('utf8')) as typeof doc
    } catch {
      return refuse('mqtt-ack-invalid', 'payload is not JSON')
    }
    if (!doc || typeof doc.alarmId !== 'string' || doc.alarmId.length === 0) return refuse('mqtt-ack-invalid', 'alarmId must be a non-empty string')
    if (doc.by !== undefined && (typeof doc.by !== 'string' || doc.by.length === 0 || doc.by.length > 100)) return refuse('mqtt-ack-invalid', 'by must be a string of 1-100 characters')
    // The station's login names the station; "by" names the nurse at it. Both go into the audit trail.
    const name = doc.by ? `${doc.by}@${clientId}` : clientId
    this.ingest.alarmAck!(doc.alarmId, bedId, { role: 'nurse', name }).then(
      (r) => (r.ok ? cb(null) : refuse('mqtt-ack-refused', r.error ?? 'refused')),
      (err: Error) => {
        this.log.error({ event: 'mqtt_ack_failed', client: clientId, bedId, cause: err.message }, 'MQTT alarm acknowledgement failed')
        cb(err)
      },
    )
  }

  /**
   * Devices subscribe to nothing (DESIGN.md, MQTT); station clients read the ward feeds, and the
   * acknowledgement topics, which name the nurse, only with role nurse. A refused subscription gets
   * SUBACK 0x80 [MQTT-3.9.3-2] and is counted.
   */
  private maySubscribe(client: Client, filter: string): boolean {
    const p = this.principals.get(client)
    const ok = p !== undefined && p.kind === 'client' && FEED_FILTER.test(filter) && (p.role === 'nurse' || !ACK_FILTER.test(filter))
    if (!ok) this.refused('subscribe-denied', this.guard.sourceOf(client.conn as Socket))
    return ok
  }

  /**
   * Per delivery. Acknowledgements (`…/ack`, a nurse's name in `by`) reach nurse stations only,
   * whatever wildcard matched them (`#`, `bedside/v1/alarms/#`). On the alarm topic, an
   * acknowledged alarm's `ackBy` ("nurse@station") shows only the station to anyone but a nurse
   * station. Other messages (vitals, the hot path) cost one or two string tests, no allocation.
   */
  private forward<P extends PublishPacket>(client: Client, packet: P): P | null {
    const topic = packet.topic
    if (!topic.startsWith('bedside/v1/alarms/')) return packet
    const p = this.principals.get(client)
    if (p !== undefined && p.kind === 'client' && p.role === 'nurse') return packet
    if (topic.endsWith('/ack')) return null
    const scrubbed = withoutPerson(packet.payload)
    return scrubbed === null ? packet : { ...packet, payload: scrubbed }
  }
}

/** An alarm JSON whose `ackBy` is "person@station", with the station only; null when there is no person in it. */
export function withoutPerson(payload: Buffer | string): Buffer | null {
  const text = typeof payload === 'string' ? payload : payload.toString('utf8')
  if (!text.includes('"ackBy"')) return null
  let doc: { ackBy?: unknown }
  try {
    doc = JSON.parse(text) as typeof doc
  } catch {
    return null
  }
  if (typeof doc.ackBy !== 'string' || !doc.ackBy.includes('@')) return null
  doc.ackBy = doc.ackBy.slice(doc.ackBy.lastIndexOf('@') + 1)
  return Buffer.from(JSON.stringify(doc))
}
