/**
 * HL7 v2 over MLLP on TCP: many PCD-01 gateways connect to the DOC and send ORU^R01 (§7.5).
 * One listener per configured device id; each connection gets its own Hl7Session (own
 * deframer and ACK stream) over the shared device counters, sequence and silence watch.
 *
 * Lifecycle: start() resolves once listening and rejects if the address cannot be bound (a
 * configuration error); status is `connected` while at least one peer is connected.
 * stop() closes the listener and every connection.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import type { Driver, DriverContext } from '../../types.js'
import { newLinkCounters, type LinkCounters } from '../counters.js'
import { Hl7Device, type Hl7DeviceOptions } from './host.js'
import { Hl7Session } from './session.js'

export interface Hl7TcpDriverOptions extends Hl7DeviceOptions {
  /** Default 127.0.0.1; use 0.0.0.0 to accept gateways on the ward network. */
  readonly host?: string
  /** 0 picks a free port (tests); `address()` tells which. */
  readonly port: number
}

export class Hl7TcpDriver implements Driver {
  readonly deviceId: string
  private device: Hl7Device | undefined
  private server: Server | undefined
  private readonly sockets = new Set<Socket>()
  private readonly emptyCounters = newLinkCounters()

  constructor(private readonly o: Hl7TcpDriverOptions) {
    this.deviceId = o.deviceId
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
    this.sockets.add(socket)
    device.counters.opens++
    const peer = `${socket.remoteAddress}:${socket.remotePort}`
    const session = new Hl7Session(device, (ack) => {
      device.counters.bytesOut += ack.length
      socket.write(ack)
    }, `${this.deviceId} ${peer}`)
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
