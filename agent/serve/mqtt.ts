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
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { createServer, type Server } from 'node:net'
import { Aedes, type Client, type PublishPacket } from 'aedes'
import { writeToStream } from 'mqtt-packet'
import type { Logger } from 'pino'
import type { Metrics } from './metrics.js'

/** accepted: PUBACK after commit; rejected (malformed, counted): PUBACK now; refused (store full): no PUBACK. */
export type MqttIngestResult = 'accepted' | 'rejected' | 'refused'

export interface MqttIngest {
  /** Decodes and ingests one device payload (refusals are already counted and logged). */
  deviceObs(deviceId: string, payload: Buffer): MqttIngestResult
  deviceWave(deviceId: string, payload: Buffer): MqttIngestResult
  /** Unknown topic under a device's own prefix: counted. */
  unknownTopic(deviceId: string, topic: string): void
  /** Calls back once everything ingested so far is durable. */
  whenCommitted(cb: (err: Error | null) => void): void
}

export interface MqttCredentials {
  /** Device id → secret. */
  readonly devices: ReadonlyMap<string, string>
  /** Non-device clients (central stations, integrations). */
  readonly clients: ReadonlyMap<string, { password: string; role: 'viewer' | 'nurse' }>
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

/** Acknowledges an alarm of `bedId` for a nurse client; resolves once the ack and its audit event are durable. */
export type AlarmAckHandler = (alarmId: string, bedId: string, actor: { role: 'nurse'; name: string }) => Promise<{ ok: boolean; error?: string }>
/** Read-only ward feeds any authenticated client may subscribe to (no patient identity is ever published). */
const FEED_FILTER = /^bedside\/v1\/(beds|alarms)(\/|$)/

function digest(s: string | Buffer): Buffer {
  return createHash('sha256').update(s).digest()
}

function secretMatches(expected: string, given: Buffer | undefined): boolean {
  return given !== undefined && timingSafeEqual(digest(expected), digest(given))
}

export class MqttServer {
  private broker: Aedes | null = null
  private server: Server | null = null
  private readonly principals = new WeakMap<Client, Principal>()
  /** Set by the agent once its API exists; without it, ack publishes are refused like any other topic. */
  alarmAck: AlarmAckHandler | null = null

  constructor(
    private readonly creds: MqttCredentials,
    private readonly ingest: MqttIngest,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  async start(host: string, port: number): Promise<{ port: number }> {
    const broker = await Aedes.createBroker({
      authenticate: (client, username, password, done) => this.authenticate(client, username, password, done),
      authorizePublish: (client, packet, cb) => this.authorizePublish(client, packet, cb),
      authorizeSubscribe: (client, sub, cb) => cb(null, this.maySubscribe(client, sub.topic) ? sub : null),
    })
    this.broker = broker
    broker.on('client', () => this.metrics.mqttClients.inc())
    broker.on('clientDisconnect', () => this.metrics.mqttClients.dec())
    broker.on('clientError', (client, err) => this.log.debug({ event: 'mqtt_client_error', client: client.id, err: err.message }, 'MQTT client error'))
    const server = createServer(broker.handle)
    this.server = server
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, () => resolve())
    })
    const addr = server.address()
    return { port: typeof addr === 'object' && addr ? addr.port : port }
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
    if (broker) await new Promise<void>((r) => broker.close(() => r()))
    if (server) await new Promise<void>((r) => server.close(() => r()))
  }

  private authenticate(client: Client, username: string | undefined, password: Buffer | undefined, done: (err: (Error & { returnCode: number }) | null, ok: boolean | null) => void): void {
    const refuse = () => {
      this.metrics.ingestRejected.inc({ reason: 'mqtt-auth' })
      this.log.warn({ event: 'mqtt_auth_refused', username, client: client.id }, 'MQTT connection refused: bad username or password')
      const err = Object.assign(new Error('bad username or password'), { returnCode: 4 })
      done(err, null)
    }
    if (!username) return refuse()
    const deviceSecret = this.creds.devices.get(username)
    if (deviceSecret !== undefined) {
      if (!secretMatches(deviceSecret, password)) return refuse()
      this.principals.set(client, { kind: 'device', id: username, prefix: `bedside/v1/devices/${username}/` })
      return done(null, true)
    }
    const c = this.creds.clients.get(username)
    if (c && secretMatches(c.password, password)) {
      this.principals.set(client, { kind: 'client', id: username, role: c.role })
      return done(null, true)
    }
    refuse()
  }

  private authorizePublish(client: Client | null, packet: PublishPacket, cb: (err?: Error | null) => void): void {
    if (client === null) return cb(null) // the agent's own outputs
    const p = this.principals.get(client)
    if (p?.kind === 'client' && p.role === 'nurse' && this.alarmAck && ACK_TOPIC.test(packet.topic)) return this.nurseAck(p.id, packet, cb)
    if (!p || p.kind !== 'device' || !packet.topic.startsWith(p.prefix)) {
      this.metrics.ingestRejected.inc({ reason: 'mqtt-topic-not-allowed' })
      this.log.warn({ event: 'mqtt_publish_refused', client: client.id, principal: p?.id, topic: packet.topic }, 'MQTT publish outside the device prefix refused; disconnecting')
      return cb(new Error(`not authorized to publish on ${packet.topic}`))
    }
    const m = DEVICE_TOPIC.exec(packet.topic)
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload
    let result: MqttIngestResult
    if (!m) {
      this.ingest.unknownTopic(p.id, packet.topic)
      result = 'rejected'
    } else result = m[2] === 'obs' ? this.ingest.deviceObs(p.id, payload) : this.ingest.deviceWave(p.id, payload)
    // Store full: no PUBACK. The error disconnects the device (aedes 1.2; MQTT 3.1.1 has no negative
    // acknowledgement), which keeps the unacknowledged QoS 1 message and re-sends it on reconnect.
    if (result === 'refused') return cb(packet.qos === 0 ? null : new Error('store full: input refused, re-send later'))
    if (result === 'rejected' || packet.qos === 0) return cb(null)
    this.ingest.whenCommitted((err) => cb(err))
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
    this.alarmAck!(doc.alarmId, bedId, { role: 'nurse', name }).then(
      (r) => (r.ok ? cb(null) : refuse('mqtt-ack-refused', r.error ?? 'refused')),
      (err: Error) => {
        this.log.error({ event: 'mqtt_ack_failed', client: clientId, bedId, cause: err.message }, 'MQTT alarm acknowledgement failed')
        cb(err)
      },
    )
  }

  private maySubscribe(client: Client, filter: string): boolean {
    const p = this.principals.get(client)
    if (!p) return false
    if (FEED_FILTER.test(filter)) return true
    return p.kind === 'device' && filter.startsWith(p.prefix)
  }
}
