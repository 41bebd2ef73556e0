/**
 * Datex-Ohmeda S/5 driver: one monitor on one serial port (protocols.md §6).
 *
 * Lifecycle: start() opens the port (19200 8E1, RTS/CTS, §6.1) and asks for displayed values
 * every `intervalS` (§6.4); frames become Observations; a silent monitor is reported and asked
 * again; an unplug is reported and the port reopened with backoff. stop() asks the monitor to
 * stop transmitting (interval 0), closes the port and restores its settings.
 */
import { setTimeout as delay } from 'node:timers/promises'
import { isDecodeError, type DecodeError } from '../../errors.js'
import type { Observation } from '../../records.js'
import type { DeviceSequence, Driver, DriverContext } from '../../types.js'
import { countReject, newLinkCounters, type LinkCounters } from '../counters.js'
import { SerialLink, type SerialSettings } from '../port.js'
import { SilenceWatch } from '../silence.js'
import { DatexDeframer, type DatexFrameSink } from './frame.js'
import { decodeRecord } from './record.js'
import { buildRequestFrames, DEFAULT_DRI_LEVELS } from './request.js'

/** §6.1 [S-VSC Class1.cs]. */
export const DATEX_LINE: SerialSettings = { baudRate: 19200, dataBits: 8, parity: 'even', stopBits: 1, rtscts: true }

/** How long stop() waits for the stop request to leave the port. */
const STOP_REQUEST_WAIT_MS = 1000

/** Device time earlier than this is a clock that was never set (r_time 0 or a reset RTC). */
const EARLIEST_PLAUSIBLE_MS = Date.UTC(2001, 0, 1)
/** Device time further ahead of the hub than this is not believed either. */
const MAX_AHEAD_MS = 24 * 3600_000

export interface DatexDriverOptions {
  readonly deviceId: string
  /** Serial device path, e.g. /dev/ttyUSB0. */
  readonly port: string
  /** Transmission period asked of the monitor; VSCapture's default is 5 s (§6.4). */
  readonly intervalS?: number
  /** DRI levels to send the request for (§6.4). */
  readonly driLevels?: readonly number[]
  /** No valid frame for this long → `silent` (and the request is sent again). Default 3 periods. */
  readonly silenceMs?: number
  readonly reopenInitialMs?: number
  readonly reopenMaxMs?: number
  /** Hub clock; tests inject one. */
  readonly now?: () => number
}

export class DatexDriver implements Driver, DatexFrameSink {
  readonly deviceId: string
  /** Per-port counters for /metrics (shape: LinkCounters). */
  readonly counters: LinkCounters = newLinkCounters()
  private readonly deframer = new DatexDeframer(this, this.counters)
  private readonly now: () => number
  private readonly intervalS: number
  private ctx: DriverContext | undefined
  private link: SerialLink | undefined
  private silence: SilenceWatch | undefined
  private seq: DeviceSequence = { nextSeq: 1 }

  constructor(private readonly o: DatexDriverOptions) {
    this.deviceId = o.deviceId
    this.now = o.now ?? Date.now
    this.intervalS = o.intervalS ?? 5
    if (!Number.isInteger(this.intervalS) || this.intervalS < 1) throw new RangeError(`interval ${this.intervalS} s must be a whole number ≥ 1`)
  }

  async start(ctx: DriverContext): Promise<void> {
    this.ctx = ctx
    this.seq = ctx.sequenceOf?.(this.deviceId) ?? this.seq
    ctx.status({ state: 'connecting' })
    this.silence = new SilenceWatch(this.o.silenceMs ?? 3 * this.intervalS * 1000, (sinceMs) => this.onSilent(sinceMs), () => ctx.status({ state: 'connected' }), this.now)
    this.link = new SerialLink({
      path: this.o.port,
      settings: DATEX_LINE,
      counters: this.counters,
      reopenInitialMs: this.o.reopenInitialMs,
      reopenMaxMs: this.o.reopenMaxMs,
      onData: (chunk) => this.deframer.push(chunk),
      onOpen: () => this.onOpen(),
      onDown: (cause) => this.onDown(cause),
      onWarn: (message) => ctx.reject('link-warning', message),
    })
    ctx.signal.addEventListener('abort', () => void this.stop(), { once: true })
    await this.link.start()
  }

  async stop(): Promise<void> {
    const link = this.link
    if (!link) return
    this.link = undefined
    this.silence?.stop()
    // Interval 0 = stop transmission (§6.4). Bounded: with RTS/CTS a monitor that is off never
    // raises CTS, and a drain would wait forever.
    if (link.isOpen) await Promise.race([this.send(link, 0), delay(STOP_REQUEST_WAIT_MS, undefined, { ref: false })])
    await link.stop()
    this.ctx?.status({ state: 'disconnected', cause: 'stopped' })
  }

  /** DatexFrameSink: one checksum-valid record. */
  frame(record: Buffer): void {
    const hubTimeMs = this.now()
    this.silence?.beat(hubTimeMs)
    let rec
    try {
      rec = decodeRecord(record)
    } catch (err) {
      if (!isDecodeError(err)) throw err
      this.reject(err)
      return
    }
    const deviceMs = rec.timeS * 1000
    const deviceTimeMs = deviceMs >= EARLIEST_PLAUSIBLE_MS && deviceMs <= hubTimeMs + MAX_AHEAD_MS ? deviceMs : hubTimeMs
    for (const v of rec.values) {
      // The monitor has no sequence number: assigned, one per observation, monotonic per device
      // (as the BLE drivers do), so (deviceId, deviceSeq) names one observation.
      const deviceSeq = this.seq.nextSeq++
      const obs: Observation = { kind: 'obs', deviceId: this.deviceId, code: v.code, value: v.value, unit: v.unit, deviceTimeMs, hubTimeMs, deviceSeq, quality: v.quality }
      this.counters.observations++
      this.ctx?.emit(obs)
    }
  }

  /** DatexFrameSink: one thrown-away frame. */
  reject(err: DecodeError): void {
    countReject(this.counters, err.reason)
    this.ctx?.reject(err.reason, `${this.deviceId} ${this.o.port}: ${err.message}`)
  }

  private onOpen(): void {
    this.deframer.reset()
    this.ctx?.status({ state: 'connected' })
    this.silence?.start()
    if (this.link) void this.send(this.link, this.intervalS)
  }

  private onDown(cause: string): void {
    this.silence?.stop()
    this.deframer.reset()
    this.ctx?.status({ state: 'disconnected', cause })
  }

  /** Silent monitor: report it, and ask again in case it was power-cycled and forgot the request. */
  private onSilent(sinceMs: number): void {
    this.ctx?.status({ state: 'silent', sinceMs })
    if (this.link?.isOpen) void this.send(this.link, this.intervalS)
  }

  private async send(link: SerialLink, intervalS: number): Promise<void> {
    try {
      await link.write(buildRequestFrames(intervalS, this.o.driLevels ?? DEFAULT_DRI_LEVELS))
    } catch (err) {
      // The port went away mid-write; the close handler reports the unplug, so only count it here.
      countReject(this.counters, 'write-failed')
      this.ctx?.reject('write-failed', `${this.deviceId} ${this.o.port}: ${(err as Error).message}`)
    }
  }
}
