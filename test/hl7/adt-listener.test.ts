/**
 * The ADT listener's own boundaries (issue 21), with a raw MLLP client over real sockets: a re-send
 * recognised across an agent restart (the control ids are durable), bounds that act before input
 * costs memory (frame size, connections, idle time), and MLLP over TLS with the interface engine's
 * client certificate required. The HAPI test (adt.test.ts) proves the protocol against a real peer.
 */
import assert from 'node:assert/strict'
import { connect as netConnect, type Socket } from 'node:net'
import { join } from 'node:path'
import { test } from 'node:test'
import { connect as tlsConnect } from 'node:tls'
import { readFileSync } from 'node:fs'
import { pino } from 'pino'
import { startAgent, type RunningAgent } from '../../agent/agent.js'
import { parseConfig } from '../../agent/config.js'
import { mllpFrame, MllpDeframer } from '../../drivers/serial/hl7/mllp.js'
import { parseMessage, text } from '../../drivers/serial/hl7/message.js'
import { Admissions } from '../../agent/store/admissions.js'
import { readAuditBody } from '../../agent/store/bodies.js'
import { openDatabase } from '../../agent/store/db.js'
import { makeCa, makeClientCert, makeLeaf } from '../support/certs.js'
import { tempDir, waitFor } from '../support/agent-process.js'

const NURSE = 'adt-nurse-token'
const adt = (trigger: string, ctl: string, mrn: string, loc: string) =>
  [`MSH|^~\\&|ENGINE|GH|BEDSIDE-HUB|3A|20261205120000||ADT^${trigger}^ADT_A01|${ctl}|P|2.6`, `EVN|${trigger}|20261205120000`,
    `PID|1||${mrn}^^^GH^MR||Doe^Jane||19700131`, `PV1|1|I|${loc}||||||||||||||||V1`].join('\r') + '\r'

interface Ack { code: string; controlId: string; err2: string }

/** A raw MLLP client: one frame out, ACK frames in. */
class Client {
  readonly acks: Ack[] = []
  closed = false
  private readonly deframer = new MllpDeframer({
    message: (body) => {
      const m = parseMessage(body.toString('utf8'))
      const msa = m.segments.find((s) => s.id === 'MSA')
      const err = m.segments.find((s) => s.id === 'ERR')
      this.acks.push({ code: text(msa, 1, 1, m.delimiters), controlId: text(msa, 2, 1, m.delimiters), err2: err?.fields[2] ?? '' })
    },
    reject: (e) => assert.fail(e.message),
  })

  constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => this.deframer.push(d))
    socket.on('close', () => (this.closed = true))
    socket.on('error', () => undefined)
  }

  static async plain(port: number, localAddress?: string): Promise<Client> {
    const s = netConnect({ port, host: '127.0.0.1', ...(localAddress ? { localAddress } : {}) })
    await new Promise<void>((resolve, reject) => s.once('connect', resolve).once('error', reject))
    return new Client(s)
  }

  async send(message: string | Buffer): Promise<Ack> {
    const before = this.acks.length
    this.socket.write(typeof message === 'string' ? mllpFrame(message) : message)
    await waitFor('an ACK', async () => this.acks.length > before, 10_000, 10)
    return this.acks[before]!
  }

  close(): void {
    this.socket.destroy()
  }
}

function base(dataDir: string, adtExtra: Record<string, unknown> = {}) {
  return parseConfig({
    hub: { id: 'adt-hub', site: 'adt-site', data_dir: dataDir },
    http: { listen: '127.0.0.1:0', tokens: [{ token: NURSE, role: 'nurse', name: 'nurse-ada' }] },
    mqtt: { listen: '127.0.0.1:0' },
    beds: [{ id: 'b1' }, { id: 'b2' }],
    hl7: { adt: { listen: '127.0.0.1:0', locations: [{ point_of_care: '3A', room: '301', bed_id: 'b1' }, { point_of_care: '3A', room: '302', bed_id: 'b2' }], ...adtExtra } },
  })
}

const quiet = () => pino({ level: 'silent' })

test('hl7 adt listener: a re-send after an agent restart is acknowledged AA and applied once (control ids are durable)', async (t) => {
  const dataDir = join(tempDir('adt-restart'), 'data')
  let agent: RunningAgent = await startAgent(base(dataDir), { log: quiet() })
  t.after(() => agent.stop())
  let c = await Client.plain(agent.adtPort)
  assert.deepEqual(await c.send(adt('A01', 'R1', 'MRN-1', '3A^301^1')), { code: 'AA', controlId: 'R1', err2: '' })
  assert.equal((await c.send(adt('A02', 'R2', 'MRN-1', '3A^302^1'))).code, 'AA')
  c.close()
  await agent.stop()
  agent = await startAgent(base(dataDir), { log: quiet() })
  c = await Client.plain(agent.adtPort)
  // The A01's ACK was "lost": the engine sends it again. Applied twice, it would move the patient back to b1.
  assert.deepEqual(await c.send(adt('A01', 'R1', 'MRN-1', '3A^301^1')), { code: 'AA', controlId: 'R1', err2: '' })
  // The same control id from another sending application is another message.
  assert.equal((await c.send(adt('A03', 'R1', 'MRN-1', '3A^302^1').replace('|ENGINE|', '|OTHER-ENGINE|'))).code, 'AA')
  c.close()
  await agent.stop()
  const db = openDatabase(dataDir)
  try {
    assert.equal(new Admissions(db).current('b1'), undefined, 'the re-sent A01 did not move the patient back')
    assert.equal(new Admissions(db).current('b2'), undefined, 'discharged by the other application\'s A03')
    const audits = (db.prepare('SELECT body FROM records WHERE kind = 4').all() as { body: Buffer }[]).map((r) => readAuditBody(r.body, 0))
    assert.equal(audits.filter((a) => /ADT\^A01 R1\b/.test(a.detail)).length, 1)
    assert.deepEqual(audits.filter((a) => a.actor.startsWith('adt:')).map((a) => `${a.actor} ${a.action}`), ['adt:ENGINE admission', 'adt:ENGINE transfer', 'adt:OTHER-ENGINE discharge'])
  } finally {
    db.close()
  }
})

test('hl7 adt listener: an oversized frame is dropped unanswered, a connection past the cap is closed, a silent one times out', async (t) => {
  const dataDir = join(tempDir('adt-bounds'), 'data')
  const agent = await startAgent(base(dataDir, { max_message_bytes: 1024, max_connections: 2, idle_timeout_s: 1 }), { log: quiet() })
  t.after(() => agent.stop())
  const a = await Client.plain(agent.adtPort)
  a.socket.write(mllpFrame(adt('A01', 'BIG', 'MRN-2', '3A^301^1').replace('Doe^Jane', `Doe^${'J'.repeat(2000)}`)))
  assert.deepEqual(await a.send(adt('A01', 'OK1', 'MRN-2', '3A^301^1')), { code: 'AA', controlId: 'OK1', err2: '' }, 'the next frame is answered, the big one was not')
  assert.equal(a.acks.length, 1)
  const b = await Client.plain(agent.adtPort)
  const c = await Client.plain(agent.adtPort)
  await waitFor('the third connection closed', async () => c.closed, 5000, 10)
  await waitFor('the silent connections closed', async () => a.closed && b.closed, 5000, 50)
  a.close()
  b.close()
})

test('hl7 adt listener: a sender outside allow_from is closed on accept, its discharge never applied', async (t) => {
  const dataDir = join(tempDir('adt-allow'), 'data')
  const agent = await startAgent(base(dataDir, { allow_from: ['127.0.0.2'] }), { log: quiet() })
  t.after(() => agent.stop())
  const engine = await Client.plain(agent.adtPort, '127.0.0.2')
  assert.equal((await engine.send(adt('A01', 'E1', 'MRN-7', '3A^301^1'))).code, 'AA')
  const stranger = await Client.plain(agent.adtPort, '127.0.0.1')
  stranger.socket.write(mllpFrame(adt('A03', 'X1', 'MRN-7', '3A^301^1')))
  await waitFor('the stranger closed', async () => stranger.closed, 5000, 10)
  assert.equal(stranger.acks.length, 0)
  engine.close()
  await agent.stop()
  const db = openDatabase(dataDir)
  try {
    assert.equal(new Admissions(db).current('b1')?.mrn, 'MRN-7', 'still admitted: the stranger\'s discharge was not applied')
  } finally {
    db.close()
  }
})

test('hl7 adt listener: MLLP over TLS, the engine\'s client certificate required', async (t) => {
  const dir = tempDir('adt-tls')
  makeCa(dir, 'ca')
  const server = makeLeaf(dir, 'gateway', 'ca')
  const engine = makeClientCert(dir, 'engine', 'ca')
  const agent = await startAgent(base(join(dir, 'data'), { tls: { ...server, ca: join(dir, 'ca.crt'), client_certs: 'require' } }), { log: quiet() })
  t.after(() => agent.stop())
  const ca = readFileSync(join(dir, 'ca.crt'))
  const open = async (withCert: boolean) => {
    const s = tlsConnect({ host: '127.0.0.1', port: agent.adtPort, ca, ...(withCert ? { cert: readFileSync(engine.cert), key: readFileSync(engine.key) } : {}) })
    await new Promise<void>((resolve, reject) => s.once('secureConnect', resolve).once('error', reject))
    return new Client(s)
  }
  const ok = await open(true)
  assert.deepEqual(await ok.send(adt('A01', 'TLS1', 'MRN-3', '3A^301^1')), { code: 'AA', controlId: 'TLS1', err2: '' })
  ok.close()
  // Without a certificate the handshake fails (TLS 1.3: the refusal arrives after the client's Finished).
  const refused = await open(false).then(async (c) => {
    c.socket.write(mllpFrame(adt('A01', 'TLS2', 'MRN-4', '3A^302^1')))
    await waitFor('closed', async () => c.closed, 5000, 10)
    return c.acks.length === 0
  }, () => true)
  assert.ok(refused, 'a client without a certificate got an answer')
})

test('hl7 adt listener: over TLS, a sender outside allow_from is closed before the handshake (it holds no slot for its 10 s)', async (t) => {
  const dir = tempDir('adt-tls-allow')
  makeCa(dir, 'ca')
  const server = makeLeaf(dir, 'gateway', 'ca')
  const agent = await startAgent(base(join(dir, 'data'), { tls: server, allow_from: ['127.0.0.2'] }), { log: quiet() })
  t.after(() => agent.stop())
  const ca = readFileSync(join(dir, 'ca.crt'))
  const handshake = (localAddress: string) => new Promise<string>((resolve) => {
    const t0 = Date.now()
    const s = tlsConnect({ socket: netConnect({ host: '127.0.0.1', port: agent.adtPort, localAddress }), ca, servername: 'localhost' })
    s.once('secureConnect', () => (s.destroy(), resolve('handshake')))
    s.on('error', () => undefined)
    s.once('close', () => resolve(`closed in ${Date.now() - t0} ms`))
  })
  assert.equal(await handshake('127.0.0.2'), 'handshake')
  const stranger = await handshake('127.0.0.1')
  assert.match(stranger, /^closed in \d+ ms$/)
  assert.ok(Number(/\d+/.exec(stranger)![0]) < 1000, stranger)
})

test('hl7 adt listener: a sender that half-closes after its message (socat, nc) still gets its ACK, then the connection ends', async (t) => {
  const agent = await startAgent(base(join(tempDir('adt-half'), 'data')), { log: quiet() })
  t.after(() => agent.stop())
  const c = await Client.plain(agent.adtPort)
  c.socket.end(mllpFrame(adt('A01', 'HALF1', 'MRN-5', '3A^301^1')))
  await waitFor('closed by the agent', async () => c.closed, 5000, 10)
  assert.deepEqual(c.acks, [{ code: 'AA', controlId: 'HALF1', err2: '' }])
  // The listener is a part of readiness when configured.
  const ready = await (await fetch(`http://127.0.0.1:${agent.httpPort}/readyz`)).json() as { parts: Record<string, { ok: boolean }> }
  assert.deepEqual(ready.parts['hl7-adt'], { ok: true })
})

test('hl7 adt listener: the NEWS2 context a nurse set moves with the patient on an ADT transfer and stays through a merge', async (t) => {
  const agent = await startAgent(base(join(tempDir('adt-context'), 'data')), { log: quiet() })
  t.after(() => agent.stop())
  const http = `http://127.0.0.1:${agent.httpPort}`
  const call = async (method: string, path: string, body?: unknown) =>
    (await fetch(`${http}${path}`, { method, headers: { authorization: `Bearer ${NURSE}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) })).json() as Promise<any>
  const c = await Client.plain(agent.adtPort)
  assert.equal((await c.send(adt('A01', 'C1', 'MRN-6', '3A^301^1'))).code, 'AA')
  await call('POST', '/api/beds/b1/context', { spo2_scale: 2 })
  assert.equal((await c.send(adt('A02', 'C2', 'MRN-6', '3A^302^1'))).code, 'AA')
  const merge = ['MSH|^~\\&|ENGINE|GH|BEDSIDE-HUB|3A|20261205120500||ADT^A40^ADT_A39|C3|P|2.6', 'EVN|A40|20261205120500', 'PID|1||MRN-7^^^GH^MR||Doe^Jane', 'MRG|MRN-6^^^GH^MR'].join('\r') + '\r'
  assert.equal((await c.send(merge)).code, 'AA')
  c.close()
  const beds = (await call('GET', '/api/beds')).beds as { id: string; patient: unknown; context: { spo2_scale?: { value: number } } }[]
  const b = Object.fromEntries(beds.map((x) => [x.id, x]))
  assert.equal(b.b1!.patient, null)
  assert.equal(b.b2!.context.spo2_scale?.value, 2, 'scale 2 moved with the patient and stayed through the merge')
})
