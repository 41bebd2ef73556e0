/**
 * The pure parts of the MQTT listener limits (issue 16): packet boundaries followed from fixed
 * headers alone, whatever the chunking; the byte budget of a connection before login; and the
 * per-address login throttle on a fake clock.
 */
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { test } from 'node:test'
import mqttPacket from 'mqtt-packet'
import { LoginThrottle } from '../../agent/serve/login-throttle.js'
import { ConnectionGuard, PacketBoundaries } from '../../agent/serve/mqtt-guard.js'
import { closedWithin, fixedHeader, openSocket } from '../support/mqtt-raw.js'

const MAX = 256 * 1024

function packets(): Buffer {
  const publish = (n: number) => mqttPacket.generate({ cmd: 'publish', topic: 'bedside/v1/devices/m/obs', payload: Buffer.alloc(n, 0x31), qos: 1, messageId: 1, retain: false, dup: false })
  return Buffer.concat([
    mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 30, clientId: 'm', username: 'm', password: Buffer.from('secret-1') }),
    publish(10), publish(127 - 30), publish(16_383 - 30), publish(MAX - 40), mqttPacket.generate({ cmd: 'pingreq' }), publish(0),
  ])
}

test('mqtt guard: legitimate packets up to the maximum pass in any chunking', () => {
  const all = packets()
  for (const size of [1, 2, 3, 7, 1000, 65_536, all.length]) {
    const g = new PacketBoundaries(MAX)
    for (let i = 0; i < all.length; i += size) assert.equal(g.feed(all.subarray(i, i + size)), 0, `chunk size ${size}`)
  }
  console.log(`  ${(all.length / 1024).toFixed(0)} KiB of CONNECT, PUBLISH (up to ${MAX - 40} B payload) and PINGREQ accepted in 7 chunkings`)
})

test('mqtt guard: an announced length over the maximum is refused on its header, before or after other packets', () => {
  const over = fixedHeader(0x30, MAX + 1)
  for (const size of [1, 2, 5]) {
    const g = new PacketBoundaries(MAX)
    const stream = Buffer.concat([packets(), over, Buffer.alloc(10)])
    let verdict: unknown = 0
    let at = 0
    for (; at < stream.length && verdict === 0; at += size) verdict = g.feed(stream.subarray(at, at + size))
    assert.equal(verdict, 'packet-too-large')
    assert.ok(at <= packets().length + over.length + size, `refused ${at - packets().length} bytes into the packet`)
  }
  assert.equal(new PacketBoundaries(MAX).feed(fixedHeader(0x10, 268_435_455)), 'packet-too-large') // 256 MB, the largest MQTT allows
  // A fifth length byte is malformed [MQTT-2.2.3] (only reachable with a maximum over 256 MB).
  assert.equal(new PacketBoundaries(2 ** 31).feed(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x80, 0x01])), 'malformed-header')
})

test('mqtt guard: login throttle locks an address and name out after max failures, doubling, one report per window', () => {
  let now = 0
  const t = new LoginThrottle({ maxFailures: 10, windowMs: 60_000, lockoutMs: 10_000, maxLockoutMs: 25_000 }, () => now)
  const firsts = Array.from({ length: 10 }, () => t.failed('10.0.0.9', 'mon-1'))
  assert.deepEqual(firsts, [true, ...Array(9).fill(false)])
  assert.ok(t.locked('10.0.0.9', 'mon-1'))
  assert.ok(!t.locked('10.0.0.8', 'mon-1'), 'another address')
  assert.ok(!t.locked('10.0.0.9', 'mon-2'), 'another device behind the same address (a NAT)')
  now += 10_001
  assert.ok(!t.locked('10.0.0.9', 'mon-1'))
  for (let i = 0; i < 10; i++) t.failed('10.0.0.9', 'mon-1')
  now += 19_999
  assert.ok(t.locked('10.0.0.9', 'mon-1'), 'second lockout doubles to 20 s')
  now += 2
  for (let i = 0; i < 10; i++) t.failed('10.0.0.9', 'mon-1')
  now += 25_001
  assert.ok(!t.locked('10.0.0.9', 'mon-1'), 'capped at 25 s')
  const report = t.flush()
  assert.deepEqual(report.reports.map((r) => [r.source, r.identities, r.failures]), [['10.0.0.9', ['mon-1'], 30]])
  assert.deepEqual(t.flush().reports, [])
  // a failure then a success: the failure is still reported once, the pair is not locked
  for (let i = 0; i < 9; i++) t.failed('10.0.0.7', 'mon-7')
  t.succeeded('10.0.0.7', 'mon-7')
  t.failed('10.0.0.7', 'mon-7')
  assert.ok(!t.locked('10.0.0.7', 'mon-7'), 'a success clears the count')
  assert.deepEqual(t.flush().reports.map((r) => [r.source, r.identities, r.failures]), [['10.0.0.7', ['mon-7'], 10]])
  assert.deepEqual(t.flush().reports, [])
  console.log(`  lockouts 10 s, 20 s, then capped at 25 s; one report line for 30 failures`)
})

test('mqtt guard: a guesser spraying many names from one address is locked out there, except for names that logged in from it before', () => {
  let now = 0
  const t = new LoginThrottle({ maxFailures: 10, windowMs: 60_000, lockoutMs: 10_000, maxLockoutMs: 900_000 }, () => now)
  t.succeeded('10.0.0.9', 'mon-1') // a device behind the guesser's NAT, connected before
  // 5 × 10 failures, each name under its own 10
  for (let i = 0; i < 50; i++) t.failed('10.0.0.9', `mon-${(i % 7) + 2}`)
  assert.ok(t.locked('10.0.0.9', 'mon-2'), 'a sprayed name')
  assert.ok(t.locked('10.0.0.9', 'mon-99'), 'a name first seen there during the attack')
  assert.ok(!t.locked('10.0.0.9', 'mon-1'), 'the device that logged in from there before')
  assert.ok(!t.locked('10.0.0.8', 'mon-2'), 'another address')
  const f = t.flush()
  assert.deepEqual(f.reports.map((r) => [r.source, r.failures, r.identities.length, r.nameCount]), [['10.0.0.9', 50, 5, 7]], 'one line for the address')
  now += 10_001
  assert.ok(!t.locked('10.0.0.9', 'mon-99'), 'the lockout runs out')
})

test('mqtt guard: a lockout survives the table filling up: unlocked entries go first, and refused attempts add none', () => {
  let now = 0
  const t = new LoginThrottle({ maxFailures: 10, windowMs: 60_000, lockoutMs: 10_000, maxLockoutMs: 900_000 }, () => now)
  for (let i = 0; i < 10; i++) t.failed('10.0.0.9', 'mon-1')
  assert.ok(t.locked('10.0.0.9', 'mon-1'))
  // the locked guesser keeps trying: refused, counted, no new entries
  for (let i = 0; i < 10_000; i++) t.refusedWhileLocked('10.0.0.9', 'mon-1')
  // others fill the table with single failures (unlocked entries)
  for (let a = 0; a < LoginThrottle.MAX_ENTRIES + 100; a++) t.failed(`fd00::${a.toString(16)}`, 'x')
  assert.ok(t.locked('10.0.0.9', 'mon-1'), 'the lockout was not evicted')
  const f = t.flush()
  assert.equal(f.reports.find((r) => r.source === '10.0.0.9')?.failures, 10_010, 'refused attempts are still reported')
})

test('mqtt guard: a full throttle table evicts its oldest entry; addresses past it are never locked together', () => {
  let now = 0
  const t = new LoginThrottle({ maxFailures: 10, windowMs: 60_000, lockoutMs: 10_000, maxLockoutMs: 900_000 }, () => now)
  // An attacker with more addresses than the table holds, 10 failures each (the red team's burst).
  const n = LoginThrottle.MAX_ENTRIES + 40
  for (let a = 0; a < n; a++) for (let i = 0; i < 10; i++) t.failed(`fd00::${a.toString(16)}`, 'x')
  now += 1000
  // A device from an address never seen, and from one that logged in a moment before: not locked.
  assert.ok(!t.locked('10.0.0.5', 'mon-1'))
  t.succeeded('10.0.0.6', 'mon-2')
  assert.ok(!t.locked('10.0.0.6', 'mon-2'))
  // The newest attacker addresses are locked; with every entry locked, the oldest were evicted.
  assert.ok(t.locked(`fd00::${(n - 1).toString(16)}`, 'x'))
  assert.ok(!t.locked('fd00::0', 'x'))
  // The window's report: 20 lines, then one sum.
  const f = t.flush()
  assert.equal(f.reports.length, LoginThrottle.MAX_REPORT_LINES)
  assert.equal(f.moreSources, LoginThrottle.MAX_ENTRIES - LoginThrottle.MAX_REPORT_LINES)
  assert.equal(f.reports.reduce((s, r) => s + r.failures, 0) + f.moreFailures, LoginThrottle.MAX_ENTRIES * 10)
})

test('mqtt guard: a connection that has not logged in may send at most max_packet_bytes in all', async () => {
  const refusals: string[] = []
  const guard = new ConnectionGuard({ maxPacketBytes: 64 * 1024, maxConnections: 10, maxPending: 10, maxPendingPerSource: 10, connectTimeoutMs: 5000 }, (r) => refusals.push(r))
  // Reads like aedes: read() on 'readable', nothing else.
  const server = createServer((s) => {
    if (guard.admit(s)) s.on('readable', () => { while (s.read() !== null); })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as { port: number }).port
  const s = await openSocket(port)
  s.on('error', () => {})
  // 2-byte PINGREQs: every packet is small, the total is not (aedes would queue 42 packets of up to the maximum each).
  const pings = Buffer.alloc(200 * 1024)
  for (let i = 0; i < pings.length; i += 2) pings[i] = 0xc0
  s.write(pings)
  const ms = await closedWithin(s, 2000)
  guard.stop()
  server.close()
  console.log(`  200 KiB of PINGREQs before any login: closed in ${ms.toFixed(1)} ms (${refusals.join(',')})`)
  assert.deepEqual(refusals, ['unauthenticated-bytes'])
})
