/**
 * The driver seam. A driver owns one device connection and turns its bytes into canonical records.
 * Drivers never import from agent/: they only emit records and report link status.
 */
import type { DeviceRecord } from './records.js'

/** Link state of one device, as a discriminated union so every consumer handles every case. */
export type LinkStatus =
  | { readonly state: 'connecting' }
  | { readonly state: 'connected' }
  /** Connected but no data for longer than the driver's silence bound. */
  | { readonly state: 'silent'; readonly sinceMs: number }
  | { readonly state: 'disconnected'; readonly cause: string }

/** A technical condition a device reports about itself (battery, sensor contact, leads). */
export interface DeviceCondition {
  readonly deviceId: string
  readonly condition: 'low-battery' | 'leads-off' | 'sensor-off' | 'clock-drift'
  readonly active: boolean
  readonly detail?: string
  readonly atMs: number
}

/**
 * One device's hub-assigned sequence numbers, for records whose device sends none: one counter
 * per device, shared by everything that numbers its records (its driver, the ECG analysis of its
 * samples), continuing across reconnects and agent restarts. Take a number with `nextSeq++`.
 */
export interface DeviceSequence {
  nextSeq: number
}

/**
 * Outcome of delivering one sender message (DriverContext.deliver). accepted: queued for the next
 * group commit; duplicate: a re-send of a message already accepted, nothing stored again;
 * rejected: malformed or invalid, counted, never valid on a re-send; refused: valid but the store is
 * full, the sender should keep it.
 */
export type DeliveryResult = 'accepted' | 'duplicate' | 'rejected' | 'refused'

export interface DriverContext {
  /** Aborted when the agent stops the driver. */
  readonly signal: AbortSignal
  /** Emit one canonical record. Synchronous and cheap; never throws for a valid record. */
  emit(record: DeviceRecord): void
  /**
   * Delivers one sender message whose identity survives a re-send (HL7 v2 MSH-10; MQTT seq and
   * device time): its records are accepted together in one commit, or it is a duplicate of a message
   * already accepted (a re-send after a lost acknowledgement) and nothing is stored again. `key` is
   * unique among this device's messages. For accepted and duplicate, `durable` is called once the
   * records (the original's, for a duplicate) are committed, with the commit's error if it failed:
   * that is when the sender may be acknowledged. Optional: contexts without it (tests) emit each.
   */
  deliver?(key: string, records: readonly DeviceRecord[], durable: (err: Error | null) => void): DeliveryResult
  /**
   * The sequence of `deviceId` (a gateway driver speaks for several configured devices), or
   * undefined when the agent does not know it; optional for contexts without one (tests).
   */
  sequenceOf?(deviceId: string): DeviceSequence | undefined
  /**
   * The device told its manufacturer serial number (BLE Device Information 0x2A25): it becomes the
   * device's identity (pseudonymized before it leaves) for the records accepted from now on.
   */
  identified?(serial: string): void
  /** Report a link state change. */
  status(s: LinkStatus): void
  /** Report a device-side technical condition (optional for drivers that have none). */
  condition?(c: DeviceCondition): void
  /** Report the device's battery level in % (drivers of battery-powered devices). */
  battery?(pct: number): void
  /** Count a rejected frame/payload with a stable reason; the agent logs once per cause and exports it. */
  reject(reason: string, detail?: string): void
}

/** One device connection. Created per configured device; never called concurrently. */
export interface Driver {
  readonly deviceId: string
  /** Resolves once subscribed; rejects only on configuration errors (bad port path, unknown address). */
  start(ctx: DriverContext): Promise<void>
  /** Idempotent; leaves the device as it was (stream stopped, port settings restored). */
  stop(): Promise<void>
}
