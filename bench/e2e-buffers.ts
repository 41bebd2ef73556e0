/**
 * Buffer probe for the e2e bench (BENCH_E2E_BUFFERS=1): preloaded into the agent with `--import`,
 * it counts the bytes of every Buffer of at least MIN_BYTES that JavaScript allocates
 * (Buffer.alloc, allocUnsafe, allocUnsafeSlow, concat, from), by call site, and the bytes sockets
 * read; at exit it writes the totals as JSON to E2E_BUF_OUT. Issue 23: large buffers that live just
 * long enough to be promoted make most of the peak RSS (BENCHMARKS.md, session 7). A stack is taken
 * per counted buffer, so the agent runs slower with it: for where the bytes go, not for speed.
 */
import { writeFileSync } from 'node:fs'
import net from 'node:net'

export interface BufferSites {
  readonly totalBytes: number
  /** Largest first: "how call site" (a few frames, innermost first), bytes, count. */
  readonly sites: readonly { readonly site: string; readonly bytes: number; readonly count: number }[]
}

const MIN_BYTES = 256
const out = process.env.E2E_BUF_OUT
if (out) {
  const sites = new Map<string, { bytes: number; count: number }>()
  const add = (site: string, n: number): void => {
    const e = sites.get(site)
    if (e) {
      e.bytes += n
      e.count++
    } else sites.set(site, { bytes: n, count: 1 })
  }
  const caller = (): string => (new Error().stack ?? '').split('\n').slice(3, 6)
    .map((l) => l.trim().replace(/^at /, '').replace(/\(.*\/(node_modules|dist)\//, '(').replace(/:\d+\)$/, ')')).join(' < ')
  for (const fn of ['alloc', 'allocUnsafe', 'allocUnsafeSlow', 'concat', 'from'] as const) {
    const original = Buffer[fn] as (...a: unknown[]) => Buffer
    ;(Buffer as unknown as Record<string, unknown>)[fn] = function (this: unknown, ...a: unknown[]): Buffer {
      const b = original.apply(this, a)
      // Buffer.from(arrayBuffer) is a view, not an allocation
      if (b.length >= MIN_BYTES && !(fn === 'from' && a[0] instanceof ArrayBuffer)) add(`${fn} ${caller()}`, b.length)
      return b
    }
  }
  const emit = net.Socket.prototype.emit as (this: net.Socket, event: string | symbol, ...args: unknown[]) => boolean
  net.Socket.prototype.emit = function (this: net.Socket, event: string | symbol, ...args: unknown[]): boolean {
    // `_server`: set on sockets a server accepted (MQTT, HTTP), not on the agent's own (Kafka)
    if (event === 'data' && Buffer.isBuffer(args[0])) add((this as unknown as { _server?: unknown })._server ? 'socket read, accepted (MQTT, HTTP)' : 'socket read, outgoing (Kafka)', args[0].length)
    return emit.call(this, event, ...args)
  }
  process.on('exit', () => {
    const list = [...sites].map(([site, e]) => ({ site, ...e })).sort((a, b) => b.bytes - a.bytes)
    const result: BufferSites = { totalBytes: list.reduce((s, e) => s + e.bytes, 0), sites: list.slice(0, 25) }
    writeFileSync(out, JSON.stringify(result))
  })
}
