/** Serial monitors (Datex-Ohmeda S/5, HL7 v2 over MLLP on a serial line) and HL7 v2 over TCP. */
import { z } from 'zod'
import { deviceId, hostPort, serialNumber, splitHostPort, type DriverFamily } from '../family.js'
import { allowFromEntry } from './hl7/allow.js'
import { HL7_TCP_DEFAULTS } from './hl7/limits.js'

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
  // MLLP has no login: who may connect is the sender's address. The bounds hold before a connection
  // costs more than its socket (drivers/serial/hl7/tcp.ts).
  /** Addresses or CIDR ranges of the gateways allowed to connect (e.g. ["10.20.0.15", "10.20.4.0/24"]); others are closed on accept. */
  allow_from: z.array(allowFromEntry).min(1).optional(),
  /** Accept every address on a non-loopback listen anyway (anyone on the network may send vitals for this device). */
  insecure: z.boolean().default(false),
  /** Connections at once; more are closed on accept. A gateway keeps one (a few across a reconnect). */
  max_connections: z.number().int().min(1).max(256).default(HL7_TCP_DEFAULTS.maxConnections),
  /** A connection silent for this long is closed (PCD-01 gateways send every few seconds to a minute). */
  idle_timeout_s: z.number().int().min(5).max(86_400).default(HL7_TCP_DEFAULTS.idleTimeoutS),
  /** Bound on one MLLP frame; a sender that never ends its frame holds at most this much. */
  max_message_bytes: z.number().int().min(1024).max(16 << 20).default(HL7_TCP_DEFAULTS.maxMessageBytes),
}).strict() // a non-loopback listen needs allow_from or insecure: agent/config.ts

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
    const drv = new (await import('./index.js')).Hl7TcpDriver({
      deviceId: c.id, host, port, silenceMs: c.silence_s * 1000, sources: c.sources,
      allowFrom: c.allow_from, maxConnections: c.max_connections, idleTimeoutMs: c.idle_timeout_s * 1000, maxMessageBytes: c.max_message_bytes,
    })
    env.countLink(c.id, () => drv.counters)
    return drv
  },
}
