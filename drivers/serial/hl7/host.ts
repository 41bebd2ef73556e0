/**
 * The per-device half of an HL7 driver that outlives connections: counters, sequence numbers,
 * the silence watch and link status. Shared by the serial and TCP drivers.
 */
import type { DeviceSequence, DriverContext } from '../../types.js'
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
  /**
   * Gateway mode: sender id → configured device id. The sender id is MSH-3's universal id (the
   * EUI-64 in PCD-01, §7.3), else its namespace id. When set, a message from any other sender is
   * refused (AR `unknown-source`), so one bed's numbers never land on another bed's device.
   * Unset: every message belongs to `deviceId` (one monitor per port or listener).
   */
  readonly sources?: Readonly<Record<string, string>>
}

export class Hl7Device implements Hl7Host {
  readonly deviceId: string
  readonly counters: LinkCounters = newLinkCounters()
  readonly now: () => number
  readonly defaultOffsetMin: number
  readonly silence: SilenceWatch
  private readonly sources: ReadonlyMap<string, string> | undefined
  private readonly seqs = new Map<string, DeviceSequence>()

  constructor(
    o: Hl7DeviceOptions,
    readonly ctx: DriverContext,
  ) {
    this.deviceId = o.deviceId
    this.now = o.now ?? Date.now
    this.defaultOffsetMin = o.defaultOffsetMin ?? 0
    this.sources = o.sources ? new Map(Object.entries(o.sources)) : undefined
    this.silence = new SilenceWatch(o.silenceMs ?? 60_000, (sinceMs) => ctx.status({ state: 'silent', sinceMs }), () => ctx.status({ state: 'connected' }), this.now)
  }

  deviceFor(senderId: string): string | undefined {
    return this.sources ? this.sources.get(senderId) : this.deviceId
  }

  nextSeq(deviceId: string): number {
    let seq = this.seqs.get(deviceId)
    if (!seq) this.seqs.set(deviceId, (seq = this.ctx.sequenceOf?.(deviceId) ?? { nextSeq: 1 }))
    return seq.nextSeq++
  }

  heard(nowMs: number): void {
    this.silence.beat(nowMs)
  }
}
