/**
 * A driver family: one kind of device connection (MQTT devices, BLE sensors, serial monitors,
 * HL7 over TCP, the demo's simulated monitors). Each family declares the config of its devices
 * (a zod object per `type`, validated with the rest of the config) and builds their drivers; the
 * agent knows families only through drivers/families.ts, so adding one is a new folder plus one
 * registration line there.
 *
 * A family's module loads nothing heavy: `create` imports the implementation on first use (each
 * driver library costs 5–10 MB of RSS once loaded, agent/device-drivers.ts).
 */
import { z } from 'zod'
import type { Driver } from './types.js'
import type { LinkCounters } from './serial/counters.js'
import type { NobleLike } from './ble/noble-like.js'

/** Config fields several families share. */
export const deviceId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be 1-64 letters, digits, ".", "_" or "-"')
export const hostPort = z
  .string()
  .regex(/^[^\s:]+:\d{1,5}$/, 'must be "host:port", e.g. "127.0.0.1:8080"')
  .refine((s) => !/^[^\s:]+:\d{1,5}$/.test(s) || Number(s.split(':')[1]) <= 65535, 'port must be at most 65535')
/** Manufacturer serial number, if known: an identifier, pseudonymized before it leaves the gateway. */
export const serialNumber = z.string().optional()

export function splitHostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':')
  return { host: s.slice(0, i), port: Number(s.slice(i + 1)) }
}

/** What the agent gives a family to build a driver (drivers never import agent/). */
export interface FamilyEnv {
  /** One object shared by the family's drivers (the BLE central), made on first use. */
  shared<T>(key: string, make: () => Promise<T>): Promise<T>
  /** BLE: addresses the ward may connect to (config and pairings). */
  readonly allowlist: { has(address: string): boolean }
  /** BLE: the demo ward's simulated radio, else the machine's adapter. */
  readonly simRadio?: NobleLike
  /** Serial/TCP: the link's counters, exported on /metrics per device. */
  countLink(deviceId: string, read: () => LinkCounters): void
  /** Sim: a seed per simulated monitor, so that the demo's beds differ. */
  nextSimSeed(): number
}

export interface DriverFamily<C extends { readonly id: string; readonly type: string }> {
  /** The device types it serves (the config's `type`). */
  readonly types: readonly C['type'][]
  /** The device's driver, or null for devices that arrive by themselves (MQTT, through the broker). */
  create(config: C, env: FamilyEnv): Promise<Driver | null>
}
