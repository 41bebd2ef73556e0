/**
 * The per-device half of an HL7 driver that outlives connections: counters, sequence numbers,
 * the silence watch and link status. Shared by the serial and TCP drivers.
 */
import type { DriverContext } from '../../types.js'
import { newLinkCounters, type LinkCounters } from '../counters.js'
import { SilenceWatch } from '../silence.js'
import type { Hl7Host } from './session.js'

export interface Hl7DeviceOptions {
  readonly deviceId: string
  /** No accepted message for this long → `silent`. Default 60 s (PCD-01 gateways send every few s to 1 min). */
  readonly silenceMs?: number
  /** Minutes east of UTC for DTMs without an offset; default 0 (UTC). */
  readonly defaultOffsetMin?: number
  readonly now?: () => number
}

export class Hl7Device implements Hl7Host {
  readonly deviceId: string
  readonly counters: LinkCounters = newLinkCounters()
  readonly now: () => number
  readonly defaultOffsetMin: number
  readonly silence: SilenceWatch
  private seq = 0

  constructor(
    o: Hl7DeviceOptions,
    readonly ctx: DriverContext,
  ) {
    this.deviceId = o.deviceId
    this.now = o.now ?? Date.now
    this.defaultOffsetMin = o.defaultOffsetMin ?? 0
    this.silence = new SilenceWatch(o.silenceMs ?? 60_000, (sinceMs) => ctx.status({ state: 'silent', sinceMs }), () => ctx.status({ state: 'connected' }), this.now)
  }

  nextSeq(): number {
    return ++this.seq
  }

  heard(nowMs: number): void {
    this.silence.beat(nowMs)
  }
}
