/**
 * The agent's HTTP API (DESIGN.md, HTTP contract) on fastify. Read endpoints are open on the
 * configured listen address (bind it to the ward network only); write endpoints need a bearer
 * token from the config with a role allowed to write. Bad requests get a 4xx naming the field.
 */
import { timingSafeEqual, createHash } from 'node:crypto'
import websocket from '@fastify/websocket'
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import { z } from 'zod'
import type { Metrics } from './metrics.js'
import type { StaticAsset } from './page.js'
import type { LiveFeed } from './ws.js'

export type Role = 'viewer' | 'nurse' | 'admin'
export interface TokenEntry { readonly token: string; readonly role: Role; readonly name?: string }
export interface Actor { readonly role: Role; readonly name: string }

type Refusal<S extends number> = { ok: false; status: S; error: string; field?: string }

/** What the HTTP layer needs from the agent: a narrow facade, no internals. */
export interface AgentApi {
  beds(): unknown[]
  alarms(state: 'active' | 'all'): unknown[]
  acknowledge(alarmId: string, actor: Actor): Promise<{ ok: true; alarm: unknown } | Refusal<404 | 409>>
  admit(req: AdmitRequest, actor: Actor): Promise<{ ok: true; admission: unknown } | Refusal<404 | 409>>
  discharge(bedId: string, actor: Actor): Promise<{ ok: true } | Refusal<404>>
  transfer(req: TransferRequest, actor: Actor): Promise<{ ok: true; admission: unknown } | Refusal<404 | 409>>
  /** Operator summary for `bedside-hub status`: links, queue, sync lag, active alarms. */
  status(): unknown
  health(): { live: boolean }
  readiness(): { ready: boolean; parts: Record<string, { ok: boolean; detail?: string }> }
}

export interface HttpOptions {
  readonly tokens: readonly TokenEntry[]
  readonly metrics: Metrics
  readonly log: Logger
  /** Dashboard files by URL path (page.ts). */
  readonly assets: ReadonlyMap<string, StaticAsset>
  /** The dashboard's live feed; GET /ws answers 404 without it. */
  readonly live?: LiveFeed
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

const WRITE_ROLES: ReadonlySet<Role> = new Set(['nurse', 'admin'])
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

function httpServerOptions() {
  return {
    connectionTimeout: HTTP_LIMITS.connectionTimeoutMs,
    requestTimeout: HTTP_LIMITS.requestTimeoutMs,
    keepAliveTimeout: HTTP_LIMITS.keepAliveTimeoutMs,
    http: { headersTimeout: HTTP_LIMITS.headersTimeoutMs, connectionsCheckingInterval: HTTP_LIMITS.checkIntervalMs, maxHeaderSize: HTTP_LIMITS.maxHeaderBytes },
  }
}

export function buildHttp(api: AgentApi, opts: HttpOptions): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024, ...httpServerOptions() })
  app.server.maxConnections = HTTP_LIMITS.maxConnections
  const log = opts.log
  const hashed = opts.tokens.map((t) => ({ digest: createHash('sha256').update(t.token).digest(), role: t.role, name: t.name ?? t.role }))

  function actorOf(req: FastifyRequest): Actor | null {
    const h = req.headers.authorization
    if (!h || !h.startsWith('Bearer ')) return null
    const d = createHash('sha256').update(h.slice(7).trim()).digest()
    const hit = hashed.find((t) => timingSafeEqual(t.digest, d))
    return hit ? { role: hit.role, name: hit.name } : null
  }

  /** Returns the actor, or sends 401/403 (logged with the cause) and returns null. */
  function requireWriter(req: FastifyRequest, reply: FastifyReply): Actor | null {
    const actor = actorOf(req)
    if (!actor) {
      log.warn({ event: 'auth_refused', cause: req.headers.authorization ? 'unknown-token' : 'no-token', route: req.routeOptions.url, ip: req.ip }, 'write refused: missing or unknown bearer token')
      void reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'missing or unknown bearer token' })
      return null
    }
    if (!WRITE_ROLES.has(actor.role)) {
      log.warn({ event: 'auth_refused', cause: 'role', role: actor.role, actor: actor.name, route: req.routeOptions.url }, `write refused: role ${actor.role}`)
      void reply.code(403).send({ error: `role "${actor.role}" may not write; needs nurse or admin` })
      return null
    }
    return actor
  }

  // Malformed JSON, wrong content type, oversized body: a 4xx with a JSON body, never fastify's HTML.
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500
    if (status === 500) log.error({ event: 'http_error', cause: err.message, route: req.routeOptions.url }, 'HTTP handler failed')
    else log.info({ event: 'http_bad_request', cause: err.code ?? err.message, route: req.routeOptions.url }, 'bad request')
    void reply.code(status).send({ error: status === 500 ? 'internal error' : err.message, ...(status < 500 ? { fields: [{ field: '(body)', message: err.message }] } : {}) })
  })
  // Every write leaves a log line (the durable audit event is written by the API itself).
  app.addHook('onResponse', async (req, reply) => {
    if (req.method !== 'POST' && req.method !== 'DELETE') return
    const actor = actorOf(req)
    log.info({ event: 'http_write', method: req.method, route: req.routeOptions.url, status: reply.statusCode, actor: actor ? `${actor.role}:${actor.name}` : null, ms: Math.round(reply.elapsedTime) }, `${req.method} ${req.url} ${reply.statusCode}`)
  })
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: `no route ${req.method} ${req.url.split('?')[0]}` }))

  void app.register(websocket, { options: { maxPayload: 4096 } })
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
  if (pageError) log.error({ event: 'page_assets_missing', cause: pageError }, 'central-station page files missing: serving a stand-in page')
  for (const [path, asset] of opts.assets) {
    app.get(path, async (_req, reply) => reply.code(asset.error ? 503 : 200).type(asset.contentType).headers(pageHeaders).send(asset.body))
  }
  app.get('/healthz', async (_req, reply) => {
    const h = api.health()
    return reply.code(h.live ? 200 : 503).send({ status: h.live ? 'ok' : 'down' })
  })
  app.get('/readyz', async (_req, reply) => {
    const r = api.readiness()
    return reply.code(r.ready ? 200 : 503).send(r)
  })
  app.get('/metrics', async (_req, reply) => reply.type(opts.metrics.registry.contentType).send(await opts.metrics.registry.metrics()))
  app.get('/api/beds', async () => ({ beds: api.beds() }))
  app.get('/api/status', async () => api.status())
  app.get('/api/alarms', async (req, reply) => {
    const state = (req.query as { state?: string }).state ?? 'active'
    if (state !== 'active' && state !== 'all') return reply.code(400).send({ error: 'state must be "active" or "all"', fields: [{ field: 'state', message: 'must be "active" or "all"' }] })
    return { alarms: api.alarms(state) }
  })
  app.post('/api/alarms/:id/ack', async (req, reply) => {
    const actor = requireWriter(req, reply)
    if (!actor) return reply
    const id = alarmIdSchema.safeParse((req.params as { id: string }).id)
    if (!id.success) return reply.code(400).send({ error: 'id: must be 1-200 characters', fields: [{ field: 'id', message: 'must be 1-200 characters' }] })
    const r = await api.acknowledge(id.data, actor)
    return r.ok ? reply.send({ alarm: r.alarm }) : refusal(reply, r)
  })
  app.post('/api/admissions', async (req, reply) => {
    const actor = requireWriter(req, reply)
    if (!actor) return reply
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
  app.delete('/api/admissions/:bedId', async (req, reply) => {
    const actor = requireWriter(req, reply)
    if (!actor) return reply
    const r = await api.discharge((req.params as { bedId: string }).bedId, actor)
    return r.ok ? reply.code(204).send() : refusal(reply, r)
  })
  return app
}
