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

export interface DriverContext {
  /** Aborted when the agent stops the driver. */
  readonly signal: AbortSignal
  /** Emit one canonical record. Synchronous and cheap; never throws for a valid record. */
  emit(record: DeviceRecord): void
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
