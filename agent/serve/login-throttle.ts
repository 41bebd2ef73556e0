/**
 * Failed MQTT logins per source address and identity (issue 16): after `maxFailures` failures
 * within `windowMs` the pair is locked out for `lockoutMs`, doubling with every further lockout up
 * to `maxLockoutMs`. While locked out, a login of that identity from that address is refused
 * without its password being checked (CONNACK 5), so guessing costs the guesser time, not the ward
 * CPU.
 *
 * Why the pair and not the address alone: a ward's devices may share an address (a NAT, a
 * concentrator, a gateway for several monitors), and guesses against one name must not lock the
 * others out. A guesser that sprays many names from one address is stopped by the address's own
 * count: past ADDRESS_FACTOR × maxFailures failures in a window the address is locked out too, but
 * only for names that have not logged in from it before (the devices behind that NAT reconnect;
 * a name first seen there during the attack waits for the lockout to end).
 *
 * The table holds at most MAX_ENTRIES pairs; when full, the oldest entry that is not locked goes
 * (the oldest of all if the first EVICT_SCAN are locked). It was a shared overflow entry once: an
 * attacker with 4,096 addresses (one IPv6 /64 has plenty) filled the table with failures and
 * locked that entry, which every new address then shared, so every device reconnecting was
 * refused (red-team finding, session 11). The caller passes names it does not know as one name
 * (the attacker chooses them, up to 64 KiB each), and an attempt refused by a lockout adds no
 * entry (`refusedWhileLocked`), so a locked guesser cannot churn the table to lift a lockout.
 *
 * Logging: one line per address per window (failures, the names tried, lockout), not one per
 * attempt or per name, and at most MAX_REPORT_LINES of them with a sum of the rest: a guesser
 * cannot flood the log. The caller counts every refusal in /metrics.
 * Pure apart from the injected clock; `flush()` is called by the owner's interval timer.
 */
export interface ThrottleOptions {
  readonly maxFailures: number
  readonly windowMs: number
  readonly lockoutMs: number
  readonly maxLockoutMs: number
}

interface SourceState {
  readonly source: string
  readonly identity: string
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
  /** The usernames tried ('' when none was given), at most MAX_NAMES_REPORTED of them. */
  readonly identities: string[]
  /** How many names were tried in all. */
  readonly nameCount: number
  /** The latest end of a lockout at this address (of the address, or of one of its names); 0 for none. */
  readonly lockedUntilMs: number
}

export interface ThrottleFlush {
  /** At most MAX_REPORT_LINES addresses, those with the most failures first. */
  readonly reports: ThrottleReport[]
  /** The addresses and failures beyond them. */
  readonly moreSources: number
  readonly moreFailures: number
}

export class LoginThrottle {
  /** Keyed by address and identity; Map order is insertion order, so the first entry is the oldest. */
  private readonly entries = new Map<string, SourceState>()
  /** Failures per address, over all names (the sprayer's count); reported through the pairs. */
  private readonly addresses = new Map<string, SourceState>()
  /** Address and name pairs that logged in, oldest first: not locked by their address's count. */
  private readonly known = new Set<string>()
  static readonly MAX_ENTRIES = 4096
  static readonly MAX_REPORT_LINES = 20
  static readonly MAX_NAMES_REPORTED = 5
  static readonly ADDRESS_FACTOR = 5
  static readonly EVICT_SCAN = 64

  constructor(private readonly opts: ThrottleOptions, private readonly now: () => number = Date.now) {}

  /** True while `identity` is locked out at `source`. */
  locked(source: string, identity: string | undefined): boolean {
    const key = keyOf(source, identity)
    const now = this.now()
    const s = this.entries.get(key)
    if (s !== undefined && s.lockedUntil > now) return true
    const a = this.addresses.get(source)
    return a !== undefined && a.lockedUntil > now && !this.known.has(key)
  }

  /** An attempt refused by a lockout: counted where it is already tracked, never a new entry. */
  refusedWhileLocked(source: string, identity: string | undefined): void {
    const s = this.entries.get(keyOf(source, identity))
    if (s) s.unreported++
    const a = this.addresses.get(source)
    if (a) a.unreported++
  }

  /** Records a failed login; true for the address's first one since the last flush. */
  failed(source: string, identity: string | undefined): boolean {
    const now = this.now()
    this.count(this.entries, keyOf(source, identity), source, identity ?? '', now, this.opts.maxFailures)
    return this.count(this.addresses, source, source, '', now, this.opts.maxFailures * LoginThrottle.ADDRESS_FACTOR).unreported === 1
  }

  /** A successful login clears the pair's failures (not a running lockout, nor the address's count: a guesser holding one device's secret cannot reset it). */
  succeeded(source: string, identity: string | undefined): void {
    const key = keyOf(source, identity)
    const s = this.entries.get(key)
    if (s && s.lockedUntil <= this.now()) {
      // its failures are still reported once (flush() forgets the entry after a quiet window)
      if (s.unreported > 0) s.failures = s.lockouts = 0
      else this.entries.delete(key)
    }
    this.known.delete(key)
    if (this.known.size >= LoginThrottle.MAX_ENTRIES) this.known.delete(this.known.values().next().value!)
    this.known.add(key)
  }

  /** Failures since the last flush, one report per address; forgets quiet entries whose lockout ran out. */
  flush(): ThrottleFlush {
    const now = this.now()
    const names = new Map<string, { identities: string[]; count: number; failures: number; lockedUntil: number }>()
    for (const [key, s] of this.entries) {
      if (s.unreported > 0) {
        let n = names.get(s.source)
        if (!n) names.set(s.source, (n = { identities: [], count: 0, failures: 0, lockedUntil: 0 }))
        if (n.identities.length < LoginThrottle.MAX_NAMES_REPORTED) n.identities.push(s.identity)
        n.count++
        n.failures += s.unreported
        if (s.lockedUntil > n.lockedUntil) n.lockedUntil = s.lockedUntil
      }
      s.unreported = 0
      if (this.quiet(s, now)) this.entries.delete(key)
    }
    const all: ThrottleReport[] = []
    for (const [source, a] of this.addresses) {
      const n = names.get(source)
      names.delete(source)
      if (a.unreported > 0) {
        const until = Math.max(a.lockedUntil, n?.lockedUntil ?? 0)
        all.push({ source, failures: a.unreported, identities: n?.identities ?? [], nameCount: n?.count ?? 0, lockedUntilMs: until > now ? until : 0 })
      }
      a.unreported = 0
      if (this.quiet(a, now)) this.addresses.delete(source)
    }
    // addresses whose own entry was evicted, reported from their pairs
    for (const [source, n] of names) all.push({ source, failures: n.failures, identities: n.identities, nameCount: n.count, lockedUntilMs: n.lockedUntil > now ? n.lockedUntil : 0 })
    if (all.length <= LoginThrottle.MAX_REPORT_LINES) return { reports: all, moreSources: 0, moreFailures: 0 }
    all.sort((a, b) => b.failures - a.failures)
    const rest = all.slice(LoginThrottle.MAX_REPORT_LINES)
    return { reports: all.slice(0, LoginThrottle.MAX_REPORT_LINES), moreSources: rest.length, moreFailures: rest.reduce((n, r) => n + r.failures, 0) }
  }

  /** One failure on `key` of `table` (bounded: a new key past MAX_ENTRIES evicts the oldest); locks it out at `max`. */
  private count(table: Map<string, SourceState>, key: string, source: string, identity: string, now: number, max: number): SourceState {
    let s = table.get(key)
    if (!s) {
      if (table.size >= LoginThrottle.MAX_ENTRIES) evictOne(table, now)
      table.set(key, (s = { source, identity, windowStart: now, failures: 0, unreported: 0, lockedUntil: 0, lockouts: 0 }))
    }
    if (now - s.windowStart > this.opts.windowMs) {
      s.windowStart = now
      s.failures = 0
    }
    s.failures++
    s.unreported++
    if (s.failures >= max && s.lockedUntil <= now) {
      s.lockedUntil = now + Math.min(this.opts.maxLockoutMs, this.opts.lockoutMs * 2 ** s.lockouts)
      s.lockouts++
      s.failures = 0
      s.windowStart = now
    }
    return s
  }

  /** Lockouts escalate while a key keeps failing; a whole quiet window after its lockout forgets it. */
  private quiet(s: SourceState, now: number): boolean {
    return s.lockedUntil + this.opts.windowMs < now && now - s.windowStart > this.opts.windowMs
  }
}

/** The oldest entry not locked among the first EVICT_SCAN, else the oldest. */
function evictOne(table: Map<string, SourceState>, now: number): void {
  let first: string | undefined
  let n = 0
  for (const [key, s] of table) {
    first ??= key
    if (s.lockedUntil <= now) {
      table.delete(key)
      return
    }
    if (++n >= LoginThrottle.EVICT_SCAN) break
  }
  if (first !== undefined) table.delete(first)
}

/** A space never occurs in an address. */
function keyOf(source: string, identity: string | undefined): string {
  return `${source} ${identity ?? ''}`
}
