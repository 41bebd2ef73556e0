/** The demo ward's simulated monitors (real device bytes come from the BLE and serial emulators). */
import { z } from 'zod'
import { deviceId, serialNumber, type DriverFamily } from '../family.js'

export const simDeviceSchema = z.object({
  id: deviceId,
  type: z.literal('sim'),
  /** Scenario of the simulated patient: stable, or drifting into a condition. */
  scenario: z.enum(['stable', 'tachycardia', 'desaturation', 'fever']).default('stable'),
  /** Parameters it emits (a bed whose HR comes from an ECG patch leaves out hr). */
  parameters: z.array(z.enum(['hr', 'spo2', 'rr', 'temp', 'nibp'])).default(['hr', 'spo2', 'rr', 'temp', 'nibp']),
  serial: serialNumber,
}).strict()

export const simFamily: DriverFamily<z.output<typeof simDeviceSchema>> = {
  types: ['sim'],
  async create(c, env) {
    return new (await import('./vitals.js')).SimVitalsDriver(c.id, c.scenario, env.nextSimSeed(), c.parameters)
  },
}
