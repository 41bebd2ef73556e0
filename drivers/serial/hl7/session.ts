/**
 * One HL7 MLLP conversation (a serial line or one TCP connection): deframe, parse, emit,
 * acknowledge. The serial driver and the TCP listener share it, so both behave the same
 * (issue 4: "the same parser serves a serial port and a TCP listener").
 */
import { DecodeError } from '../../errors.js'
import type { Observation } from '../../records.js'
import type { DriverContext } from '../../types.js'
import { countReject, type LinkCounters } from '../counters.js'
import { buildAckFrame } from './ack.js'
import { processMessage } from './decode.js'
import type { Hl7Message } from './message.js'
import { MllpDeframer, type MllpSink } from './mllp.js'
import type { Hl7Value } from './oru.js'

/** What a session shares with its driver (one per device, across reconnects). */
export interface Hl7Host {
  readonly deviceId: string
  readonly ctx: DriverContext
  readonly counters: LinkCounters
  readonly now: () => number
  /** Offset for DTMs without one (HL7: sender's local time); minutes east of UTC. */
  readonly defaultOffsetMin: number
  /** Device id for a sender id (see Hl7DeviceOptions.sources); undefined = not ours. */
  deviceFor(senderId: string): string | undefined
  /** Next per-device sequence number, one per observation (HL7 messages carry none we can rely on). */
  nextSeq(deviceId: string): number
  /** A valid message arrived (feeds the silence watch). */
  heard(nowMs: number): void
}

export class Hl7Session implements MllpSink {
  private readonly deframer: MllpDeframer
  private ackSeq = 0

  constructor(
    private readonly host: Hl7Host,
    /** Where ACKs go; the bytes are counted as bytesOut by the caller's transport. */
    private readonly write: (bytes: Buffer) => void,
    private readonly label: string,
    /** Bound on one frame (a sender that never sends FS holds at most this much). */
    maxMessageBytes?: number,
  ) {
    this.deframer = new MllpDeframer(this, host.counters, maxMessageBytes)
  }

  /** Bytes from the transport (which counts bytesIn itself). */
  push(chunk: Buffer): void {
    this.deframer.push(chunk)
  }

  reset(): void {
    this.deframer.reset()
  }

  /** MllpSink: one message body. Every message gets exactly one ACK. */
  message(body: Buffer): void {
    const nowMs = this.host.now()
    const out = processMessage(body, this.host.defaultOffsetMin)
    const ackControlId = `${this.host.deviceId}-${nowMs.toString(36)}-${++this.ackSeq}`
    this.host.heard(nowMs) // a sender whose messages we refuse is misconfigured, not silent
    if (out.ack !== 'AA') {
      this.refuse(out.message, out.controlId, out.ack, out.error, ackControlId, nowMs)
      return
    }
    const { content } = out
    const deviceId = this.host.deviceFor(content.senderId)
    if (deviceId === undefined) {
      const error = new DecodeError('hl7', 'unknown-source', `sender "${content.senderId}" (MSH-3) is not a configured source`)
      this.refuse(out.message, content.controlId, 'AR', error, ackControlId, nowMs)
      return
    }
    for (const reason of content.skipped) this.count(reason, `${this.label}: OBX skipped (${reason}) in ${content.controlId}`)
    const ack = (code: 'AA' | 'AE', error?: DecodeError) => this.send(buildAckFrame({ message: out.message, controlId: content.controlId, code, error, ackControlId, nowMs }), code)
    const deliver = this.host.ctx.deliver
    if (!deliver) {
      this.emitAll(deviceId, content.values, nowMs)
      ack('AA')
      return
    }
    // The ACK follows the commit (accepted means durable); a sender that lost it re-sends the same
    // message, which is acknowledged again and not stored again (HL7 v2.5 §2.9.2: MSH-10 identifies
    // the message; original acknowledgement mode re-sends until an ACK arrives). MSH-7 is part of
    // the key: monitors restart or wrap their MSH-10 counter at power-up, and a new message with an
    // old control id must not be taken for a re-send.
    const result = deliver.call(this.host.ctx, `${content.senderId}/${content.controlId}/${content.messageTime}`, this.records(deviceId, content.values, nowMs), (err) =>
      err ? ack('AE', new DecodeError('hl7', 'store-failed', `not stored (${err.message}); re-send`)) : ack('AA'))
    if (result === 'refused') ack('AE', new DecodeError('hl7', 'store-full', 'the gateway store is full; re-send later'))
    else if (result === 'rejected') ack('AA') // every value refused and counted; a re-send would not change that
  }

  private refuse(message: Hl7Message | undefined, controlId: string, code: 'AE' | 'AR', error: DecodeError, ackControlId: string, nowMs: number): void {
    this.reject(error)
    this.send(buildAckFrame({ message, controlId, code, error, ackControlId, nowMs }), code)
  }

  /** MllpSink: a framing reject (no ACK: there is no control id to answer). */
  reject(err: DecodeError): void {
    this.count(err.reason, `${this.label}: ${err.message}`)
  }

  private emitAll(deviceId: string, values: readonly Hl7Value[], hubTimeMs: number): void {
    for (const obs of this.records(deviceId, values, hubTimeMs)) this.host.ctx.emit(obs)
  }

  private records(deviceId: string, values: readonly Hl7Value[], hubTimeMs: number): Observation[] {
    return values.map((v) => {
      const deviceSeq = this.host.nextSeq(deviceId) // one per observation, monotonic per device
      const deviceTimeMs = Number.isNaN(v.timeMs) ? hubTimeMs : v.timeMs
      this.host.counters.observations++
      return { kind: 'obs', deviceId, code: v.code, value: v.value, unit: v.unit, deviceTimeMs, hubTimeMs, deviceSeq, quality: v.quality }
    })
  }

  private send(frame: Buffer, code: 'AA' | 'AE' | 'AR'): void {
    this.host.counters.acks[code]++
    this.write(frame)
  }

  private count(reason: string, detail: string): void {
    countReject(this.host.counters, reason)
    this.host.ctx.reject(reason, detail)
  }
}
