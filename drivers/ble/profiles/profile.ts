/**
 * A BLE profile: what one kind of device needs after connect (which characteristics, how to
 * subscribe or start a stream, how to decode) and before disconnect (how to stop). One instance per
 * configured device; `open` runs on every (re)connection, `close` before a deliberate disconnect.
 */
import type { Link } from '../link.js'

export type BleDeviceType = 'polar-pmd' | 'ble-hrs' | 'ble-plx' | 'ble-hts'
export const BLE_DEVICE_TYPES: readonly BleDeviceType[] = ['polar-pmd', 'ble-hrs', 'ble-plx', 'ble-hts']

export interface BleProfile {
  readonly type: BleDeviceType
  /** Services and characteristics to discover on each connection (noble UUID form). */
  readonly serviceUuids: readonly string[]
  readonly characteristicUuids: readonly string[]
  /** Connected but no data for this long means 'silent'; null for devices that send rarely (thermometers). */
  readonly silenceMs: number | null
  /** Subscribes and starts streams on a fresh connection. Throws to fail the connection attempt. */
  open(link: Link): Promise<void>
  /** Stops what `open` started on the device (e.g. the PMD stream), while the link is still up. */
  close(link: Link): Promise<void>
}
