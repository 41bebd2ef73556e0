/**
 * The agent's HTTP API (DESIGN.md, HTTP contract) on fastify. Read endpoints are open on the
 * configured listen address (bind it to the ward network only); write endpoints need a bearer
 * token from the config with a role allowed to write. Bad requests get a 4xx naming the field.
 */
import { timingSafeEqual, createHash } from 'node:crypto'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { z } from 'zod'
import type { Metrics } from './metrics.js'

export type Role = 'viewer' | 'nurse' | 'admin'
export interface TokenEntry { readonly token: string; readonly role: Role; readonly name?: string }
export interface Actor { readonly role: Role; readonly name: string }

/** What the HTTP layer needs from the agent: a narrow facade, no internals. */
export interface AgentApi {
  beds(): unknown[]
  alarms(state: 'active' | 'all'): unknown[]
  acknowledge(alarmId: string, actor: Actor): Promise<{ ok: true; alarm: unknown } | { ok: false; status: 404 | 409; error: string }>
  admit(req: AdmissionRequest, actor: Actor): Promise<{ ok: true; admission: unknown } | { ok: false; status: 404 | 409; error: string }>
  discharge(bedId: string, actor: Actor): Promise<{ ok: true } | { ok: false; status: 404; error: string }>
  /** Operator summary for `bedside-hub status`: links, queue, sync lag, active alarms. */
  status(): unknown
  health(): { live: boolean }
  readiness(): { ready: boolean; parts: Record<string, { ok: boolean; detail?: string }> }
}

export const admissionSchema = z.object({
  bed_id: z.string().min(1),
  mrn: z.string().min(1).max(64),
  name: z.string().min(1).max(200).optional(),
  birth_date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be YYYY-MM-DD').optional(),
}).strict()
export type AdmissionRequest = z.infer<typeof admissionSchema>

const WRITE_ROLES: ReadonlySet<Role> = new Set(['nurse', 'admin'])

function fieldErrors(err: z.ZodError): { error: string; fields: { field: string; message: string }[] } {
  const fields = err.issues.map((i) => ({ field: i.path.join('.') || (i.code === 'unrecognized_keys' ? i.keys.join(',') : '(body)'), message: i.message }))
  return { error: `invalid request: ${fields.map((f) => `${f.field}: ${f.message}`).join('; ')}`, fields }
}

export function buildHttp(api: AgentApi, tokens: readonly TokenEntry[], metrics: Metrics, pageHtml: () => string): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 })
  const hashed = tokens.map((t) => ({ digest: createHash('sha256').update(t.token).digest(), role: t.role, name: t.name ?? t.role }))

  function actorOf(req: FastifyRequest): Actor | null {
    const h = req.headers.authorization
    if (!h || !h.startsWith('Bearer ')) return null
    const d = createHash('sha256').update(h.slice(7).trim()).digest()
    const hit = hashed.find((t) => timingSafeEqual(t.digest, d))
    return hit ? { role: hit.role, name: hit.name } : null
  }

  /** Returns the actor, or sends 401/403 and returns null. */
  function requireWriter(req: FastifyRequest, reply: FastifyReply): Actor | null {
    const actor = actorOf(req)
    if (!actor) {
      void reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'missing or unknown bearer token' })
      return null
    }
    if (!WRITE_ROLES.has(actor.role)) {
      void reply.code(403).send({ error: `role "${actor.role}" may not write; needs nurse or admin` })
      return null
    }
    return actor
  }

  app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').send(pageHtml()))
  app.get('/healthz', async (_req, reply) => {
    const h = api.health()
    return reply.code(h.live ? 200 : 503).send({ status: h.live ? 'ok' : 'down' })
  })
  app.get('/readyz', async (_req, reply) => {
    const r = api.readiness()
    return reply.code(r.ready ? 200 : 503).send(r)
  })
  app.get('/metrics', async (_req, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()))
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
    const r = await api.acknowledge((req.params as { id: string }).id, actor)
    return r.ok ? reply.send({ alarm: r.alarm }) : reply.code(r.status).send({ error: r.error })
  })
  app.post('/api/admissions', async (req, reply) => {
    const actor = requireWriter(req, reply)
    if (!actor) return reply
    const parsed = admissionSchema.safeParse(req.body ?? {})
    if (!parsed.success) return reply.code(400).send(fieldErrors(parsed.error))
    const r = await api.admit(parsed.data, actor)
    return r.ok ? reply.code(201).send({ admission: r.admission }) : reply.code(r.status).send({ error: r.error })
  })
  app.delete('/api/admissions/:bedId', async (req, reply) => {
    const actor = requireWriter(req, reply)
    if (!actor) return reply
    const r = await api.discharge((req.params as { bedId: string }).bedId, actor)
    return r.ok ? reply.code(204).send() : reply.code(r.status).send({ error: r.error })
  })
  return app
}
