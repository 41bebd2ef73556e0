/** The bounds of an hl7-tcp listener, by default: the config's defaults (family.ts) and the driver's (tcp.ts). */
export const HL7_TCP_DEFAULTS = {
  /** Connections at once; a gateway keeps one (a few across a reconnect). */
  maxConnections: 8,
  /** A connection silent this long is closed (PCD-01 gateways send every few seconds to a minute). */
  idleTimeoutS: 300,
  /** One MLLP frame. */
  maxMessageBytes: 256 << 10,
} as const
