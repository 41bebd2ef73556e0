/**
 * Per-link counters for serial and MLLP links (issue 4, "Transport lifecycle").
 *
 * One plain object per driver, mutated in place on the hot path (no allocation per frame) and read
 * by the agent when it renders /metrics. Every drop is counted here under a stable reason, so no
 * loss is silent (STYLE.md 7).
 */
export interface LinkCounters {
  /** Bytes read from the port or socket. */
  bytesIn: number
  /** Bytes written (requests, ACKs). */
  bytesOut: number
  /** Frames that passed framing and checksum and were handed to the record decoder. */
  frames: number
  /** Frames whose checksum did not match (Datex only; always 0 for HL7, which has none). */
  checksumFailures: number
  /** Times the deframer threw bytes away and hunted for the next frame start. */
  resyncs: number
  /** Rejected frames/messages by stable DecodeError reason (`bad-checksum`, `bad-escape`, ...). */
  rejected: Record<string, number>
  /** Successful port opens / accepted TCP connections. */
  opens: number
  /** Open attempts that failed (device absent after an unplug, busy, permission). */
  openFailures: number
  /** Losses of the port (unplug) or of a TCP peer. */
  disconnects: number
  /** Canonical observations emitted. */
  observations: number
  /** HL7 only: acknowledgements sent, by MSA-1 code. */
  acks: { AA: number; AE: number; AR: number }
}

export function newLinkCounters(): LinkCounters {
  return {
    bytesIn: 0,
    bytesOut: 0,
    frames: 0,
    checksumFailures: 0,
    resyncs: 0,
    rejected: {},
    opens: 0,
    openFailures: 0,
    disconnects: 0,
    observations: 0,
    acks: { AA: 0, AE: 0, AR: 0 },
  }
}

/** Counts one reject under its reason. */
export function countReject(c: LinkCounters, reason: string): void {
  c.rejected[reason] = (c.rejected[reason] ?? 0) + 1
}
