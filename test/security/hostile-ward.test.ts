/**
 * A faulty or hostile device cannot silence the ward (issue 16). An 8-bed ward publishes at QoS 1
 * (4 messages/s per bed, episodes of HR 185 that raise hr-high) into an agent running as its own
 * process, while every attack on the MQTT listener is played against it, one after another and
 * then all together, from other loopback addresses (127.0.0.x) and with a compromised device
 * credential. Throughout: every PUBACKed record is stored exactly once, every alarm arrives at a
 * nurse station within 50 ms (p99) of the publish that fulfilled it, the agent's RSS stays under
 * RSS_BOUND_MB and it never restarts, and each attack is refused and counted by reason.
 * Needs `npm run build` (the agent runs from dist/). Bounded: ~45 s, every loop counted.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { connect as tcpConnect, type Socket } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import mqtt from 'mqtt'
import { metricValue, startAgentProcess, type AgentHandle } from '../support/agent-process.js'
import { openRecordView } from '../support/records.js'
import { bedId, deviceId, secret, wardBeds } from '../support/ward.js'
import { closedWithin, fixedHeader, openSocket, rawConnect } from '../support/mqtt-raw.js'

const BEDS = 8
const TICK_MS = 250
const RSS_BOUND_MB = 200
const ROGUE = { username: 'mon-rogue', password: 'secret-of-mon-rogue' }

let agent: AgentHandle
let port: number
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const bounded = <T>(p: Promise<T>, ms: number, fallback: T) => Promise.race([p.catch(() => fallback), sleep(ms).then(() => fallback)])
const refused = (reason: string) => metricValue(agent.http, 'bedside_mqtt_refused_total', `reason="${reason}"`)
const rssMb = (): number => {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${agent.proc.pid}/status`, 'utf8'))
    return m ? Number(m[1]) / 1024 : 0
  } catch {
    return 0 // exited: its last sample stands
  }
}

/** The legitimate ward: 8 devices at QoS 1, one message per tick, device time 1 s per message. */
class Ward {
  readonly acked = new Map<string, Set<number>>()
  /** `${bedId}/${deviceTimeMs}` → wall time of its publish, for alarm latency. */
  readonly publishedAt = new Map<string, number>()
  readonly latencies: number[] = []
  /** Which attack ran when each alarm arrived (the slowest are printed). */
  phase = 'none'
  readonly slowest: [number, string][] = []
  readonly unexpectedCloses: string[] = []
  readonly clients: mqtt.MqttClient[] = []
  private running = true
  /** Per bed: the publish in flight, and a planned reconnect the loop waits for. */
  private readonly inflight: Promise<unknown>[] = []
  private readonly swapping: (Promise<unknown> | null)[] = []
  private loops: Promise<void>[] = []
  private readonly t0Device = Date.now() - 5 * 60_000 // within the 10-min drift bound for the whole run (1 s of device time per message)
  station!: mqtt.MqttClient
  readonly alarmsSeen: { bedId: string; state: string; ackBy?: string; alarmId: string; ruleId: string }[] = []

  async start(url: string): Promise<void> {
    this.station = await mqtt.connectAsync(url, { username: 'station-1', password: 'station-pass-1', clientId: 'station-1', reconnectPeriod: 0, protocolVersion: 4 })
    this.station.on('message', (_t, p) => {
      const now = performance.now()
      const a = JSON.parse(p.toString()) as { bedId: string; state: string; atMs: number; ruleId: string; alarmId: string }
      if (!_t.endsWith('/ack')) this.alarmsSeen.push(a)
      if (a.state !== 'raised') return // hr-high after 10 s of HR 185, news2 on the first
      const sent = this.publishedAt.get(`${a.bedId}/${a.atMs}`)
      if (sent !== undefined) {
        this.latencies.push(now - sent)
        this.slowest.push([now - sent, `${this.phase}/${a.ruleId}`])
      }
    })
    await this.station.subscribeAsync('bedside/v1/alarms/#', { qos: 1 })
    for (let i = 0; i < BEDS; i++) {
      this.acked.set(deviceId(i), new Set())
      this.clients[i] = await this.connect(url, i)
    }
    this.loops = Array.from({ length: BEDS }, (_, i) => this.loop(url, i))
  }

  private async connect(url: string, i: number): Promise<mqtt.MqttClient> {
    const c = await mqtt.connectAsync(url, { username: deviceId(i), password: secret(i), clientId: deviceId(i), reconnectPeriod: 0, protocolVersion: 4 })
    c.on('close', () => { if (this.running && !(c as { planned?: boolean }).planned) this.unexpectedCloses.push(deviceId(i)) })
    return c
  }

  /** HR 185 for 13 messages (13 s of device time; hr-high needs 10 s), then 11 messages of HR 72, per bed offset. */
  private async loop(url: string, i: number): Promise<void> {
    const topic = `bedside/v1/devices/${deviceId(i)}/obs`
    for (let seq = 1; this.running && seq < 100_000; seq++) {
      const next = performance.now() + TICK_MS
      const phase = (seq + i * 3) % 24
      const ts = this.t0Device + seq * 1000
      const payload = JSON.stringify({ ts, seq, obs: [{ code: 'MDC_ECG_HEART_RATE', value: phase < 13 ? 185 : 72, unit: '/min' }] })
      if (this.swapping[i]) await this.swapping[i]
      this.publishedAt.set(`${bedId(i)}/${ts}`, performance.now())
      await (this.inflight[i] = this.clients[i]!.publishAsync(topic, payload, { qos: 1 }))
      this.acked.get(deviceId(i))!.add(seq)
      await sleep(Math.max(0, next - performance.now()))
    }
  }

  /** A planned reconnect of bed i (during a connection flood: a device must still get in). */
  async reconnect(url: string, i: number): Promise<number> {
    let done!: () => void
    this.swapping[i] = new Promise<void>((r) => (done = r))
    await this.inflight[i]?.catch(() => {})
    const old = this.clients[i]!
    ;(old as { planned?: boolean }).planned = true
    old.end(true)
    const t0 = performance.now()
    try {
      this.clients[i] = await this.connect(url, i) // the same client id, after the old session ended
      return performance.now() - t0
    } finally {
      this.swapping[i] = null
      done()
    }
  }

  async stop(): Promise<void> {
    this.running = false
    await bounded(Promise.all(this.loops), 5000, [])
    for (const c of [...this.clients, this.station]) c.end(true)
  }

  ackedCount(): number {
    let n = 0
    for (const s of this.acked.values()) n += s.size
    return n
  }
}

// --- the attacks: each bounded, each from its own loopback address -------------------------------

async function oversizedBeforeConnect(addr: string): Promise<string> {
  const closes: number[] = []
  await Promise.all(Array.from({ length: 10 }, async () => {
    const s = await openSocket(port, addr).catch(() => null)
    if (!s) return
    s.on('error', () => {})
    s.write(fixedHeader(0x10, 256 * 2 ** 20 - 1))
    for (let k = 0; k < 16 && !s.destroyed; k++) s.write(Buffer.alloc(64 * 1024, 0x61))
    closes.push(await closedWithin(s, 3000).catch(() => Number.NaN))
  }))
  return `10 CONNECTs announcing 256 MB, 1 MiB streamed each: closed in ≤ ${Math.max(...closes).toFixed(0)} ms`
}

/** Built once, before the ward runs: building 20 MiB in the test process would stall the alarm-measuring client. */
let built: { big: Buffer; empties: Buffer } | null = null
const payloads = () => (built ??= {
  big: Buffer.from('{"ts":' + Date.now() + ',"obs":[' + '{},'.repeat(7_000_000) + '{}]}'),
  empties: Buffer.from('{"ts":1,"obs":[' + '{},'.repeat(87_000) + '{}]}'),
})

async function oversizedPublish(url: string): Promise<string> {
  const rogue = await mqtt.connectAsync(url, { ...ROGUE, clientId: 'rogue-big', reconnectPeriod: 0, protocolVersion: 4 })
  rogue.on('error', () => {})
  const acked = await bounded(rogue.publishAsync('bedside/v1/devices/mon-rogue/obs', payloads().big, { qos: 1 }).then(() => true), 3000, false)
  rogue.end(true)
  // Under the maximum but hostile: 87,000 empty objects in 256 KiB is acknowledged, rejected by the decoder's scan.
  const r2 = await mqtt.connectAsync(url, { ...ROGUE, clientId: 'rogue-json', reconnectPeriod: 0, protocolVersion: 4 })
  const t0 = performance.now()
  await r2.publishAsync('bedside/v1/devices/mon-rogue/obs', payloads().empties, { qos: 1 })
  const ms = performance.now() - t0
  r2.end(true)
  assert.equal(acked, false)
  return `20 MiB PUBLISH by an authenticated device: not acknowledged, closed; 255 KiB of {} acknowledged as rejected in ${ms.toFixed(1)} ms`
}

async function slowConnect(addr: string): Promise<string> {
  const socks: Socket[] = []
  for (let i = 0; i < 8; i++) {
    const s = await openSocket(port, addr).catch(() => null)
    if (!s) continue
    s.on('error', () => {})
    s.write(fixedHeader(0x10, 200 * 1024)) // under the maximum, then a trickle
    socks.push(s)
  }
  const trickle = setInterval(() => { for (const s of socks) if (!s.destroyed) s.write(Buffer.alloc(100, 0x61)) }, 100)
  const ms = await Promise.all(socks.map((s) => closedWithin(s, 5000).catch(() => Number.NaN)))
  clearInterval(trickle)
  return `8 slow CONNECTs (200 KiB announced, 1 KB/s): closed after ${Math.min(...ms).toFixed(0)}–${Math.max(...ms).toFixed(0)} ms`
}

async function idleFlood(ward: Ward, url: string, addrs: string[]): Promise<string> {
  const socks: Socket[] = []
  let refusedAtAccept = 0
  const opening = (async () => {
    for (const a of addrs) for (let k = 0; k < 30; k++) {
      const s = await openSocket(port, a).catch(() => null)
      if (!s) continue
      s.on('error', () => {})
      s.once('close', () => refusedAtAccept++)
      socks.push(s)
    }
  })()
  await sleep(100)
  const reconnectMs = await ward.reconnect(url, 0) // a device gets in while the flood runs
  await opening
  const held = socks.filter((s) => !s.destroyed).length
  await Promise.all(socks.map((s) => closedWithin(s, 5000).catch(() => Number.NaN)))
  return `${socks.length} idle sockets from ${addrs.length} addresses: ${held} held at most ${'until the connect timeout'}, all closed; bed 0 reconnected meanwhile in ${reconnectMs.toFixed(0)} ms`
}

async function takeover(): Promise<string> {
  const codes: (number | string)[] = []
  for (const id of [deviceId(3), deviceId(5), 'station-1']) {
    const r = await rawConnect(port, { clientId: id, ...ROGUE, localAddress: '127.0.0.31' })
    r.socket.destroy()
    codes.push(r.code)
  }
  assert.deepEqual(codes, [2, 2, 2])
  return `rogue login with client ids mon-3, mon-5, station-1: CONNACK ${codes.join(',')}`
}

async function retained(url: string): Promise<string> {
  const rogue = await mqtt.connectAsync(url, { ...ROGUE, clientId: 'rogue-ret', reconnectPeriod: 0, protocolVersion: 4 })
  rogue.on('error', () => {})
  await rogue.publishAsync('bedside/v1/devices/mon-rogue/obs', JSON.stringify({ ts: Date.now(), obs: [{ code: 'MDC_ECG_HEART_RATE', value: 70 }] }), { qos: 1, retain: true })
  await bounded(rogue.publishAsync(`bedside/v1/alarms/${bedId(2)}`, '{"state":"cleared","fake":true}', { qos: 1, retain: true }), 500, undefined)
  rogue.end(true)
  const fresh = await mqtt.connectAsync(url, { username: 'screen-1', password: 'screen-pass-1', clientId: 'screen-ret', reconnectPeriod: 0, protocolVersion: 4 })
  const seen: string[] = []
  fresh.on('message', (_t, p) => seen.push(p.toString()))
  await fresh.subscribeAsync('bedside/v1/alarms/#', { qos: 1 })
  await sleep(300)
  fresh.end(true)
  assert.ok(!seen.some((m) => m.includes('fake')))
  return `retained publish on own prefix: flag dropped; retained fake alarm: refused; a new subscriber got ${seen.length} retained messages, none fake`
}

async function guessing(addr: string): Promise<string> {
  const codes = new Map<number | string, number>()
  for (let i = 0; i < 60; i++) {
    const r = await rawConnect(port, { clientId: `g-${i}`, username: deviceId(i % BEDS), password: `guess-${i}`, localAddress: addr }).catch(() => ({ code: 'error' as const, socket: null }))
    r.socket?.destroy()
    codes.set(r.code, (codes.get(r.code) ?? 0) + 1)
  }
  return `60 wrong passwords: ${[...codes].map(([c, n]) => `${n}× CONNACK ${c}`).join(', ')}`
}

async function snooping(url: string, ward: Ward): Promise<string> {
  const rogue = await mqtt.connectAsync(url, { ...ROGUE, clientId: 'rogue-sub', reconnectPeriod: 0, protocolVersion: 4 })
  const viewer = await mqtt.connectAsync(url, { username: 'screen-1', password: 'screen-pass-1', clientId: 'screen-1', reconnectPeriod: 0, protocolVersion: 4 })
  const rogueGot: string[] = []
  const viewerGot: [string, string][] = []
  rogue.on('message', (t) => rogueGot.push(t))
  viewer.on('message', (t, p) => viewerGot.push([t, p.toString()]))
  rogue.subscribe(['bedside/v1/alarms/+/ack', '#'], { qos: 1 }, () => {})
  await viewer.subscribeAsync('bedside/v1/alarms/#', { qos: 1 })
  viewer.subscribe('bedside/v1/alarms/+/ack', { qos: 1 }, () => {})
  // The nurse acknowledges the latest raised alarm, naming herself.
  const raised = [...ward.alarmsSeen].reverse().find((a) => a.state === 'raised' && a.ruleId === 'hr-high')
  if (raised) await ward.station.publishAsync(`bedside/v1/alarms/${raised.bedId}/ack`, JSON.stringify({ alarmId: raised.alarmId, by: 'Nurse Ratched' }), { qos: 1 })
  for (let i = 0; i < 20 && !viewerGot.some(([, p]) => p.includes('"acknowledged"')); i++) await sleep(50)
  await sleep(200)
  rogue.end(true)
  viewer.end(true)
  assert.ok(raised, 'an alarm to acknowledge')
  assert.equal(rogueGot.length, 0)
  assert.ok(!viewerGot.some(([t, p]) => t.endsWith('/ack') || p.includes('Ratched')))
  const seenAck = viewerGot.find(([, p]) => p.includes('"acknowledged"'))
  return `device subscriptions to acks and #: denied, 0 messages; viewer saw ${viewerGot.length} alarm messages, ack ${seenAck ? `as ackBy ${JSON.parse(seenAck[1]).ackBy}` : 'not yet'}, never the nurse's name`
}

async function httpIdle(addr: string): Promise<string> {
  const u = new URL(agent.http)
  const socks = await Promise.all(Array.from({ length: 50 }, () => new Promise<Socket>((resolve, reject) => {
    const s = tcpConnect({ port: Number(u.port), host: '127.0.0.1', localAddress: addr }, () => resolve(s))
    s.once('error', reject)
  })))
  const ms = await Promise.all(socks.map((s) => closedWithin(s, 14_000).catch(() => Number.NaN)))
  return `50 idle HTTP sockets: closed after ${(Math.min(...ms) / 1000).toFixed(1)}–${(Math.max(...ms) / 1000).toFixed(1)} s`
}

describe('hostile ward', () => {
  const ward = new Ward()
  let rssMax = 0
  let rssTimer: NodeJS.Timeout
  let pid = 0
  const figures: string[] = []

  before(async () => {
    agent = await startAgentProcess({
      beds: [...wardBeds(BEDS), { id: 'bed-rogue', devices: [{ id: ROGUE.username, type: 'mqtt', secret: ROGUE.password }] }],
      mqtt: {
        clients: [{ username: 'station-1', password: 'station-pass-1', role: 'nurse' }, { username: 'screen-1', password: 'screen-pass-1', role: 'viewer' }],
        connect_timeout_s: 2, max_pending: 64, max_pending_per_source: 16,
      },
    })
    pid = agent.proc.pid!
    payloads()
    port = Number(new URL(agent.mqtt).port)
    rssTimer = setInterval(() => { rssMax = Math.max(rssMax, rssMb()) }, 100)
    await ward.start(agent.mqtt)
    await sleep(3000)
    figures.push(`baseline RSS ${rssMb().toFixed(0)} MB with the ward running`)
  })
  after(async () => {
    clearInterval(rssTimer)
    await ward.stop()
    await agent?.stop()
  })

  test('hostile ward: each attack, then all together, is refused and counted while the ward keeps alarming and storing', async () => {
    const url = agent.mqtt
    const attacks: [string, () => Promise<string>][] = [
      ['oversized before CONNECT', () => oversizedBeforeConnect('127.0.0.11')],
      ['oversized PUBLISH', () => oversizedPublish(url)],
      ['slow CONNECT', () => slowConnect('127.0.0.12')],
      ['idle connection flood', () => idleFlood(ward, url, ['127.0.0.21', '127.0.0.22', '127.0.0.23', '127.0.0.24', '127.0.0.25', '127.0.0.26'])],
      ['client id takeover', () => takeover()],
      ['retained messages', () => retained(url)],
      ['password guessing', () => guessing('127.0.0.41')],
      ['snooping on acks', () => snooping(url, ward)],
    ]
    const http = httpIdle('127.0.0.51') // runs beside everything (the HTTP timeouts are seconds)
    for (const [name, run] of attacks) {
      ward.phase = name
      figures.push(`${name}: ${await run()}`)
    }
    ward.phase = 'together'
    const together = await Promise.all([
      oversizedBeforeConnect('127.0.0.13'), oversizedPublish(url), slowConnect('127.0.0.14'),
      idleFlood(ward, url, ['127.0.0.27', '127.0.0.28', '127.0.0.29', '127.0.0.30']), takeover(), retained(url), guessing('127.0.0.42'),
    ])
    figures.push(`all together: ${together.length} attacks done`)
    ward.phase = 'after'
    figures.push(`HTTP: ${await http}`)
    await sleep(2 * TICK_MS)

    const reasons = ['packet-too-large', 'connect-timeout', 'connections-per-source', 'connections-pending', 'client-id-taken', 'retained', 'publish-denied', 'bad-login', 'login-throttled', 'subscribe-denied']
    const counts = await Promise.all(reasons.map(refused))
    figures.push(`bedside_mqtt_refused_total: ${reasons.map((r, i) => `${r} ${counts[i]}`).join(', ')}`)
    const authLines = agent.output().split('\n').filter((l) => l.includes('mqtt_auth')).length
    const refusalLines = agent.output().split('\n').filter((l) => l.includes('"mqtt_refused')).length
    figures.push(`log lines about failed logins: ${authLines} for 120 wrong passwords; about the other ${counts.reduce((a, b) => a + b, 0)} refusals: ${refusalLines}`)
    assert.ok(refusalLines <= reasons.length * 2, `${refusalLines} refusal log lines`)
    for (let i = 0; i < reasons.length; i++) assert.ok(counts[i]! > 0, `no refusal counted for ${reasons[i]}`)
    assert.ok(authLines <= 4, `${authLines} log lines`)
  })

  test('hostile ward: legitimate alarms p99 < 50 ms, no unexpected disconnect, RSS bounded, no restart, every acked record stored once', async () => {
    await ward.stop()
    const lat = [...ward.latencies].sort((a, b) => a - b)
    if (lat.length === 0) console.log('  alarms seen:', JSON.stringify(ward.alarmsSeen.slice(0, 3)), [...ward.publishedAt.keys()].slice(0, 3))
    const p = (q: number) => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))]!
    figures.push(`alarms: ${lat.length} raised (hr-high, news2), latency p50 ${p(0.5).toFixed(1)} ms, p99 ${p(0.99).toFixed(1)} ms, max ${lat[lat.length - 1]!.toFixed(1)} ms`)
    figures.push(`slowest alarms: ${ward.slowest.sort((a, b) => b[0] - a[0]).slice(0, 4).map(([ms, w]) => `${ms.toFixed(1)} ms (${w})`).join(', ')}`)
    figures.push(`RSS max ${rssMax.toFixed(0)} MB (bound ${RSS_BOUND_MB} MB)`)
    assert.equal(agent.proc.exitCode, null, 'the agent is still running')
    assert.equal(agent.proc.pid, pid)
    clearInterval(rssTimer)
    await agent.stop()
    const db = openRecordView(join(agent.dir, 'data', 'bedside.db'), { readonly: true, fileMustExist: true })
    let stored = 0
    let dupes = 0
    let missing = 0
    try {
      const rows = db.prepare(`SELECT device_id d, device_seq s, COUNT(*) n FROM record_view WHERE kind = 1 AND device_id LIKE 'mon-%' AND device_id != ? GROUP BY device_id, device_seq`).all(ROGUE.username) as { d: string; s: number; n: number }[]
      const have = new Set(rows.map((r) => `${r.d}/${r.s}`))
      for (const r of rows) { stored++; if (r.n > 1) dupes++ }
      for (const [d, seqs] of ward.acked) for (const s of seqs) if (!have.has(`${d}/${s}`)) missing++
    } finally {
      db.close()
    }
    figures.push(`store: ${ward.ackedCount()} PUBACKed, ${stored} distinct (device, seq) stored, ${missing} missing, ${dupes} duplicated; unexpected disconnects of ward devices: ${ward.unexpectedCloses.length}`)
    console.log('  ' + figures.join('\n  '))
    assert.ok(lat.length >= BEDS, `${lat.length} alarms measured`)
    assert.ok(p(0.99) < 50, `alarm p99 ${p(0.99).toFixed(1)} ms`)
    assert.ok(rssMax < RSS_BOUND_MB, `RSS ${rssMax.toFixed(0)} MB`)
    assert.deepEqual(ward.unexpectedCloses, [])
    assert.equal(missing, 0)
    assert.equal(dupes, 0)
  })
})
