/**
 * Typed decode errors. Every reject a decoder makes is a DecodeError with a stable reason code,
 * so the agent can count it in `bedside_ingest_rejected_total{reason}` and tests can assert it.
 */
export class DecodeError extends Error {
  readonly code = 'BEDSIDE_ERR_DECODE'
  constructor(
    /** Protocol that rejected the input, e.g. `hrs`, `datex`. */
    readonly protocol: string,
    /** Stable machine-readable reason, e.g. `truncated`, `bad-checksum`, `reserved-flags`. */
    readonly reason: string,
    message: string,
  ) {
    super(`${protocol}: ${message}`)
    this.name = 'DecodeError'
  }
}

export function isDecodeError(e: unknown): e is DecodeError {
  return e instanceof DecodeError
}
