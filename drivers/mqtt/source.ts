/**
 * MQTT devices as a source (the broker in agent/serve/mqtt.ts hands over each authorized device
 * payload): decode, then deliver one message as a unit under its identity, so that a QoS 1 re-send
 * is recognised (DriverContext.deliver). A message's identity is its seq and device time as sent (a
 * re-send repeats both); a device that sends no seq is keyed by the message's bytes, so an
 * identical re-send is recognised and two different messages in one millisecond are not merged.
 *
 * The broker acknowledges: accepted (a duplicate too) → PUBACK when `durable` is called, after the
 * commit; rejected (malformed, counted) → PUBACK at once; refused (store full) → no PUBACK.
 */
import { hash } from 'node:crypto'
import { isDecodeError } from '../errors.js'
import type { DeviceRecord, Observation, WaveformChunk } from '../records.js'
import type { DeliveryResult, DeviceSequence } from '../types.js'
import { decodeObsPayload, decodeWavePayload, type PayloadContext } from './payload.js'

export type MqttSourceResult = 'accepted' | 'rejected' | 'refused'

export interface MqttSourceHost {
  /** The sequence of a configured MQTT device, undefined for any other id. */
  sequenceOf(deviceId: string): DeviceSequence | undefined
  /** One message of `deviceId` (DriverContext.deliver: `durable` once accepted records, or a duplicate's original, are committed). */
  deliver(deviceId: string, key: string, records: readonly DeviceRecord[], durable?: (err: Error | null) => void): DeliveryResult
  /** A malformed payload or topic, counted by reason. */
  reject(reason: string, deviceId: string, detail: string): void
}

export class MqttDeviceSource {
  // Reused per message: nothing of a message outlives its delivery.
  private readonly obs: Observation[] = []
  private readonly wave: WaveformChunk[] = []
  private readonly ctx: { deviceId: string; hubTimeMs: number; nextSeq: number; identity?: string } = { deviceId: '', hubTimeMs: 0, nextSeq: 0 }

  constructor(private readonly host: MqttSourceHost, private readonly now: () => number = Date.now) {}

  /** `bedside/v1/devices/{id}/obs`; `durable` (QoS 1: the PUBACK) is called for accepted only. */
  observations(deviceId: string, payload: Buffer, durable?: (err: Error | null) => void): MqttSourceResult {
    return this.take(deviceId, payload, this.obs, (ctx, out) => void decodeObsPayload(payload, ctx, out), durable)
  }

  /** `bedside/v1/devices/{id}/wave`. */
  waveform(deviceId: string, payload: Buffer, durable?: (err: Error | null) => void): MqttSourceResult {
    return this.take(deviceId, payload, this.wave, (ctx, out) => void out.push(decodeWavePayload(payload, ctx)), durable)
  }

  unknownTopic(deviceId: string, topic: string): void {
    this.host.reject('unknown-topic', deviceId, topic)
  }

  private take<R extends DeviceRecord>(deviceId: string, payload: Buffer, out: R[], decode: (ctx: PayloadContext, out: R[]) => void, durable?: (err: Error | null) => void): MqttSourceResult {
    const seq = this.host.sequenceOf(deviceId)
    if (!seq) return 'rejected'
    const ctx = this.ctx
    ctx.deviceId = deviceId
    ctx.hubTimeMs = this.now()
    ctx.nextSeq = seq.nextSeq
    ctx.identity = undefined
    out.length = 0
    try {
      decode(ctx, out)
    } catch (err) {
      if (!isDecodeError(err)) throw err
      this.host.reject(err.reason, deviceId, err.message)
      return 'rejected'
    }
    if (ctx.identity === undefined) seq.nextSeq++ // the payload had no seq: the number was taken
    const key = ctx.identity ?? `#${hash('sha1', payload, 'base64')}`
    const result = this.host.deliver(deviceId, key, out, durable)
    out.length = 0
    return result === 'duplicate' ? 'accepted' : result
  }
}
