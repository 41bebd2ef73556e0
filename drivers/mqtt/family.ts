/** MQTT devices: no driver, they connect to the agent's broker (agent/serve/mqtt.ts, source.ts). */
import { z } from 'zod'
import { deviceId, serialNumber, type DriverFamily } from '../family.js'

export const mqttDeviceSchema = z.object({
  id: deviceId,
  type: z.literal('mqtt'),
  /** MQTT password of this device (username = id). */
  secret: z.string().min(8, 'must be at least 8 characters'),
  serial: serialNumber,
}).strict()

export const mqttFamily: DriverFamily<z.output<typeof mqttDeviceSchema>> = {
  types: ['mqtt'],
  create: async () => null,
}
