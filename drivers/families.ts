/**
 * The driver families of the agent, registered once: their device config (validated with the rest
 * of the config, agent/config.ts) and their drivers (agent/device-drivers.ts). A new family is a
 * folder with a family.ts, plus its line in each of the two lists below.
 */
import { z } from 'zod'
import { bleDeviceSchema, bleFamily } from './ble/family.js'
import type { DriverFamily } from './family.js'
import { mqttDeviceSchema, mqttFamily } from './mqtt/family.js'
import { hl7TcpDeviceSchema, hl7TcpFamily, serialDeviceSchema, serialFamily } from './serial/family.js'
import { simDeviceSchema, simFamily } from './sim/family.js'

export const deviceSchema = z.discriminatedUnion('type', [mqttDeviceSchema, bleDeviceSchema, serialDeviceSchema, hl7TcpDeviceSchema, simDeviceSchema])

export type DeviceConfig = z.output<typeof deviceSchema>

/** A family typed for its own config; familyOf only ever hands it a config of one of its types. */
const widen = <C extends DeviceConfig>(f: DriverFamily<C>) => f as unknown as DriverFamily<DeviceConfig>

const FAMILIES = [widen(mqttFamily), widen(bleFamily), widen(serialFamily), widen(hl7TcpFamily), widen(simFamily)]

const byType = new Map(FAMILIES.flatMap((f) => f.types.map((t) => [t, f] as const)))

/** The family that serves a device type. */
export function familyOf(type: DeviceConfig['type']): DriverFamily<DeviceConfig> {
  const f = byType.get(type)
  if (!f) throw new Error(`BEDSIDE_ERR_DRIVER_FAMILY: no driver family for device type "${type}"`)
  return f
}
