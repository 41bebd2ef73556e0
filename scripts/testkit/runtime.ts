/**
 * Process helpers shared by the tests and the benches (neither imports the other's folder): how the
 * agent is started on a gateway, a free loopback port, and polling until something holds.
 */
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'

/** How the agent process is started on a gateway, beyond its arguments. */
export interface AgentRuntime {
  readonly nodeFlags: string[]
  readonly env: Record<string, string>
}

/**
 * The memory settings the agent is deployed with: AGENT_NODE_FLAGS and AGENT_MALLOC_ARENA_MAX of
 * the /usr/bin/bedside-hub wrapper (packaging/debian/bedside-hub.sh), for the benches that start
 * the CLI as it runs on a gateway.
 */
export function deployedAgentRuntime(): AgentRuntime {
  const file = fileURLToPath(new URL('../../packaging/debian/bedside-hub.sh', import.meta.url))
  const text = readFileSync(file, 'utf8')
  const line = (name: string): string => {
    const m = new RegExp(`^${name}="([^"]*)"$`, 'm').exec(text)
    if (!m) throw new Error(`${file}: no ${name}="…" line`)
    return m[1]!
  }
  return { nodeFlags: line('AGENT_NODE_FLAGS').split(' ').filter(Boolean), env: { MALLOC_ARENA_MAX: line('AGENT_MALLOC_ARENA_MAX') } }
}

/** BENCH_AGENT_ENV: more of a bench agent's environment, space-separated K=V (e.g. another malloc); entries without `=` are skipped. */
export function benchAgentEnv(): Record<string, string> {
  return Object.fromEntries((process.env.BENCH_AGENT_ENV ?? '').split(' ').filter((kv) => kv.includes('=')).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]))
}

/**
 * The read token every test agent is given (issue 18: no patient data without a token): pass
 * `VIEWER_AUTH` as fetch init, or `authHeaders()` to add it to other headers.
 */
export const TEST_VIEWER = { token: 'test-viewer-token', role: 'viewer', name: 'test-viewer' } as const
export const VIEWER_AUTH = { headers: { authorization: `Bearer ${TEST_VIEWER.token}` } }

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address()
      const port = typeof addr === 'object' && addr ? addr.port : 0
      s.close(() => resolve(port))
    })
  })
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs: number, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let lastErr: unknown
  while (Date.now() < deadline) {
    try {
      const v = await fn()
      if (v !== undefined && v !== false) return v
    } catch (err) {
      lastErr = err
    }
    await new Promise((r) => setTimeout(r, everyMs))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${(lastErr as Error).message}` : ''}`)
}

