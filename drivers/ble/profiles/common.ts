/**
 * Battery and Device Information, read on every connection whatever the profile (protocols.md §4).
 * Battery feeds the low-battery technical condition; the identity strings feed pairing records.
 */
import { BatteryMonitor, parseBatteryLevel } from '../battery.js'
import { parseUtf8s, type DeviceIdentity } from '../device-info.js'
import { GATT } from '../gatt-uuids.js'
import type { Link } from '../link.js'

export const COMMON_SERVICES = [GATT.BATTERY_SERVICE, GATT.DEVICE_INFORMATION_SERVICE] as const
export const COMMON_CHARACTERISTICS = [GATT.BATTERY_LEVEL, GATT.MANUFACTURER_NAME, GATT.MODEL_NUMBER, GATT.SERIAL_NUMBER] as const

export async function readIdentity(link: Link): Promise<DeviceIdentity> {
  return {
    manufacturer: await readString(link, GATT.MANUFACTURER_NAME, 'manufacturer name'),
    model: await readString(link, GATT.MODEL_NUMBER, 'model number'),
    serial: await readString(link, GATT.SERIAL_NUMBER, 'serial number'),
  }
}

async function readString(link: Link, uuid: string, what: string): Promise<string | null> {
  const c = link.characteristic(uuid)
  return c ? parseUtf8s(await link.gatt(`read ${what}`, c.readAsync(), true)) : null
}

/** Reads the battery level once and subscribes when the device notifies it (Notify is optional, §4). */
export async function watchBattery(link: Link, monitor: BatteryMonitor): Promise<void> {
  const c = link.characteristic(GATT.BATTERY_LEVEL)
  if (!c) return
  const onLevel = (data: Buffer) => {
    const pct = parseBatteryLevel(data)
    link.battery(pct)
    link.condition(monitor.update(pct, link.nowMs()))
  }
  link.handle(onLevel, await link.gatt('read battery level', c.readAsync(), true))
  if (c.properties.includes('notify')) await link.subscribe(c, 'battery level', onLevel)
}
