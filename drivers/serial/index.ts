/**
 * The serial side of drivers/: what the agent and the demo ward use.
 *
 * Config mapping (DESIGN.md config, `type` per device):
 * - `{ type: datex, port }`              → new DatexDriver({ deviceId, port })
 * - `{ type: hl7, port }` (RS-232 MLLP)  → new Hl7SerialDriver({ deviceId, port })
 * - `{ type: hl7-tcp, listen port }`     → new Hl7TcpDriver({ deviceId, host, port })
 *   A PCD-01 gateway speaking for several monitors: pass `sources: { <EUI-64>: <device id> }`
 *   and each message's observations carry the device id of its sender (MSH-3).
 * Each driver exposes `counters` (LinkCounters) for /metrics.
 */
export { DatexDriver, DATEX_LINE, type DatexDriverOptions } from './datex/driver.js'
export { Hl7SerialDriver, HL7_DEFAULT_LINE, type Hl7SerialDriverOptions } from './hl7/driver.js'
export { Hl7TcpDriver, type Hl7TcpDriverOptions } from './hl7/tcp.js'
export { newLinkCounters, type LinkCounters } from './counters.js'
export { openPtyLink, socatAvailable, type PtyLink } from './pty-link.js'
export type { SerialSettings } from './port.js'
