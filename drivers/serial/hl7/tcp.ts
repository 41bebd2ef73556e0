/**
 * HL7 v2 over MLLP on TCP: many PCD-01 gateways connect to the DOC and send ORU^R01 (§7.5).
 * One listener per configured device id; each connection gets its own Hl7Session (own
 * deframer and ACK stream) over the shared device counters, sequence and silence watch.
 *
 * Hostile input (MLLP has no login): a sender outside `allowFrom` is closed on accept; past
 * `maxConnections` Node closes new connections on accept; a connection silent for `idleTimeoutMs`
 * is closed; one frame holds at most `maxMessageBytes`; a sender that leaves its ACKs unread is
 * no longer read, and closed past MAX_UNSENT_ACK_BYTES. So a flood of connections, of endless
 * frames or of unread ACKs costs at most maxConnections × (maxMessageBytes + MAX_UNSENT_ACK_BYTES),
 * and never the ward's file descriptors.
 *
 * Lifecycle: start() resolves once listening and rejects if the address cannot be bound (a
 * configuration error); status is `connected` while at least one peer is connected.
 * stop() closes the listener and every connection.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import type { Driver, DriverContext } from '../../types.js'
import { newLinkCounters, type LinkCounters } from '../counters.js'
import { SourceAllowlist } from './allow.js'
import { Hl7Device, type Hl7DeviceOptions } from './host.js'
import { HL7_TCP_DEFAULTS } from './limits.js'
import { Hl7Session } from './session.js'

const DEFAULT_MAX_CONNECTIONS = HL7_TCP_DEFAULTS.maxConnections
const DEFAULT_IDLE_TIMEOUT_MS = HL7_TCP_DEFAULTS.idleTimeoutS * 1000
const DEFAULT_MAX_MESSAGE_BYTES = HL7_TCP_DEFAULTS.maxMessageBytes
/** ACKs a sender may leave unread: one read of tiny frames answers a few hundred (~200 B each). */
const MAX_UNSENT_ACK_BYTES = 1 << 20

export interface Hl7TcpDriverOptions extends Hl7DeviceOptions {
  /** Default 127.0.0.1; use 0.0.0.0 to accept gateways on the ward network. */
  readonly host?: string
  /** 0 picks a free port (tests); `address()` tells which. */
  readonly port: number
  /** Addresses or CIDR ranges allowed to connect; unset: any (config allows that on loopback, or with `insecure`). */
  readonly allowFrom?: readonly string[] | undefined
  readonly maxConnections?: number
  readonly idleTimeoutMs?: number
  readonly maxMessageBytes?: number
}

export class Hl7TcpDriver implements Driver {
  readonly deviceId: string
  private device: Hl7Device | undefined
  private server: Server | undefined
  private readonly sockets = new Set<Socket>()
  private readonly emptyCounters = newLinkCounters()
  private readonly allow: SourceAllowlist | undefined

  constructor(private readonly o: Hl7TcpDriverOptions) {
    this.deviceId = o.deviceId
    this.allow = o.allowFrom ? new SourceAllowlist(o.allowFrom) : undefined
  }

  get counters(): LinkCounters {
    return this.device?.counters ?? this.emptyCounters
  }

  /** The bound address once started. */
  address(): AddressInfo | undefined {
    return (this.server?.address() as AddressInfo | null) ?? undefined
  }

  async start(ctx: DriverContext): Promise<void> {
    this.device = new Hl7Device(this.o, ctx)
    ctx.status({ state: 'connecting' })
    const server = (this.server = createServer((socket) => this.accept(socket)))
    const max = this.o.maxConnections ?? DEFAULT_MAX_CONNECTIONS
    server.maxConnections = max
    server.on('drop', (info) => ctx.reject('too-many-connections', `${this.deviceId}: ${info?.remoteAddress ?? '?'} refused, ${max} connections already (max_connections)`))
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.o.port, this.o.host ?? '127.0.0.1', () => {
        server.off('error', reject)
        resolve()
      })
    })
    server.on('error', (err) => ctx.reject('link-warning', `${this.deviceId} listener: ${err.message}`))
    ctx.signal.addEventListener('abort', () => void this.stop(), { once: true })
  }

  async stop(): Promise<void> {
    const server = this.server
    if (!server) return
    this.server = undefined
    this.device?.silence.stop()
    for (const s of this.sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
    this.device?.ctx.status({ state: 'disconnected', cause: 'stopped' })
  }

  private accept(socket: Socket): void {
    const device = this.device!
    if (this.allow && !this.allow.allows(socket.remoteAddress)) {
      device.ctx.reject('source-refused', `${this.deviceId}: ${socket.remoteAddress ?? '?'} is not in allow_from`)
      socket.destroy()
      return
    }
    this.sockets.add(socket)
    device.counters.opens++
    const peer = `${socket.remoteAddress}:${socket.remotePort}`
    const session = new Hl7Session(device, (ack) => {
      device.counters.bytesOut += ack.length
      if (socket.destroyed) return
      // A sender that does not read its ACKs: reading stops until they drain (the sender's own
      // TCP window then holds it back), and past MAX_UNSENT_ACK_BYTES the connection goes. Without
      // this, one allowed gateway streaming tiny frames grew the agent by 50 MB a second
      // (red-team finding, session 11).
      if (socket.writableLength > MAX_UNSENT_ACK_BYTES) {
        device.ctx.reject('ack-backlog', `${this.deviceId} ${peer}: more than ${MAX_UNSENT_ACK_BYTES} bytes of ACKs unread, closed`)
        socket.destroy()
        return
      }
      if (!socket.write(ack) && !socket.isPaused()) {
        socket.pause()
        socket.once('drain', () => socket.resume())
      }
    }, `${this.deviceId} ${peer}`, this.o.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES)
    socket.setTimeout(this.o.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS, () => {
      device.ctx.reject('idle-timeout', `${this.deviceId} ${peer}: nothing received for ${Math.round((this.o.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS) / 1000)} s (idle_timeout_s), closed`)
      socket.destroy()
    })
    socket.on('data', (chunk: Buffer) => {
      device.counters.bytesIn += chunk.length
      session.push(chunk)
    })
    socket.on('error', (err) => device.ctx.reject('link-warning', `${this.deviceId} ${peer}: ${err.message}`))
    socket.on('close', () => this.closed(socket))
    if (this.sockets.size === 1) {
      device.ctx.status({ state: 'connected' })
      device.silence.start()
    }
  }

  private closed(socket: Socket): void {
    const device = this.device!
    this.sockets.delete(socket)
    device.counters.disconnects++
    if (this.sockets.size === 0 && this.server) {
      device.silence.stop()
      device.ctx.status({ state: 'disconnected', cause: 'no-peer' })
    }
  }
}
