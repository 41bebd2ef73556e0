/**
 * Who may read and write over HTTP and the dashboard WebSocket (issue 18, DESIGN.md "Pseudonymization
 * and security"): bearer tokens with roles, the Host allowlist against DNS rebinding, and the Origin
 * check of WebSocket upgrades. Pure functions of headers and config; http.ts wires them into hooks.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { hostname, networkInterfaces } from 'node:os'

export type Role = 'viewer' | 'nurse' | 'admin'
export interface TokenEntry { readonly token: string; readonly role: Role; readonly name?: string }
export interface Actor { readonly role: Role; readonly name: string }

/**
 * What a route needs: `open` (page files, probes), `viewer` (anything carrying patient identity,
 * vitals or ward state: every role may read), `writer` (nurse or admin).
 */
export type Access = 'open' | 'viewer' | 'writer'

const WRITE_ROLES: ReadonlySet<Role> = new Set(['nurse', 'admin'])

export function mayWrite(actor: Actor): boolean {
  return WRITE_ROLES.has(actor.role)
}

/**
 * The subprotocol the dashboard socket speaks. Browsers cannot set an Authorization header on a
 * WebSocket, so the page offers two subprotocols: this one and `bearer.<base64url(token)>`; the
 * server answers with this fixed name only, so the token is never echoed into a response header.
 */
export const WS_PROTOCOL = 'bedside.v1'
const WS_BEARER_PREFIX = 'bearer.'

/** Tokens kept as SHA-256 digests and compared in constant time (no early exit on a prefix). */
export class TokenTable {
  private readonly entries: readonly { digest: Buffer; actor: Actor }[]

  constructor(tokens: readonly TokenEntry[]) {
    this.entries = tokens.map((t) => ({ digest: digest(t.token), actor: { role: t.role, name: t.name ?? t.role } }))
  }

  get size(): number {
    return this.entries.length
  }

  /** The actor of a presented token, or null for an unknown one. */
  actorOf(token: string): Actor | null {
    const d = digest(token)
    let hit: Actor | null = null
    for (const e of this.entries) if (timingSafeEqual(e.digest, d) && !hit) hit = e.actor
    return hit
  }
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest()
}

/** The token of `Authorization: Bearer …`, or null when the header is absent or of another scheme. */
export function bearerOf(authorization: string | undefined): string | null {
  if (!authorization || !/^bearer /i.test(authorization)) return null
  const token = authorization.slice(7).trim()
  return token || null
}

/** The token carried as `bearer.<base64url>` in Sec-WebSocket-Protocol, or null. */
export function wsBearerOf(protocols: string | undefined): string | null {
  if (!protocols) return null
  for (const p of protocols.split(',')) {
    const v = p.trim()
    if (!v.startsWith(WS_BEARER_PREFIX)) continue
    const token = Buffer.from(v.slice(WS_BEARER_PREFIX.length), 'base64url').toString('utf8')
    return token || null
  }
  return null
}

/** `ws` handleProtocols: answer with the fixed protocol name, never with the bearer one. */
export function chooseWsProtocol(offered: Set<string>): string | false {
  return offered.has(WS_PROTOCOL) ? WS_PROTOCOL : false
}

// ---------- Host allowlist and Origin (DNS rebinding) ----------

/**
 * A Host or Origin host in comparable form: lower case, no port, no brackets, no trailing dot.
 * `[::1]:8080` → `::1`, `Ward-GW.local.:8080` → `ward-gw.local`.
 */
export function normalizeHost(host: string): string {
  let h = host.trim().toLowerCase()
  if (h.startsWith('[')) h = h.slice(1, h.indexOf(']') > 0 ? h.indexOf(']') : undefined)
  else if (h.indexOf(':') === h.lastIndexOf(':')) h = h.replace(/:\d*$/, '')
  return h.replace(/\.$/, '')
}

const WILDCARDS = new Set(['0.0.0.0', '::', '*'])
const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1']

/** True for addresses only this machine can reach: 127.0.0.0/8, ::1, localhost. */
export function isLoopback(host: string): boolean {
  const h = normalizeHost(host)
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)
}

/**
 * The Host names the agent answers to. Always: the listen address and the loopback names (a
 * rebinding page carries the attacker's name in Host, never one of these). Then `configured`
 * (http.allowed_hosts) or, when not configured, the machine's hostname and, on a wildcard listen
 * address, every address of its interfaces.
 */
export function allowedHosts(listenHost: string, configured: readonly string[] | undefined): ReadonlySet<string> {
  const out = new Set<string>(LOOPBACK_NAMES)
  if (!WILDCARDS.has(listenHost)) out.add(normalizeHost(listenHost))
  const extra = configured ?? defaultExtraHosts(listenHost)
  for (const h of extra) out.add(normalizeHost(h))
  return out
}

function defaultExtraHosts(listenHost: string): string[] {
  const name = hostname()
  const out = [name, name.split('.')[0]!]
  if (WILDCARDS.has(listenHost)) {
    for (const addrs of Object.values(networkInterfaces())) for (const a of addrs ?? []) out.push(a.address.replace(/%.*$/, ''))
  }
  return out
}

/** The host of an Origin header (`https://ward-gw:8443` → `ward-gw`), or null when it has none (`null`, garbage). */
export function originHost(origin: string): string | null {
  try {
    const u = new URL(origin)
    return u.hostname ? normalizeHost(u.hostname) : null
  } catch {
    return null
  }
}
