/**
 * Refused HTTP requests in the journal without letting a caller flood it: the first refusal of
 * each cause from each address in a window is logged as it happens; the rest are counted and
 * summed in one line per cause when the window ends. (One line per refusal let 3,000 requests
 * with a wrong token write 630 KB, enough to push journald into its rate limit, which would drop
 * the agent's alarm and audit lines too: red-team finding, session 11.) Every refusal is still
 * counted in /metrics by the caller.
 */
import type { Logger } from 'pino'

/** Cause and address pairs remembered per window; past it, every refusal is only summed. */
const MAX_LOGGED_PER_WINDOW = 256

export class RefusalLog {
  private readonly logged = new Set<string>()
  /** Per cause: refusals not logged one by one in this window. */
  private readonly suppressed = new Map<string, number>()
  private timer: NodeJS.Timeout | undefined

  constructor(private readonly log: Logger, private readonly windowMs = 60_000) {}

  /** A refusal of `cause` from `ip`: `write` logs it, unless this pair was logged in this window already. */
  refused(cause: string, ip: string, write: () => void): void {
    const key = `${cause} ${ip}`
    if (!this.logged.has(key) && this.logged.size < MAX_LOGGED_PER_WINDOW) {
      this.logged.add(key)
      write()
    } else {
      this.suppressed.set(cause, (this.suppressed.get(cause) ?? 0) + 1)
    }
    this.timer ??= setInterval(() => this.flush(), this.windowMs).unref()
  }

  /** Ends the window: one line per cause with the refusals it did not log. */
  flush(): void {
    for (const [cause, n] of this.suppressed) {
      this.log.warn({ event: 'http_refused_summary', cause, refusals: n }, `HTTP: ${n} more requests refused (${cause}) in the last ${Math.round(this.windowMs / 1000)} s, not logged one by one`)
    }
    this.suppressed.clear()
    this.logged.clear()
    // the next refusal starts a new window (no timer while nobody is refused)
    clearInterval(this.timer)
    this.timer = undefined
  }

  stop(): void {
    this.flush()
  }
}
