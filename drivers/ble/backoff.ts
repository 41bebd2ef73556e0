/**
 * Reconnect delays: exponential with jitter, capped (issue 3, "reconnect with backoff").
 * Jitter spreads the reconnects of a ward's patches after a shared outage (an adapter reset drops
 * every link at once) so they do not all hit the controller in the same instant.
 */
export interface BackoffOptions {
  /** First delay, ms. */
  readonly baseMs: number
  /** Upper bound of any delay, ms: a patch that walks back into range is picked up within this. */
  readonly maxMs: number
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 30_000 }

/**
 * Delay before reconnect attempt `attempt` (0-based): "equal jitter", half fixed and half random,
 * so the delay never collapses to zero and never exceeds maxMs. `random` ∈ [0, 1) is injected for tests.
 */
export function backoffDelayMs(attempt: number, o: BackoffOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(o.maxMs, o.baseMs * 2 ** Math.min(attempt, 30))
  return ceiling / 2 + random() * (ceiling / 2)
}
