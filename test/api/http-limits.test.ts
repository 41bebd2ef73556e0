/**
 * Two HTTP bounds from the session-11 red team, at their seams: the connections one address may
 * hold (HTTP_LIMITS.maxConnectionsPerSource; one host trickling headers held all 512 and kept the
 * stations out), and the journal lines refused requests may write (RefusalLog; 3,000 wrong
 * tokens wrote 630 KB). The agent-level checks of both listeners' refusals are in security.test.ts
 * and security/hostile-ward.test.ts.
 */
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { Server, type Socket } from 'node:net'
import { test } from 'node:test'
import { pino } from 'pino'
import { HTTP_LIMITS, limitPerSource } from '../../agent/serve/http.js'
import { RefusalLog } from '../../agent/serve/refusal-log.js'

/** What limitPerSource touches of an accepted socket. */
function socketFrom(remoteAddress: string): Socket & { destroyed: boolean; close(): void } {
  const s = new EventEmitter() as EventEmitter & { remoteAddress: string; destroyed: boolean; destroy(): void; close(): void }
  s.remoteAddress = remoteAddress
  s.destroyed = false
  s.destroy = () => void (s.destroyed = true)
  s.close = () => void s.emit('close')
  return s as unknown as Socket & { destroyed: boolean; close(): void }
}

test('http limits: one address holds at most maxConnectionsPerSource sockets; others and loopback are not limited; a closed socket frees its place', () => {
  const server = new Server()
  const refused: string[] = []
  limitPerSource(server, (ip) => refused.push(ip))
  const accept = (ip: string) => {
    const s = socketFrom(ip)
    server.emit('connection', s)
    return s
  }
  const max = HTTP_LIMITS.maxConnectionsPerSource
  const held = Array.from({ length: max }, () => accept('10.0.0.5'))
  assert.ok(held.every((s) => !s.destroyed))
  assert.ok(accept('10.0.0.5').destroyed, 'one more from the same address')
  assert.deepEqual(refused, ['10.0.0.5'], 'the refusal is reported (counted and logged by the server)')
  assert.ok(accept('::ffff:10.0.0.5').destroyed, 'the same host as a dual-stack listener sees it')
  assert.ok(!accept('10.0.0.6').destroyed, 'another address')
  assert.ok(Array.from({ length: max + 10 }, () => accept('127.0.0.1')).every((s) => !s.destroyed), 'loopback (a local TLS proxy) is not limited')
  held[0]!.close()
  assert.ok(!accept('10.0.0.5').destroyed, 'a place freed by a close')
  assert.ok(accept('10.0.0.5').destroyed)
})

test('http limits: a refusal is logged once per cause and address in a window; the rest are summed in one line per cause', async () => {
  const lines: { event: string; cause?: string; refusals?: number }[] = []
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) })
  const refusals = new RefusalLog(log, 100)
  const one = (cause: string, ip: string) => refusals.refused(cause, ip, () => log.warn({ event: 'auth_refused', cause, ip }, 'refused'))
  for (let i = 0; i < 3000; i++) one('unknown-token', '10.0.0.9')
  for (let i = 0; i < 5; i++) one('host', `10.0.1.${i}`)
  assert.equal(lines.filter((l) => l.event === 'auth_refused').length, 6, 'one for the token guesser, one per address for the hosts')
  await new Promise((r) => setTimeout(r, 150))
  assert.deepEqual(lines.filter((l) => l.event === 'http_refused_summary').map((l) => [l.cause, l.refusals]), [['unknown-token', 2999]])
  // a new window logs the first one again
  one('unknown-token', '10.0.0.9')
  assert.equal(lines.filter((l) => l.event === 'auth_refused').length, 7)
  refusals.stop()
})
