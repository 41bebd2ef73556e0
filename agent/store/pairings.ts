/**
 * BLE pairings: devices hospital IT added with `bedside-hub pair add`, kept in the agent's store.
 * Together with the BLE devices of the config they form the allowlist: the central never connects
 * to an address on neither list (issue 3, "Pairing"). The running agent re-reads this table, so a
 * pairing made while it runs takes effect within seconds, and a removal stops the device.
 */
import { BLE_DEVICE_TYPES, type BleDeviceType } from '../../drivers/ble/profiles/profile.js'
import type { Db } from './db.js'

/** The one list of BLE device types (drivers/ble/profiles/profile.ts). */
export const BLE_TYPES = BLE_DEVICE_TYPES
export type BleType = BleDeviceType

export interface Pairing {
  readonly address: string
  readonly deviceId: string
  readonly deviceType: BleType
  readonly bedId: string
  readonly addedMs: number
  readonly addedBy: string
  readonly audited: boolean
}

interface Row { address: string; device_id: string; device_type: string; bed_id: string; added_ms: number; added_by: string; audited: number }

export function normalizeBleAddress(address: string): string {
  const a = address.trim().toLowerCase()
  if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(a)) throw new RangeError(`"${address}" is not a BLE address like a0:9e:1a:00:00:01`)
  return a
}

export class Pairings {
  constructor(private readonly db: Db) {}

  list(): Pairing[] {
    return (this.db.prepare('SELECT * FROM ble_pairings ORDER BY bed_id, device_id').all() as Row[]).map((r) => ({
      address: r.address, deviceId: r.device_id, deviceType: r.device_type as BleType, bedId: r.bed_id, addedMs: r.added_ms, addedBy: r.added_by, audited: r.audited === 1,
    }))
  }

  /** Adds (or re-assigns) a pairing; throws naming the conflict when the device id is taken by another address. */
  add(p: Omit<Pairing, 'audited'>): void {
    const address = normalizeBleAddress(p.address)
    const other = this.db.prepare('SELECT address FROM ble_pairings WHERE device_id = ? AND address != ?').get(p.deviceId, address) as { address: string } | undefined
    if (other) throw new Error(`device id "${p.deviceId}" is already paired with ${other.address}`)
    this.db.prepare(`INSERT INTO ble_pairings (address, device_id, device_type, bed_id, added_ms, added_by, audited) VALUES (?,?,?,?,?,?,0)
      ON CONFLICT(address) DO UPDATE SET device_id = excluded.device_id, device_type = excluded.device_type, bed_id = excluded.bed_id, added_ms = excluded.added_ms, added_by = excluded.added_by, audited = 0`)
      .run(address, p.deviceId, p.deviceType, p.bedId, p.addedMs, p.addedBy)
  }

  /** Removes a pairing; returns whether there was one. */
  remove(address: string): boolean {
    return this.db.prepare('DELETE FROM ble_pairings WHERE address = ?').run(normalizeBleAddress(address)).changes > 0
  }

  markAudited(address: string): void {
    this.db.prepare('UPDATE ble_pairings SET audited = 1 WHERE address = ?').run(address)
  }
}
