/** Serial monitors (Datex-Ohmeda S/5, HL7 v2 over MLLP on a serial line) and HL7 v2 over TCP. */
import { z } from 'zod'
import { deviceId, hostPort, serialNumber, splitHostPort, type DriverFamily } from '../family.js'

export const serialDeviceSchema = z.object({
  id: deviceId,
  /** datex: Datex-Ohmeda S/5 computer interface (19200 8E1, RTS/CTS); hl7: HL7 v2 ORU^R01 over MLLP. */
  type: z.enum(['datex', 'hl7']),
  port: z.string().min(1),
  /** Datex: seconds between displayed-values records the monitor is asked for. */
  interval_s: z.number().int().min(1).max(3600).default(5),
  /** No data for this long raises a "no data" technical condition for the device. */
  silence_s: z.number().int().min(1).max(3600).default(30),
  serial: serialNumber,
}).strict()

export const hl7TcpDeviceSchema = z.object({
  id: deviceId,
  type: z.literal('hl7-tcp'),
  listen: hostPort,
  /** Gateway mode: HL7 sender id (MSH-3 EUI-64) → configured device id; unknown senders are refused. */
  sources: z.record(z.string()).optional(),
  silence_s: z.number().int().min(1).max(3600).default(60),
  serial: serialNumber,
}).strict()

export const serialFamily: DriverFamily<z.output<typeof serialDeviceSchema>> = {
  types: ['datex', 'hl7'],
  async create(c, env) {
    const serial = await import('./index.js')
    const drv = c.type === 'datex'
      ? new serial.DatexDriver({ deviceId: c.id, port: c.port, intervalS: c.interval_s, silenceMs: c.silence_s * 1000 })
      : new serial.Hl7SerialDriver({ deviceId: c.id, port: c.port, silenceMs: c.silence_s * 1000 })
    env.countLink(c.id, () => drv.counters)
    return drv
  },
}

export const hl7TcpFamily: DriverFamily<z.output<typeof hl7TcpDeviceSchema>> = {
  types: ['hl7-tcp'],
  async create(c, env) {
    const { host, port } = splitHostPort(c.listen)
    const drv = new (await import('./index.js')).Hl7TcpDriver({ deviceId: c.id, host, port, silenceMs: c.silence_s * 1000, sources: c.sources })
    env.countLink(c.id, () => drv.counters)
    return drv
  },
}
