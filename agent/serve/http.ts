/**
 * The agent's HTTP API (DESIGN.md, HTTP contract) on fastify. Every read that carries patient
 * identity, vitals or ward state needs a bearer token of any role; writes need nurse or admin;
 * /healthz, /readyz and the page's own files are open. Requests whose Host is not one the agent
 * serves are refused (DNS rebinding), and so are WebSocket upgrades from a foreign Origin
 * (access.ts). HTTPS when the agent hands over a TLS reloader (tls.ts). Bad requests get a 4xx
 * naming the field; no refusal carries patient data.
 */
import websocket from '@fastify/websocket'
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { Server as NetServer, Socket } from 'node:net'
import type { Server as TlsServer } from 'node:tls'
import type { Logger } from 'pino'
import { z } from 'zod'
import { bearerOf, chooseWsProtocol, isLoopback, mayWrite, normalizeHost, originHost, TokenTable, wsBearerOf, type Access, type Actor, type TokenEntry } from './access.js'
import type { Metrics } from './metrics.js'
import type { StaticAsset } from './page.js'
import { RefusalLog } from './refusal-log.js'
import { plainAddress } from '../../drivers/serial/hl7/allow.js'
import type { TlsReloader } from './tls.js'
import type { LiveFeed } from './ws.js'
import { bedContextSchema, type BedContextInput } from '../ward/context.js'

export type { Actor, Role, TokenEntry } from './access.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route (access.ts); routes without it need a viewer token. */
    access?: Access
    /** Served whatever the Host header says (load-balancer probes that carry no PHI). */
    anyHost?: boolean
  }
  interface FastifyRequest {
    /** The authenticated caller, set by the access hook on routes that need a token. */
    actor: Actor | null
  }
}

type Refusal<S extends number> = { ok: false; status: S; error: string; field?: string }

/** What the HTTP layer needs from the agent: a narrow facade, no internals. */
export interface AgentApi {
  beds(): unknown[]
  /** Active alarms, one entry per visible alarm with those folded under it (rules/grouping.ts). */
  alarms(): unknown[]
  /** The alarm history from the store: alarms with a change since `sinceMs`, with their changes. */
  alarmHistory(sinceMs: number, limit: number): { alarms: unknown[]; truncated: boolean; unreadable: number }
  acknowledge(alarmId: string, actor: Actor): Promise<{ ok: true; alarm: unknown } | Refusal<404 | 409>>
  admit(req: AdmitRequest, actor: Actor): Promise<{ ok: true; admission: unknown } | Refusal<404 | 409>>
  discharge(bedId: string, actor: Actor): Promise<{ ok: true } | Refusal<404>>
  transfer(req: TransferRequest, actor: Actor): Promise<{ ok: true; admission: unknown } | Refusal<404 | 409>>
  /** Operator summary for `bedside-hub status`: links, queue, sync lag, active alarms. */
  status(): unknown
  health(): { live: boolean }
  readiness(): { ready: boolean; parts: Record<string, { ok: boolean; detail?: string }> }
  /** The NEWS2 inputs a nurse sets for the patient in a bed (consciousness, oxygen, SpO2 scale). */
  setContext(bedId: string, input: BedContextInput, actor: Actor): Promise<{ ok: true; context: unknown; news2: unknown } | Refusal<404>>
  /** PCD-01 on demand (issue 21): the bed's results so far go to the interface engine now; absent or 409 when hl7.results is not configured. */
  requestResults?(bedId: string, actor: Actor): Promise<{ ok: true; controlId: string } | Refusal<404 | 409>>
  /** Audit (issue 18): a sign-in on the page (`explicit`) or a token's first request since start. */
  signedIn(actor: Actor, detail: string, explicit: boolean): void
  /** Audit (issue 18): `actor` was shown the patients of these beds ('all': the ward); the API records the first view per token, bed and admission. */
  viewed(actor: Actor, bedIds: readonly string[] | 'all', via: string): void
}

export interface HttpOptions {
  readonly tokens: readonly TokenEntry[]
  readonly metrics: Metrics
  readonly log: Logger
  /** Dashboard files by URL path (page.ts). */
  readonly assets: ReadonlyMap<string, StaticAsset>
  /** The dashboard's live feed; GET /ws answers 404 without it. */
  readonly live?: LiveFeed
  /** Host names served, normalized (access.ts allowedHosts); other Host headers get 421. */
  readonly allowedHosts: ReadonlySet<string>
  /** HTTPS with these certificates, reloaded when their files change (tls.ts); absent: plain HTTP. */
  readonly tls?: TlsReloader
  /** False when /metrics has a listener of its own (http.metrics_listen, buildMetricsHttp). */
  readonly metricsHere?: boolean
}

const bedId = z.string().min(1).max(64)
const admitFields = {
  bed_id: bedId,
  mrn: z.string().min(1).max(64),
  name: z.string().min(1).max(200).optional(),
  birth_date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be YYYY-MM-DD').refine((s) => !Number.isNaN(Date.parse(s)), 'is not a date').optional(),
}
/** Admit (the default action: `{bed_id, mrn, name?, birth_date?}`), discharge or transfer. */
export const admissionSchema = z.preprocess(
  (b) => (b && typeof b === 'object' && !Array.isArray(b) && !('action' in b) ? { ...b, action: 'admit' } : b),
  z.discriminatedUnion('action', [
    z.object({ action: z.literal('admit'), ...admitFields }).strict(),
    z.object({ action: z.literal('discharge'), bed_id: bedId }).strict(),
    z.object({ action: z.literal('transfer'), bed_id: bedId, to_bed_id: bedId }).strict(),
  ]),
)
export type AdmissionRequest = z.infer<typeof admissionSchema>
export type AdmitRequest = Extract<AdmissionRequest, { action: 'admit' }>
export type TransferRequest = Extract<AdmissionRequest, { action: 'transfer' }>

const alarmIdSchema = z.string().min(1).max(200)

function fieldErrors(err: z.ZodError): { error: string; fields: { field: string; message: string }[] } {
  const fields = err.issues.map((i) => ({ field: i.path.join('.') || (i.code === 'unrecognized_keys' ? i.keys.join(',') : '(body)'), message: i.message }))
  return { error: `invalid request: ${fields.map((f) => `${f.field}: ${f.message}`).join('; ')}`, fields }
}

function refusal(reply: FastifyReply, r: Refusal<number>): FastifyReply {
  return reply.code(r.status).send({ error: r.error, ...(r.field ? { fields: [{ field: r.field, message: r.error }] } : {}) })
}

/**
 * Connection limits of the HTTP server (issue 16), kept apart from the routes. With Node's and
 * fastify's defaults a socket that never sends a byte was held ~75 s: ~21,000 such sockets
 * exhausted the descriptors. The idle timeout closes it after connectionTimeoutMs (measured: Node's
 * headersTimeout alone did not close a silent socket within 6 s of a 3 s setting). The dashboard's
 * WebSocket is not affected: Node drops the idle timer on upgrade (checked: an idle /ws survived 2x
 * the timeout), and ws.ts pings it itself.
 */
export const HTTP_LIMITS = {
  /** Sockets at once; more are closed at accept (net.Server.maxConnections). */
  maxConnections: 512,
  /**
   * Sockets at once from one address, loopback (a local TLS proxy, the machine itself) excepted;
   * more are closed at accept. One host trickling headers could otherwise hold all 512 and keep
   * every station from loading the page (red-team finding, session 11). A station's browser opens
   * about six.
   */
  maxConnectionsPerSource: 64,
  /** A socket with no traffic either way for this long is closed (before or between requests). */
  connectionTimeoutMs: 10_000,
  /** A request's headers must arrive within this time. */
  headersTimeoutMs: 10_000,
  /** The whole request (headers and body, ≤ 64 KiB) must arrive within this time. */
  requestTimeoutMs: 15_000,
  /** An idle keep-alive socket is closed after this time. */
  keepAliveTimeoutMs: 5_000,
  /** How often Node checks the two timeouts above. */
  checkIntervalMs: 1_000,
  /** Request line and headers together (Node's default is 16 KiB). */
  maxHeaderBytes: 16 * 1024,
} as const

/** fastify's timeouts, and Node's server options for HTTP or HTTPS alike (https.createServer takes the http ones too). */
function serverOptions(tls: TlsReloader | undefined) {
  const node = { headersTimeout: HTTP_LIMITS.headersTimeoutMs, connectionsCheckingInterval: HTTP_LIMITS.checkIntervalMs, maxHeaderSize: HTTP_LIMITS.maxHeaderBytes }
  return {
    connectionTimeout: HTTP_LIMITS.connectionTimeoutMs,
    requestTimeout: HTTP_LIMITS.requestTimeoutMs,
    keepAliveTimeout: HTTP_LIMITS.keepAliveTimeoutMs,
    ...(tls ? { https: { ...tls.options, ...node } } : { http: node }),
  }
}

export function buildHttp(api: AgentApi, opts: HttpOptions): FastifyInstance {
  const app = createServer(opts)
  registerAccess(app, api, opts)
  registerErrors(app, opts.log)
  registerPage(app, opts)
  registerProbes(app, api)
  if (opts.metricsHere !== false) registerMetrics(app, opts)
  registerReads(app, api, opts.log)
  registerWrites(app, api)
  return app
}

/** The listener of http.metrics_listen: /metrics with a token, /healthz and /readyz, nothing of the ward. */
export function buildMetricsHttp(api: AgentApi, opts: Omit<HttpOptions, 'assets' | 'live'>): FastifyInstance {
  const app = createServer(opts)
  registerAccess(app, api, opts)
  registerErrors(app, opts.log)
  registerProbes(app, api)
  registerMetrics(app, opts)
  return app
}

/** The fastify instance: HTTPS when a TLS reloader is given, its default context kept current. */
function createServer(opts: Pick<HttpOptions, 'tls' | 'metrics' | 'log'>): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024, ...serverOptions(opts.tls) }) as unknown as FastifyInstance
  app.server.maxConnections = HTTP_LIMITS.maxConnections
  // counted and logged like the other refusals (once per address per minute, then summed)
  const refusals = new RefusalLog(opts.log)
  app.addHook('onClose', async () => refusals.stop())
  limitPerSource(app.server, (ip) => {
    opts.metrics.httpRefused.inc({ reason: 'connections-per-source' })
    refusals.refused('connections-per-source', ip, () => opts.log.warn({ event: 'http_connection_refused', cause: 'connections-per-source', ip, max: HTTP_LIMITS.maxConnectionsPerSource }, `HTTP connection refused: ${ip} holds ${HTTP_LIMITS.maxConnectionsPerSource} sockets already`))
  })
  if (opts.tls) opts.tls.attach(app.server as unknown as TlsServer)
  return app
}

/** HTTP_LIMITS.maxConnectionsPerSource: counted on accept (the TCP socket, before any TLS or HTTP). */
export function limitPerSource(server: NetServer, refused: (ip: string) => void = () => {}): void {
  const open = new Map<string, number>()
  server.on('connection', (socket: Socket) => {
    const ip = plainAddress(socket.remoteAddress)
    if (isLoopback(ip)) return
    const n = (open.get(ip) ?? 0) + 1
    if (n > HTTP_LIMITS.maxConnectionsPerSource) {
      socket.destroy()
      refused(ip)
      return
    }
    open.set(ip, n)
    socket.once('close', () => {
      const left = (open.get(ip) ?? 1) - 1
      if (left > 0) open.set(ip, left)
      else open.delete(ip)
    })
  })
}

/**
 * One onRequest hook in front of every route, WebSocket upgrades included (@fastify/websocket
 * routes the upgrade request through fastify before upgrading): Host allowlist, then the Origin of
 * an upgrade, then the route's token. A refusal is a short JSON error, never patient data.
 */
type AccessOptions = Pick<HttpOptions, 'tokens' | 'allowedHosts' | 'log' | 'metrics'>

function registerAccess(app: FastifyInstance, api: AgentApi, opts: AccessOptions): void {
  const guard = new AccessGuard(api, opts)
  app.addHook('onClose', async () => guard.stop())
  app.decorateRequest('actor', null)
  app.addHook('onRequest', async (req, reply) => guard.check(req, reply))
}

/** The checks of registerAccess, in order; each refusal is logged with its cause and counted. */
class AccessGuard {
  private readonly tokens: TokenTable
  /** Tokens (as role:name) that made a request since start: the first one is audited as a sign-in. */
  private readonly seen = new Set<string>()
  private readonly refusals: RefusalLog

  constructor(private readonly api: AgentApi, private readonly opts: AccessOptions) {
    this.tokens = new TokenTable(opts.tokens)
    this.refusals = new RefusalLog(opts.log)
  }

  stop(): void {
    this.refusals.stop()
  }

  /** Undefined when the request may go on (with req.actor set where a token was needed), else the refusal. */
  check(req: FastifyRequest, reply: FastifyReply): FastifyReply | undefined {
    return this.checkPlace(req, reply) ?? this.checkToken(req, reply)
  }

  /** Host allowlist, then the Origin of a WebSocket upgrade (DNS rebinding, cross-site sockets). */
  private checkPlace(req: FastifyRequest, reply: FastifyReply): FastifyReply | undefined {
    const host = normalizeHost(req.headers.host ?? '')
    if (!req.routeOptions.config.anyHost && !this.opts.allowedHosts.has(host)) {
      this.refusals.refused('host', req.ip, () => this.opts.log.warn({ event: 'http_host_refused', cause: 'host not allowed', host: host.slice(0, 100), route: req.routeOptions.url, ip: req.ip }, 'request refused: Host header not in http.allowed_hosts'))
      return this.refuse(req, reply, 'host', 421, 'this Host is not served here (http.allowed_hosts)')
    }
    if (isUpgrade(req) && !originAllowed(req.headers.origin, this.opts.allowedHosts)) {
      this.refusals.refused('origin', req.ip, () => this.opts.log.warn({ event: 'ws_origin_refused', cause: 'origin not allowed', origin: String(req.headers.origin).slice(0, 100), ip: req.ip }, 'WebSocket refused: Origin not in http.allowed_hosts'))
      return this.refuse(req, reply, 'origin', 403, 'this Origin may not open the live feed')
    }
    return undefined
  }

  private checkToken(req: FastifyRequest, reply: FastifyReply): FastifyReply | undefined {
    const access = req.routeOptions.config.access ?? 'viewer'
    if (access === 'open') return undefined
    const presented = bearerOf(req.headers.authorization) ?? (isUpgrade(req) ? wsBearerOf(req.headers['sec-websocket-protocol']) : null)
    const actor = presented === null ? null : this.tokens.actorOf(presented)
    if (!actor) {
      const cause = presented === null ? 'no-token' : 'unknown-token'
      this.refusals.refused(cause, req.ip, () => this.opts.log.warn({ event: 'auth_refused', cause, route: req.routeOptions.url, ip: req.ip }, 'request refused: missing or unknown bearer token'))
      return this.refuse(req, reply.header('www-authenticate', 'Bearer'), cause, 401, 'missing or unknown bearer token')
    }
    if (access === 'writer' && !mayWrite(actor)) {
      this.refusals.refused('role', req.ip, () => this.opts.log.warn({ event: 'auth_refused', cause: 'role', role: actor.role, actor: actor.name, route: req.routeOptions.url }, `write refused: role ${actor.role}`))
      return this.refuse(req, reply, 'role', 403, `role "${actor.role}" may not write; needs nurse or admin`)
    }
    req.actor = actor
    this.noteFirstUse(req, actor)
    return undefined
  }

  /** The first request of each token since start is its sign-in in the audit trail (the page's explicit one is POST /api/session). */
  private noteFirstUse(req: FastifyRequest, actor: Actor): void {
    const key = `${actor.role}:${actor.name}`
    if (this.seen.has(key)) return
    this.seen.add(key)
    if (req.routeOptions.url !== '/api/session') this.api.signedIn(actor, `first request since start: ${req.method} ${req.routeOptions.url ?? '?'} from ${req.ip}`, false)
  }

  private refuse(req: FastifyRequest, reply: FastifyReply, reason: string, status: number, error: string): FastifyReply {
    this.opts.metrics.httpRefused.inc({ reason })
    return sendRefusal(req, reply, status, error)
  }
}

/**
 * A refusal: status and a short error, nothing else. A refused WebSocket upgrade owns its raw socket
 * (no HTTP keep-alive applies to it), so it is ended once the answer is written; a client that kept
 * it open would otherwise hold the socket and delay the agent's stop.
 */
function sendRefusal(req: FastifyRequest, reply: FastifyReply, status: number, error: string): FastifyReply {
  if (isUpgrade(req)) {
    const socket = req.raw.socket
    reply.raw.once('finish', () => socket.end())
    void reply.header('connection', 'close')
  }
  return reply.code(status).send({ error })
}

function isUpgrade(req: FastifyRequest): boolean {
  return (req.headers.upgrade ?? '').toLowerCase() === 'websocket'
}

/** Browsers always send Origin on a WebSocket; its absence means a non-browser client (token still needed). */
function originAllowed(origin: string | undefined, allowed: ReadonlySet<string>): boolean {
  if (origin === undefined) return true
  const host = originHost(origin)
  return host !== null && allowed.has(host)
}

/** Malformed JSON, wrong content type, oversized body: a 4xx with a JSON body, never fastify's HTML. */
function registerErrors(app: FastifyInstance, log: Logger): void {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500
    if (status === 500) log.error({ event: 'http_error', cause: err.message, route: req.routeOptions.url }, 'HTTP handler failed')
    else log.info({ event: 'http_bad_request', cause: err.code ?? err.message, route: req.routeOptions.url }, 'bad request')
    void reply.code(status).send({ error: status === 500 ? 'internal error' : err.message, ...(status < 500 ? { fields: [{ field: '(body)', message: err.message }] } : {}) })
  })
  // Every write leaves a log line (the durable audit event is written by the API itself).
  app.addHook('onResponse', async (req, reply) => {
    if (req.method !== 'POST' && req.method !== 'DELETE') return
    const actor = req.actor
    log.info({ event: 'http_write', method: req.method, route: req.routeOptions.url, status: reply.statusCode, actor: actor ? `${actor.role}:${actor.name}` : null, ms: Math.round(reply.elapsedTime) }, `${req.method} ${req.url} ${reply.statusCode}`)
  })
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: `no route ${req.method} ${req.url.split('?')[0]}` }))
}

/** The page's files (no patient data in them: the page fetches that with its token) and the live feed. */
function registerPage(app: FastifyInstance, opts: HttpOptions): void {
  void app.register(websocket, { options: { maxPayload: 4096, handleProtocols: chooseWsProtocol } })
  const live = opts.live
  if (live) void app.register(async (scope) => live.route(scope))
  // The page loads only its own files and talks only to this origin (fetch and /ws).
  const pageHeaders = {
    'cache-control': 'no-cache',
    'content-security-policy': "default-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  }
  const pageError = opts.assets.get('/')?.error
  if (pageError) opts.log.error({ event: 'page_assets_missing', cause: pageError }, 'central-station page files missing: serving a stand-in page')
  for (const [path, asset] of opts.assets) {
    app.get(path, { config: { access: 'open' } }, async (_req, reply) => reply.code(asset.error ? 503 : 200).type(asset.contentType).headers(pageHeaders).send(asset.body))
  }
}

/**
 * Probes stay open: they carry no patient data (liveness; readiness names parts and devices).
 * /healthz answers whatever the Host: load balancers probe by IP address or by their own name,
 * and a rebinding page learns nothing from "ok".
 */
function registerProbes(app: FastifyInstance, api: AgentApi): void {
  app.get('/healthz', { config: { access: 'open', anyHost: true } }, async (_req, reply) => {
    const h = api.health()
    return reply.code(h.live ? 200 : 503).send({ status: h.live ? 'ok' : 'down' })
  })
  app.get('/readyz', { config: { access: 'open' } }, async (_req, reply) => {
    const r = api.readiness()
    return reply.code(r.ready ? 200 : 503).send(r)
  })
}

/** Prometheus text, with a token of any role (Prometheus: `authorization: { credentials: … }`). */
function registerMetrics(app: FastifyInstance, opts: Pick<HttpOptions, 'metrics'>): void {
  app.get('/metrics', async (_req, reply) => reply.type(opts.metrics.registry.contentType).send(await opts.metrics.registry.metrics()))
}

/** Alarm history reads: rows of the store per request (default, and the most a request may ask). */
const HISTORY_LIMIT_DEFAULT = 5000
const HISTORY_LIMIT_MAX = 50_000
/** Without `since`, the history of the last 24 hours (a nursing day and the handover before it). */
const HISTORY_DEFAULT_MS = 24 * 3600_000

/** `since` as ms since the epoch, or ISO-8601 (`2026-12-05T08:00:00Z`); a string names what is wrong. */
export function parseSince(raw: string | undefined, nowMs: number): number | string {
  if (raw === undefined || raw === '') return nowMs - HISTORY_DEFAULT_MS
  if (raw.length > 40) return 'too long'
  const ms = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw)
  if (!Number.isSafeInteger(ms) || ms < 0) return 'must be milliseconds since the Unix epoch or an ISO-8601 date-time'
  return ms
}

/** Reads need a token of any role (the access hook); each records who saw which beds. */
function registerReads(app: FastifyInstance, api: AgentApi, log: Logger): void {
  app.get('/api/beds', async (req) => {
    const beds = api.beds()
    api.viewed(req.actor!, 'all', 'GET /api/beds')
    return { beds }
  })
  app.get('/api/status', async () => api.status())
  app.get('/api/alarms', async (req, reply) => {
    const q = req.query as { state?: string; since?: string; limit?: string }
    const state = q.state ?? 'active'
    if (state !== 'active' && state !== 'all') return reply.code(400).send({ error: 'state must be "active" or "all"', fields: [{ field: 'state', message: 'must be "active" or "all"' }] })
    if (state === 'active') {
      const alarms = api.alarms()
      api.viewed(req.actor!, [...new Set(alarms.map((a) => (a as { bedId: string }).bedId))], 'GET /api/alarms')
      return { alarms }
    }
    const since = parseSince(q.since, Date.now())
    if (typeof since === 'string') return reply.code(400).send({ error: `since: ${since}`, fields: [{ field: 'since', message: since }] })
    const limit = q.limit === undefined ? HISTORY_LIMIT_DEFAULT : Number(q.limit)
    if (!Number.isInteger(limit) || limit < 1 || limit > HISTORY_LIMIT_MAX) {
      return reply.code(400).send({ error: `limit: must be an integer from 1 to ${HISTORY_LIMIT_MAX}`, fields: [{ field: 'limit', message: `must be an integer from 1 to ${HISTORY_LIMIT_MAX}` }] })
    }
    const history = api.alarmHistory(since, limit)
    // A stored alarm change the agent cannot decode is left out of the answer (never thrown at a
    // nurse) but must not pass silently: the count is in the body, and here for hospital IT.
    if (history.unreadable > 0) log.error({ event: 'alarm_history_unreadable', rows: history.unreadable, since }, `alarm history: ${history.unreadable} stored alarm change(s) could not be decoded and were left out`)
    api.viewed(req.actor!, [...new Set(history.alarms.map((a) => (a as { bedId: string }).bedId))], 'GET /api/alarms?state=all')
    return { since, ...history }
  })
  // The page's sign-in: checks the token and tells the page its role (audited as a sign-in).
  app.post('/api/session', async (req) => {
    const actor = req.actor!
    api.signedIn(actor, `page sign-in from ${req.ip}`, true)
    return { role: actor.role, name: actor.name }
  })
}

function registerWrites(app: FastifyInstance, api: AgentApi): void {
  const writer = { config: { access: 'writer' as const } }
  app.post('/api/alarms/:id/ack', writer, async (req, reply) => {
    const id = alarmIdSchema.safeParse((req.params as { id: string }).id)
    if (!id.success) return reply.code(400).send({ error: 'id: must be 1-200 characters', fields: [{ field: 'id', message: 'must be 1-200 characters' }] })
    const r = await api.acknowledge(id.data, req.actor!)
    return r.ok ? reply.send({ alarm: r.alarm }) : refusal(reply, r)
  })
  app.post('/api/beds/:bedId/results', writer, async (req, reply) => { // issue 21: PCD-01 on demand
    const bedId = (req.params as { bedId: string }).bedId
    const r = api.requestResults ? await api.requestResults(bedId, req.actor!) : { ok: false as const, status: 409 as const, error: 'hl7.results is not configured', field: 'hl7.results' }
    return r.ok ? reply.code(202).send({ bed_id: bedId, control_id: r.controlId }) : refusal(reply, r)
  })
  app.post('/api/admissions', writer, async (req, reply) => {
    const actor = req.actor!
    const parsed = admissionSchema.safeParse(req.body ?? {})
    if (!parsed.success) return reply.code(400).send(fieldErrors(parsed.error))
    const body = parsed.data
    if (body.action === 'discharge') {
      const r = await api.discharge(body.bed_id, actor)
      return r.ok ? reply.code(200).send({ discharged: body.bed_id }) : refusal(reply, r)
    }
    const r = body.action === 'transfer' ? await api.transfer(body, actor) : await api.admit(body, actor)
    return r.ok ? reply.code(body.action === 'admit' ? 201 : 200).send({ admission: r.admission }) : refusal(reply, r)
  })
  // NEWS2 inputs no device sends (DESIGN.md, HTTP contract): any subset, nurse or admin, audited.
  app.post('/api/beds/:bedId/context', writer, async (req, reply) => {
    const bed = bedId.safeParse((req.params as { bedId: string }).bedId)
    if (!bed.success) return reply.code(400).send({ error: 'bed_id: must be 1-64 characters', fields: [{ field: 'bed_id', message: 'must be 1-64 characters' }] })
    const parsed = bedContextSchema.safeParse(req.body ?? {})
    if (!parsed.success) return reply.code(400).send(fieldErrors(parsed.error))
    const r = await api.setContext(bed.data, parsed.data, req.actor!)
    return r.ok ? reply.send({ bed_id: bed.data, context: r.context, news2: r.news2 }) : refusal(reply, r)
  })
  app.delete('/api/admissions/:bedId', writer, async (req, reply) => {
    const r = await api.discharge((req.params as { bedId: string }).bedId, req.actor!)
    return r.ok ? reply.code(204).send() : refusal(reply, r)
  })
}
