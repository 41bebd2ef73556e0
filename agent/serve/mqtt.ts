/**
 * The ward's MQTT broker (aedes, MQTT 3.1.1) for device ingest and live outputs.
 *
 * Devices authenticate with username = device id and password = its secret, and may publish only
 * under their own `bedside/v1/devices/{deviceId}/` prefix. Authorization of a PUBLISH is where the
 * payload is decoded and ingested: for QoS 1 the callback (and so the PUBACK) waits for the
 * record's group commit, so a PUBACK means durable. An error passed to that callback disconnects
 * the client (aedes 1.2), which is how an unauthorized topic is refused. A malformed payload from
 * an authorized device is acknowledged, counted and kept out of the store: MQTT 3.1.1 has no
 * negative acknowledgement, and a re-send would not make it valid (DESIGN.md, MQTT).
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { createServer, type Server } from 'node:net'
import { Aedes, type Client, type PublishPacket } from 'aedes'
import type { Logger } from 'pino'
import type { Metrics } from './metrics.js'

export interface MqttIngest {
  /** Decodes and ingests one device payload; returns false when it was refused (already counted). */
  deviceObs(deviceId: string, payload: Buffer): boolean
  deviceWave(deviceId: string, payload: Buffer): boolean
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

const DEVICE_TOPIC = /^bedside\/v1\/devices\/([^/]+)\/(obs|wave)$/
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
    if (!p || p.kind !== 'device' || !packet.topic.startsWith(p.prefix)) {
      this.metrics.ingestRejected.inc({ reason: 'mqtt-topic-not-allowed' })
      this.log.warn({ event: 'mqtt_publish_refused', client: client.id, principal: p?.id, topic: packet.topic }, 'MQTT publish outside the device prefix refused; disconnecting')
      return cb(new Error(`not authorized to publish on ${packet.topic}`))
    }
    const m = DEVICE_TOPIC.exec(packet.topic)
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload
    let accepted: boolean
    if (!m) {
      this.ingest.unknownTopic(p.id, packet.topic)
      accepted = false
    } else accepted = m[2] === 'obs' ? this.ingest.deviceObs(p.id, payload) : this.ingest.deviceWave(p.id, payload)
    if (!accepted || packet.qos === 0) return cb(null)
    this.ingest.whenCommitted((err) => cb(err))
  }

  private maySubscribe(client: Client, filter: string): boolean {
    const p = this.principals.get(client)
    if (!p) return false
    if (FEED_FILTER.test(filter)) return true
    return p.kind === 'device' && filter.startsWith(p.prefix)
  }
}
