/**
 * The writer's operations endpoint: GET /metrics (Prometheus text), /healthz (liveness: the process
 * and its consumer are alive), /readyz (readiness: joined the group and Cassandra reachable).
 * node:http rather than fastify: three read-only routes.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Registry } from 'prom-client'

export interface Probe { readonly ok: boolean; readonly detail: Record<string, unknown> }

export interface OpsSources {
  readonly registry: Registry
  live(): Probe
  ready(): Probe
}

export class OpsServer {
  private server: Server | null = null

  constructor(private readonly sources: OpsSources) {}

  /** Listens on `HOST:PORT` (port 0: a free port); resolves with the bound port. */
  async start(listen: string): Promise<number> {
    const i = listen.lastIndexOf(':')
    const server = createServer((req, res) => void this.handle(req.url ?? '/', res))
    this.server = server
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(Number(listen.slice(i + 1)), listen.slice(0, i), () => resolve())
    })
    return (server.address() as AddressInfo).port
  }

  private async handle(url: string, res: import('node:http').ServerResponse): Promise<void> {
    const path = url.split('?')[0]
    if (path === '/metrics') {
      res.writeHead(200, { 'content-type': this.sources.registry.contentType })
      res.end(await this.sources.registry.metrics())
      return
    }
    const probe = path === '/healthz' ? this.sources.live() : path === '/readyz' ? this.sources.ready() : null
    if (!probe) {
      res.writeHead(404, { 'content-type': 'application/json' })
      res.end('{"error":"not found"}')
      return
    }
    res.writeHead(probe.ok ? 200 : 503, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ ok: probe.ok, ...probe.detail }))
  }

  async stop(): Promise<void> {
    const s = this.server
    this.server = null
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()))
  }
}
