/**
 * Failed MQTT logins per source address (issue 16): after `maxFailures` failures within `windowMs`
 * the address is locked out for `lockoutMs`, doubling with every further lockout up to
 * `maxLockoutMs`. While locked out, a login from that address is refused without its password
 * being checked (CONNACK 5), so guessing costs the guesser time, not the ward CPU. Other addresses
 * are unaffected; a device behind the same address as a guesser is locked out with it (a ward's
 * devices are not expected behind a shared NAT: docs/hospital-it.md).
 *
 * Logging: one line per address per window (address, failures, lockout), not one per attempt:
 * a guesser cannot flood the log. The caller counts every refusal in /metrics.
 * Pure apart from the injected clock; `flush()` is called by the owner's interval timer.
 */
export interface ThrottleOptions {
  readonly maxFailures: number
  readonly windowMs: number
  readonly lockoutMs: number
  readonly maxLockoutMs: number
}

interface SourceState {
  windowStart: number
  failures: number
  /** Failures not yet reported by `flush()`. */
  unreported: number
  lockedUntil: number
  lockouts: number
}

export interface ThrottleReport {
  readonly source: string
  readonly failures: number
  readonly lockedUntilMs: number
}

export class LoginThrottle {
  private readonly sources = new Map<string, SourceState>()
  /** Bounds the table: past this many addresses, new ones share one entry (and its lockout). */
  static readonly MAX_SOURCES = 4096

  constructor(private readonly opts: ThrottleOptions, private readonly now: () => number = Date.now) {}

  /** True while `source` is locked out. */
  locked(source: string): boolean {
    const s = this.sources.get(source) ?? (this.sources.size >= LoginThrottle.MAX_SOURCES ? this.sources.get('other') : undefined)
    return s !== undefined && s.lockedUntil > this.now()
  }

  /** Records a failed login (a refused attempt while locked out counts too); true for the first one since the last flush. */
  failed(source: string): boolean {
    const now = this.now()
    if (!this.sources.has(source) && this.sources.size >= LoginThrottle.MAX_SOURCES) source = 'other'
    let s = this.sources.get(source)
    if (!s) this.sources.set(source, (s = { windowStart: now, failures: 0, unreported: 0, lockedUntil: 0, lockouts: 0 }))
    if (now - s.windowStart > this.opts.windowMs) {
      s.windowStart = now
      s.failures = 0
    }
    s.failures++
    s.unreported++
    if (s.failures >= this.opts.maxFailures && s.lockedUntil <= now) {
      s.lockedUntil = now + Math.min(this.opts.maxLockoutMs, this.opts.lockoutMs * 2 ** s.lockouts)
      s.lockouts++
      s.failures = 0
      s.windowStart = now
    }
    return s.unreported === 1
  }

  /** A successful login from `source` clears its failures (not a running lockout). */
  succeeded(source: string): void {
    const s = this.sources.get(source)
    if (s && s.lockedUntil <= this.now()) this.sources.delete(source)
  }

  /** Failures since the last flush, one entry per address; forgets quiet addresses whose lockout ran out. */
  flush(): ThrottleReport[] {
    const now = this.now()
    const out: ThrottleReport[] = []
    for (const [source, s] of this.sources) {
      if (s.unreported > 0) out.push({ source, failures: s.unreported, lockedUntilMs: s.lockedUntil > now ? s.lockedUntil : 0 })
      s.unreported = 0
      // Lockouts escalate while an address keeps failing; a whole quiet window after its lockout forgets it.
      if (s.lockedUntil + this.opts.windowMs < now && now - s.windowStart > this.opts.windowMs) this.sources.delete(source)
    }
    return out
  }
}
