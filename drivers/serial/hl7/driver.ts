/**
 * HL7 v2 over MLLP on a serial line: a monitor or gateway sends ORU^R01 and gets an ACK for
 * each (protocols.md §7). Lifecycle as the Datex driver, without requests: the sender talks
 * unsolicited (§7.5).
 */
import type { Driver, DriverContext } from '../../types.js'
import { countReject, newLinkCounters, type LinkCounters } from '../counters.js'
import { SerialLink, type SerialSettings } from '../port.js'
import { Hl7Device, type Hl7DeviceOptions } from './host.js'
import { Hl7Session } from './session.js'

/** Common HL7-over-RS-232 setting; monitors differ, so it is configurable. */
export const HL7_DEFAULT_LINE: SerialSettings = { baudRate: 9600, dataBits: 8, parity: 'none', stopBits: 1, rtscts: false }

export interface Hl7SerialDriverOptions extends Hl7DeviceOptions {
  readonly port: string
  readonly line?: SerialSettings
  readonly reopenInitialMs?: number
  readonly reopenMaxMs?: number
}

export class Hl7SerialDriver implements Driver {
  readonly deviceId: string
  private device: Hl7Device | undefined
  private link: SerialLink | undefined
  private session: Hl7Session | undefined
  private readonly emptyCounters = newLinkCounters()

  constructor(private readonly o: Hl7SerialDriverOptions) {
    this.deviceId = o.deviceId
  }

  /** Per-port counters for /metrics (shape: LinkCounters). */
  get counters(): LinkCounters {
    return this.device?.counters ?? this.emptyCounters
  }

  async start(ctx: DriverContext): Promise<void> {
    const device = (this.device = new Hl7Device(this.o, ctx))
    ctx.status({ state: 'connecting' })
    const link = (this.link = new SerialLink({
      path: this.o.port,
      settings: this.o.line ?? HL7_DEFAULT_LINE,
      counters: device.counters,
      reopenInitialMs: this.o.reopenInitialMs,
      reopenMaxMs: this.o.reopenMaxMs,
      onData: (chunk) => this.session?.push(chunk),
      onOpen: () => {
        this.session?.reset()
        ctx.status({ state: 'connected' })
        device.silence.start()
      },
      onDown: (cause) => {
        device.silence.stop()
        ctx.status({ state: 'disconnected', cause })
      },
      onWarn: (message) => ctx.reject('link-warning', message),
    }))
    this.session = new Hl7Session(device, (ack) => this.writeAck(link, ack), `${this.deviceId} ${this.o.port}`)
    ctx.signal.addEventListener('abort', () => void this.stop(), { once: true })
    await link.start()
  }

  async stop(): Promise<void> {
    const link = this.link
    if (!link) return
    this.link = undefined
    this.device?.silence.stop()
    await link.stop()
    this.device?.ctx.status({ state: 'disconnected', cause: 'stopped' })
  }

  private writeAck(link: SerialLink, ack: Buffer): void {
    link.write(ack).catch((err: Error) => {
      // The line dropped between message and ACK; the sender will resend on its ACK timeout.
      countReject(this.counters, 'write-failed')
      this.device?.ctx.reject('write-failed', `${this.deviceId} ${this.o.port}: ${err.message}`)
    })
  }
}
