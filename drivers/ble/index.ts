/**
 * BLE drivers: build one Driver per configured BLE device, all sharing one central.
 *
 *   const central = new BleCentral(await loadNoble(), allowlist)    // or new SimRadio() in the demo
 *   const driver = createBleDriver({ deviceId: 'patch-3a-01', type: 'polar-pmd', address: 'a0:9e:1a:00:00:01' }, central, allowlist)
 *   await driver.start(ctx)
 */
import type { Allowlist } from './allowlist.js'
import { BleError } from './ble-errors.js'
import { BleCentral } from './central.js'
import { BleDeviceDriver, type BleDeviceOptions } from './device-driver.js'
import { HrsProfile, HtsProfile, PlxProfile } from './profiles/gatt-sensors.js'
import { PolarPmdProfile } from './profiles/polar-pmd.js'
import { BLE_DEVICE_TYPES, type BleDeviceType, type BleProfile } from './profiles/profile.js'

export { BleCentral } from './central.js'
export { BleDeviceDriver } from './device-driver.js'
export { StaticAllowlist, type Allowlist } from './allowlist.js'
export { BleError, BONDING_UNSUPPORTED_TEXT } from './ble-errors.js'
export { loadNoble } from './noble-binding.js'
export { BLE_DEVICE_TYPES, type BleDeviceType } from './profiles/profile.js'

export interface BleDeviceConfig {
  readonly deviceId: string
  readonly type: BleDeviceType
  readonly address: string
  readonly requiresBonding?: boolean
  readonly lowBatteryPct?: number
}

export function createBleProfile(type: BleDeviceType, deviceId: string): BleProfile {
  switch (type) {
    case 'polar-pmd': return new PolarPmdProfile()
    case 'ble-hrs': return new HrsProfile(deviceId)
    case 'ble-plx': return new PlxProfile(deviceId)
    case 'ble-hts': return new HtsProfile()
    default: throw new BleError('BEDSIDE_ERR_BLE_CONFIG', `unknown BLE device type "${String(type)}" (known: ${BLE_DEVICE_TYPES.join(', ')})`)
  }
}

export function createBleDriver(
  config: BleDeviceConfig,
  central: BleCentral,
  allowlist: Allowlist,
  extra: Partial<Omit<BleDeviceOptions, 'deviceId' | 'address' | 'profile' | 'central' | 'allowlist'>> = {},
): BleDeviceDriver {
  return new BleDeviceDriver({
    deviceId: config.deviceId,
    address: config.address,
    profile: createBleProfile(config.type, config.deviceId),
    central,
    allowlist,
    requiresBonding: config.requiresBonding,
    lowBatteryPct: config.lowBatteryPct,
    ...extra,
  })
}
