/** BLE devices: the Polar H10 ECG patch and the standard GATT sensors, all on one shared central. */
import { z } from 'zod'
import { deviceId, serialNumber, type DriverFamily } from '../family.js'
import { BLE_DEVICE_TYPES, type BleDeviceType } from './profiles/profile.js'

export const bleDeviceSchema = z.object({
  id: deviceId,
  /** polar-pmd: Polar H10 ECG patch (raw ECG, HR derived by the agent); ble-*: standard GATT sensors. */
  type: z.enum(BLE_DEVICE_TYPES as [BleDeviceType, ...BleDeviceType[]]),
  address: z.string().regex(/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/, 'must be a BLE address like "a0:9e:1a:00:00:01"'),
  /** Refuse at start when the device needs a bonded link (the Linux HCI binding cannot bond). */
  requires_bonding: z.boolean().default(false),
  /** Battery level (%) at or below which a low-battery technical alarm is raised. */
  low_battery_pct: z.number().int().min(1).max(99).default(20),
  serial: serialNumber,
}).strict()

export const bleFamily: DriverFamily<z.output<typeof bleDeviceSchema>> = {
  types: BLE_DEVICE_TYPES,
  async create(c, env) {
    const ble = await import('./index.js')
    const central = await env.shared('ble-central', async () => new ble.BleCentral(env.simRadio ?? (await ble.loadNoble()), env.allowlist))
    return ble.createBleDriver({ deviceId: c.id, type: c.type, address: c.address, requiresBonding: c.requires_bonding, lowBatteryPct: c.low_battery_pct }, central, env.allowlist)
  },
}
