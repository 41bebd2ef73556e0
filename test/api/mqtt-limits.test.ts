/**
 * The MQTT listener under hostile clients (issue 16), one limit per test against a real agent over
 * loopback: packet size before and after CONNECT, pending connections per source and in all, the
 * CONNECT timeout, client id takeover, retained messages, login throttling, subscription ACLs.
 * Attackers use other loopback addresses (127.0.0.2…) so that per-source limits can be told apart
 * from the legitimate device on 127.0.0.1. Each test prints its figures.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import type { Socket } from 'node:net'
import { after, before, describe, test } from 'node:test'
import mqtt from 'mqtt'
import type { ISubackPacket } from 'mqtt-packet'
import { pino } from 'pino'
import { startAgent, type RunningAgent } from '../../agent/agent.js'
import { parseConfig } from '../../agent/config.js'
import { metricValue, TEST_VIEWER, tempDir, waitFor } from '../support/agent-process.js'
import { closedWithin, connectPacket, fixedHeader, openSocket, rawConnect } from '../support/mqtt-raw.js'

const MAX_PACKET = 64 * 1024
let agent: RunningAgent
let http: string
let url: string
let port: number
const logLines: { event?: string; msg?: string }[] = []
const opened: { end(force?: boolean): unknown }[] = []

const refused = (reason: string) => metricValue(http, 'bedside_mqtt_refused_total', `reason="${reason}"`)
const device = (n: number, clientId = `lim-mon-${n}`) =>
  mqtt.connectAsync(url, { username: `lim-mon-${n}`, password: `lim-secret-${n}`, clientId, reconnectPeriod: 0, protocolVersion: 4 }).then((c) => (opened.push(c), c))
const station = (username: string, password: string) =>
  mqtt.connectAsync(url, { username, password, clientId: username, reconnectPeriod: 0, protocolVersion: 4 }).then((c) => (opened.push(c), c))
const obs = (seq: number, value = 72) => JSON.stringify({ ts: Date.now(), seq, obs: [{ code: 'MDC_ECG_HEART_RATE', value, unit: '/min' }] })
/** SUBACK return codes per filter (mqtt.js rejects a SUBACK of only refusals; the codes are what matter here). */
const grants = (c: mqtt.MqttClient, filters: string[]) => new Promise<number[]>((resolve) => {
  const onPacket = (p: mqtt.Packet) => {
    if (p.cmd !== 'suback') return
    c.off('packetreceive', onPacket)
    resolve((p as ISubackPacket).granted as number[])
  }
  c.on('packetreceive', onPacket)
  c.subscribe(filters, { qos: 1 }, () => {})
})
const rssMb = () => process.memoryUsage().rss / 2 ** 20

/** Streams `total` bytes in 64 KiB writes until the peer closes; resolves with the bytes the socket took. */
async function stream(s: import('node:net').Socket, total: number): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024, 0x61)
  let sent = 0
  while (sent < total && !s.destroyed) {
    const ok = s.write(chunk)
    sent += chunk.length
    if (!ok) await new Promise((r) => { s.once('drain', r); s.once('close', r) })
  }
  return sent
}

describe('mqtt limits', () => {
  before(async () => {
    agent = await startAgent(parseConfig({
      hub: { id: 'lim-hub', site: 's', data_dir: join(tempDir('mqtt-limits'), 'data') },
      http: { listen: '127.0.0.1:0', tokens: [TEST_VIEWER] },
      mqtt: {
        listen: '127.0.0.1:0',
        clients: [{ username: 'station-1', password: 'station-pass-1', role: 'nurse' }, { username: 'screen-1', password: 'screen-pass-1', role: 'viewer' }],
        max_packet_bytes: MAX_PACKET, max_pending: 8, max_pending_per_source: 4, connect_timeout_s: 1,
        login_throttle: { max_failures: 10, window_s: 60, lockout_s: 3 },
        max_connections_per_device: 3,
      },
      beds: [
        { id: 'lim-01', devices: [{ id: 'lim-mon-1', type: 'mqtt', secret: 'lim-secret-1' }] },
        { id: 'lim-02', devices: [{ id: 'lim-mon-2', type: 'mqtt', secret: 'lim-secret-2' }] },
        { id: 'lim-03', devices: [{ id: 'lim-mon-3', type: 'mqtt', secret: 'lim-secret-3' }] },
      ],
    }), { log: pino({ level: 'info' }, { write: (s: string) => void logLines.push(JSON.parse(s)) }) })
    http = `http://127.0.0.1:${agent.httpPort}`
    port = agent.mqttPort
    url = `mqtt://127.0.0.1:${port}`
  })
  after(async () => {
    for (const c of opened) c.end(true)
    await agent.stop()
  })

  test('mqtt limits: a packet announcing 10 MB before CONNECT is refused on its header; RSS does not grow', async () => {
    const before = await refused('packet-too-large')
    const s = await openSocket(port, '127.0.0.2')
    s.on('error', () => {})
    s.write(fixedHeader(0x10, 10 * 2 ** 20)) // CONNECT, remaining length 10 MiB
    s.write(Buffer.alloc(1024, 0x61))
    const ms = await closedWithin(s, 2000)
    // The same announcement, streamed: whatever the kernel buffers took, the agent keeps nothing.
    global.gc?.()
    const rss0 = rssMb()
    const s2 = await openSocket(port, '127.0.0.2')
    s2.on('error', () => {})
    s2.write(fixedHeader(0x10, 10 * 2 ** 20))
    const taken = await stream(s2, 10 * 2 ** 20)
    await closedWithin(s2, 2000)
    const grew = rssMb() - rss0
    console.log(`  header + 1 KiB (< max ${MAX_PACKET / 1024} KiB): closed in ${ms.toFixed(1)} ms; streamed: socket took ${(taken / 2 ** 20).toFixed(2)} MiB before the close, RSS +${grew.toFixed(1)} MiB`)
    assert.equal(await refused('packet-too-large'), before + 2)
    assert.ok(grew < 8, `RSS grew ${grew.toFixed(1)} MiB`)
  })

  test('mqtt limits: after CONNECT, a PUBLISH announcing 10 MB closes the connection; a message under the maximum is stored', async () => {
    const before = await refused('packet-too-large')
    const d = await device(1)
    const wave = JSON.stringify({ code: 'MDC_ECG_ELEC_POTL_II', rate: 250, t0: Date.now() - 56_000, samples: Array.from({ length: 14_000 }, (_, i) => (i % 200) - 100) })
    assert.ok(wave.length > 40 * 1024 && wave.length < MAX_PACKET - 100, `${wave.length} B`)
    await d.publishAsync('bedside/v1/devices/lim-mon-1/wave', wave, { qos: 1 })
    const { code, socket } = await rawConnect(port, { clientId: 'lim-mon-2', username: 'lim-mon-2', password: 'lim-secret-2' })
    assert.equal(code, 0)
    socket.write(fixedHeader(0x32, 10 * 2 ** 20)) // PUBLISH QoS 1
    socket.write(Buffer.alloc(1024, 0x61))
    const ms = await closedWithin(socket, 2000)
    console.log(`  ${(wave.length / 1024).toFixed(0)} KiB waveform acknowledged; 10 MiB PUBLISH closed in ${ms.toFixed(1)} ms`)
    assert.equal(await refused('packet-too-large'), before + 1)
    await d.publishAsync('bedside/v1/devices/lim-mon-1/obs', obs(1), { qos: 1 }) // the other device is unaffected
  })

  test('mqtt limits: pending connections are capped per source and in all; a device still gets in', async () => {
    const perSource0 = await refused('connections-per-source')
    const pending0 = await refused('connections-pending')
    const socks = []
    for (let i = 0; i < 6; i++) socks.push(await openSocket(port, '127.0.0.3'))
    for (const s of socks) s.on('error', () => {})
    const fifth = await Promise.race([closedWithin(socks[4]!, 1000), closedWithin(socks[5]!, 1000)])
    assert.equal(await refused('connections-per-source'), perSource0 + 2)
    // Four more addresses fill the pending pool (8): the oldest pending sockets are dropped for newer ones.
    for (let a = 4; a <= 7; a++) for (let i = 0; i < 3; i++) socks.push(await openSocket(port, `127.0.0.${a}`).then((s) => (s.on('error', () => {}), s)))
    await waitFor('pending evictions', async () => (await refused('connections-pending')) >= pending0 + 4, 2000, 20)
    const t0 = performance.now()
    const d = await device(2)
    await d.publishAsync('bedside/v1/devices/lim-mon-2/obs', obs(2), { qos: 1 })
    console.log(`  2 of 6 sockets from one address refused (in ${fifth.toFixed(1)} ms); ${(await refused('connections-pending')) - pending0} oldest pending dropped; device logged in and acknowledged in ${(performance.now() - t0).toFixed(1)} ms`)
    for (const s of socks) s.destroy()
  })

  test('mqtt limits: a socket that sends no CONNECT is closed after the connect timeout', async () => {
    const before = await refused('connect-timeout')
    const s = await openSocket(port, '127.0.0.8')
    const ms = await closedWithin(s, 3000)
    console.log(`  silent socket closed after ${ms.toFixed(0)} ms (connect_timeout_s 1)`)
    assert.ok(ms > 800 && ms < 2000)
    assert.equal(await refused('connect-timeout'), before + 1)
  })

  test('mqtt limits: another identity cannot take over a device client id; the device keeps publishing', async () => {
    const before = await refused('client-id-taken')
    const d1 = await device(1, 'lim-mon-1')
    // Held by lim-mon-1 and reserved for it: lim-mon-2 and a station presenting it are refused.
    const a = await rawConnect(port, { clientId: 'lim-mon-1', username: 'lim-mon-2', password: 'lim-secret-2' })
    const b = await rawConnect(port, { clientId: 'lim-mon-1', username: 'station-1', password: 'station-pass-1' })
    // Reserved though not connected: a station's username as client id.
    const c = await rawConnect(port, { clientId: 'screen-1', username: 'lim-mon-2', password: 'lim-secret-2' })
    for (const r of [a, b, c]) r.socket.destroy()
    assert.deepEqual([a.code, b.code, c.code], [2, 2, 2])
    await d1.publishAsync('bedside/v1/devices/lim-mon-1/obs', obs(3), { qos: 1 })
    assert.ok(d1.connected)
    // Another free id under lim-mon-2 becomes its own; lim-mon-1 may not then take it.
    const d2 = await device(2, 'lim-free-id')
    const e = await rawConnect(port, { clientId: 'lim-free-id', username: 'lim-mon-1', password: 'lim-secret-1' })
    e.socket.destroy()
    assert.equal(e.code, 2)
    assert.ok(d2.connected)
    // The device itself reconnecting with its id takes over its own stale session (normal MQTT).
    const again = await device(1, 'lim-mon-1')
    await again.publishAsync('bedside/v1/devices/lim-mon-1/obs', obs(4), { qos: 1 })
    console.log(`  4 takeover attempts refused with CONNACK 2; the device kept publishing; its own reconnect took over its session`)
    assert.equal(await refused('client-id-taken'), before + 4)
  })

  test('mqtt limits: one device holds at most max_connections_per_device logged-in connections, the newest closing the oldest; the others still get in', async () => {
    const before = await refused('connections-per-identity')
    const held: { socket: Socket; closed: boolean }[] = []
    const codes: (number | string)[] = []
    for (let i = 0; i < 5; i++) {
      const r = await rawConnect(port, { clientId: `lim-mon-3-c${i}`, username: 'lim-mon-3', password: 'lim-secret-3' })
      codes.push(r.code)
      const h = { socket: r.socket, closed: false }
      r.socket.on('close', () => (h.closed = true))
      held.push(h)
    }
    // the two oldest were closed for the two newest (keepalive-0 squatters cannot keep the device out)
    await waitFor('the oldest two closed', async () => held[0]!.closed && held[1]!.closed, 3000, 20)
    assert.deepEqual(held.map((h) => h.closed), [true, true, false, false, false])
    const other = await rawConnect(port, { clientId: 'lim-mon-1-other', username: 'lim-mon-1', password: 'lim-secret-1' })
    other.socket.destroy()
    // Taking over one of its own client ids replaces that connection: nothing else is closed.
    const takeover = await rawConnect(port, { clientId: 'lim-mon-3-c2', username: 'lim-mon-3', password: 'lim-secret-3' })
    await waitFor('the taken-over connection closed', async () => held[2]!.closed, 3000, 20)
    await new Promise((r) => setTimeout(r, 200))
    console.log(`  5 connections of one device (max 3): CONNACK ${codes.join(',')}, the 2 oldest closed; another device: ${other.code}; taking over its own client id: ${takeover.code}`)
    assert.deepEqual(codes, [0, 0, 0, 0, 0])
    assert.equal(other.code, 0)
    assert.equal(takeover.code, 0)
    assert.deepEqual(held.map((h) => h.closed), [true, true, true, false, false])
    assert.equal(await refused('connections-per-identity'), before + 2)
    for (const h of held) h.socket.destroy()
    takeover.socket.destroy()
  })

  test('mqtt limits: a retained publish is never stored, on the device prefix or on a refused topic', async () => {
    const before = await refused('retained')
    const d = await device(1, 'lim-ret-1')
    await d.publishAsync('bedside/v1/devices/lim-mon-1/obs', obs(5), { qos: 1, retain: true })
    const rogue = await device(2, 'lim-ret-2')
    rogue.on('error', () => {})
    // Refused topics: the broker disconnects the publisher and never answers (no PUBACK).
    const noAnswer = (p: Promise<unknown>) => Promise.race([p.catch(() => {}), new Promise((r) => setTimeout(r, 300))])
    await noAnswer(rogue.publishAsync('bedside/v1/beds/lim-01/vitals', '{"bedId":"lim-01","vitals":[{"fake":true}]}', { qos: 1, retain: true }))
    const rogue2 = await device(2, 'lim-ret-3')
    rogue2.on('error', () => {})
    await noAnswer(rogue2.publishAsync('bedside/v1/beds/fake/vitals', '{"fake":true}', { qos: 1, retain: true }))
    const st = await station('screen-1', 'screen-pass-1')
    const seen: string[] = []
    st.on('message', (t, p) => seen.push(`${t} ${p.toString()}`))
    await st.subscribeAsync('bedside/v1/beds/#', { qos: 1 })
    await new Promise((r) => setTimeout(r, 300))
    const broker = ((agent as unknown as { mqtt: unknown }).mqtt as { broker: { persistence: { createRetainedStream(p: string): AsyncIterable<{ topic: string }> } } }).broker
    const retained: string[] = []
    for await (const p of broker.persistence.createRetainedStream('#')) retained.push(p.topic)
    console.log(`  retained in the broker: ${JSON.stringify(retained)}; a new subscriber got ${seen.length} messages, none fake`)
    assert.ok(retained.every((t) => /^bedside\/v1\/beds\/lim-0[12]\/vitals$/.test(t)), retained.join())
    assert.ok(!seen.some((m) => m.includes('fake')))
    assert.equal(await refused('retained'), before + 1)
  })

  test('mqtt limits: repeated wrong passwords lock the address and name out, one log line, counted; other addresses and other devices behind the same address unaffected', async () => {
    const bad0 = await refused('bad-login')
    const thr0 = await refused('login-throttled')
    const lines0 = logLines.filter((l) => l.event?.startsWith('mqtt_auth')).length
    const codes: (number | string)[] = []
    for (let i = 0; i < 25; i++) {
      const r = await rawConnect(port, { clientId: `guess-${i}`, username: 'lim-mon-2', password: `guess-${i}`, localAddress: '127.0.0.9' })
      r.socket.destroy()
      codes.push(r.code)
    }
    // The right password from the locked address is refused too (without checking it) …
    const right = await rawConnect(port, { clientId: 'lim-mon-2', username: 'lim-mon-2', password: 'lim-secret-2', localAddress: '127.0.0.9' })
    right.socket.destroy()
    // … while the same device from another address logs in, and so does another device behind the
    // guesser's address (a NAT): the lockout is the address and name's, not the address's.
    const other = await rawConnect(port, { clientId: 'lim-mon-2-x', username: 'lim-mon-2', password: 'lim-secret-2', localAddress: '127.0.0.10' })
    other.socket.destroy()
    const neighbour = await rawConnect(port, { clientId: 'lim-mon-1-nat', username: 'lim-mon-1', password: 'lim-secret-1', localAddress: '127.0.0.9' })
    neighbour.socket.destroy()
    const lines = logLines.filter((l) => l.event?.startsWith('mqtt_auth')).length - lines0
    console.log(`  25 wrong passwords: CONNACK ${codes.slice(0, 10).join(',')} then ${codes.slice(10).join(',')}; right password while locked: ${right.code}; from another address: ${other.code}; ${lines} log line(s) so far`)
    assert.deepEqual(codes.slice(0, 10), Array(10).fill(4))
    assert.deepEqual(codes.slice(10), Array(15).fill(5))
    assert.equal(right.code, 5)
    assert.equal(other.code, 0)
    assert.equal(neighbour.code, 0)
    assert.equal(lines, 1)
    assert.equal(await refused('bad-login'), bad0 + 10)
    assert.equal(await refused('login-throttled'), thr0 + 16)
    // The lockout (3 s here) runs out.
    await new Promise((r) => setTimeout(r, 3100))
    const later = await rawConnect(port, { clientId: 'lim-mon-2', username: 'lim-mon-2', password: 'lim-secret-2', localAddress: '127.0.0.9' })
    later.socket.destroy()
    assert.equal(later.code, 0)
  })

  test('mqtt limits: devices subscribe to nothing; acks and nurse names reach nurse stations only', async () => {
    const denied0 = await refused('subscribe-denied')
    const d = await device(2, 'lim-sub-2')
    const dGrant = await grants(d, ['bedside/v1/alarms/+/ack', 'bedside/v1/alarms/#', '#'])
    const viewer = await station('screen-1', 'screen-pass-1')
    const vGrant = await grants(viewer, ['bedside/v1/alarms/+/ack', 'bedside/v1/alarms/lim-01/ack', '#', 'bedside/v1/alarms/#'])
    const nurse = await station('station-1', 'station-pass-1')
    const nGrant = await grants(nurse, ['bedside/v1/alarms/#'])
    assert.deepEqual(dGrant, [128, 128, 128])
    assert.deepEqual(vGrant, [128, 128, 128, 1])
    assert.deepEqual(nGrant, [1])
    const toViewer: [string, string][] = []
    const toNurse: [string, string][] = []
    viewer.on('message', (t, p) => toViewer.push([t, p.toString()]))
    nurse.on('message', (t, p) => toNurse.push([t, p.toString()]))
    await d.publishAsync('bedside/v1/devices/lim-mon-2/obs', JSON.stringify({ ts: Date.now(), seq: 50, obs: [{ code: 'MDC_PRESS_BLD_NONINV_SYS', value: 60, unit: 'mm[Hg]' }] }), { qos: 1 })
    const alarmId = await waitFor('alarm', async () => toNurse.map(([, p]) => JSON.parse(p)).find((a) => a.ruleId === 'sbp-low')?.alarmId as string | undefined, 5000, 20)
    await nurse.publishAsync('bedside/v1/alarms/lim-02/ack', JSON.stringify({ alarmId, by: 'Ann Example' }), { qos: 1 })
    await waitFor('acknowledged on the nurse station', async () => toNurse.some(([, p]) => p.includes('"acknowledged"')), 5000, 20)
    await waitFor('acknowledged on the viewer', async () => toViewer.some(([, p]) => p.includes('"acknowledged"')), 5000, 20)
    await waitFor('the ack forwarded to the nurse station', async () => toNurse.some(([t]) => t.endsWith('/ack')), 2000, 20)
    await new Promise((r) => setTimeout(r, 100)) // had the viewer got it, it would have by now
    const nurseSaw = toNurse.find(([, p]) => p.includes('"acknowledged"'))![1]
    const viewerSaw = toViewer.find(([, p]) => p.includes('"acknowledged"'))![1]
    console.log(`  SUBACK device ${dGrant}, viewer ${vGrant}, nurse ${nGrant}; ackBy to nurse ${JSON.parse(nurseSaw).ackBy}, to viewer ${JSON.parse(viewerSaw).ackBy}; ack topic messages to viewer: ${toViewer.filter(([t]) => t.endsWith('/ack')).length}, to nurse: ${toNurse.filter(([t]) => t.endsWith('/ack')).length}`)
    assert.equal(JSON.parse(nurseSaw).ackBy, 'Ann Example@station-1')
    assert.equal(JSON.parse(viewerSaw).ackBy, 'station-1')
    assert.ok(!toViewer.some(([t, p]) => t.endsWith('/ack') || p.includes('Ann')))
    assert.equal(await refused('subscribe-denied'), denied0 + 6)
  })
})
