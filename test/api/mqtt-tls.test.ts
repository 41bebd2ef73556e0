/**
 * MQTT over TLS (issue 18, agent/serve/mqtt-tls.ts) with the real `mqtt` client over mqtts:// and
 * certificates made by openssl at test time (test/support/certs.ts): the hospital CA gets through
 * and a QoS 1 publish is PUBACKed and stored; another CA, an expired or unknown self-signed server
 * certificate and plaintext MQTT are refused; a device certificate (CN = device id) logs its device
 * in without a password and no other; `require` refuses a client without one at the handshake;
 * renewed server certificate files are served without a restart; the config refuses plain MQTT on
 * the ward network unless insecure. Each test prints its figures.
 */
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import { after, before, describe, test } from 'node:test'
import mqtt from 'mqtt'
import { pino } from 'pino'
import { startAgent, type RunningAgent } from '../../agent/agent.js'
import { ConfigError, parseConfig } from '../../agent/config.js'
import { createMetrics } from '../../agent/serve/metrics.js'
import { MqttServer, type MqttIngest } from '../../agent/serve/mqtt.js'
import type { ClientCertMode } from '../../agent/serve/mqtt-tls.js'
import { metricValue, TEST_VIEWER, tempDir, waitFor } from '../support/agent-process.js'
import { makeCa, makeClientCert, makeLeaf, makeSelfSigned, type CertFiles } from '../support/certs.js'
import { closedWithin, fixedHeader, openSocket } from '../support/mqtt-raw.js'

const MAX_PACKET = 64 * 1024

type Outcome = { ok: true; client: mqtt.MqttClient } | { ok: false; error: string }

/** One MQTT 3.1.1 connection; the outcome instead of a throw (refusals are what several tests want). */
function connect(url: string, opts: mqtt.IClientOptions): Promise<Outcome> {
  return new Promise((resolve) => {
    const client = mqtt.connect(url, { reconnectPeriod: 0, protocolVersion: 4, connectTimeout: 5000, clientId: `t-${Math.random().toString(36).slice(2, 8)}`, ...opts })
    const done = (o: Outcome) => {
      clearTimeout(timer)
      if (!o.ok) client.end(true)
      resolve(o)
    }
    const timer = setTimeout(() => done({ ok: false, error: 'timeout' }), 6000)
    client.once('connect', () => done({ ok: true, client }))
    client.once('error', (err: Error & { code?: string | number }) => done({ ok: false, error: String(err.code ?? err.message) }))
    client.once('close', () => done({ ok: false, error: 'closed' }))
  })
}

const obs = (seq: number) => JSON.stringify({ ts: Date.now(), seq, obs: [{ code: 'MDC_ECG_HEART_RATE', value: 72, unit: '/min' }] })

/** The subject CN of the certificate a TLS server presents, trusting `ca` (a fresh handshake). */
function servedSubject(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s: TLSSocket = tlsConnect({ host: '127.0.0.1', port, ca: readFileSync(ca) }, () => {
      resolve(String(s.getPeerCertificate().subject?.CN ?? ''))
      s.destroy()
    })
    s.once('error', reject)
  })
}

describe('mqtt tls', () => {
  let dir: string
  let agent: RunningAgent
  let http: string
  let url: string
  let served: CertFiles
  let ca: string
  const devA = () => readCert(join(dir, 'tls-mon-1'))
  const devB = () => readCert(join(dir, 'tls-mon-2'))
  const readCert = (base: string) => ({ cert: readFileSync(`${base}.crt`), key: readFileSync(`${base}.key`) })
  const refused = (reason: string) => metricValue(http, 'bedside_mqtt_refused_total', `reason="${reason}"`)
  const committed = () => metricValue(http, 'bedside_records_committed_total')

  before(async () => {
    dir = tempDir('mqtt-tls')
    ca = makeCa(dir, 'hospital-ca')
    makeCa(dir, 'device-ca')
    makeCa(dir, 'other-ca')
    served = makeLeaf(dir, 'ward-gw', 'hospital-ca')
    makeClientCert(dir, 'tls-mon-1', 'device-ca')
    makeClientCert(dir, 'tls-mon-2', 'device-ca')
    makeClientCert(dir, 'tls-mon-1-rogue', 'other-ca')
    agent = await startAgent(parseConfig({
      hub: { id: 'mqtt-tls-hub', site: 's', data_dir: join(dir, 'data') },
      http: { listen: '127.0.0.1:0', tokens: [TEST_VIEWER] },
      mqtt: { listen: '127.0.0.1:0', tls: { ...served, ca: join(dir, 'device-ca.crt'), client_certs: 'optional' }, max_packet_bytes: MAX_PACKET, connect_timeout_s: 1 },
      beds: [
        { id: 'tls-01', devices: [{ id: 'tls-mon-1', type: 'mqtt', secret: 'tls-secret-1' }] },
        { id: 'tls-02', devices: [{ id: 'tls-mon-2', type: 'mqtt', secret: 'tls-secret-2' }] },
      ],
    }), { log: pino({ level: 'silent' }) })
    http = `http://127.0.0.1:${agent.httpPort}`
    url = `mqtts://127.0.0.1:${agent.mqttPort}`
  })

  after(async () => {
    await agent?.stop()
  })

  test('mqtt tls: a device trusting the hospital CA logs in with its password over TLS 1.2+; a QoS 1 publish is PUBACKed and stored', async () => {
    const before = await committed()
    const o = await connect(url, { ca: readFileSync(ca), username: 'tls-mon-1', password: 'tls-secret-1' })
    assert.ok(o.ok, `refused: ${!o.ok && o.error}`)
    const protocol = (o.client.stream as TLSSocket).getProtocol()
    const t0 = performance.now()
    await o.client.publishAsync('bedside/v1/devices/tls-mon-1/obs', obs(1), { qos: 1 })
    const pubackMs = performance.now() - t0
    o.client.end(true)
    const stored = (await committed()) - before
    console.log(`mqtt tls: protocol ${protocol}, PUBACK after ${pubackMs.toFixed(1)} ms, records committed +${stored}`)
    assert.match(protocol ?? '', /^TLSv1\.[23]$/)
    assert.ok(stored >= 1, 'the PUBACKed record is in the store')
  })

  test('mqtt tls: a client trusting another CA refuses the server certificate', async () => {
    const o = await connect(url, { ca: readFileSync(join(dir, 'other-ca.crt')), username: 'tls-mon-1', password: 'tls-secret-1' })
    console.log(`mqtt tls: other CA → ${o.ok ? 'connected' : o.error}`)
    assert.ok(!o.ok)
    assert.match(o.error, /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT|SELF_SIGNED_CERT_IN_CHAIN/)
  })

  test('mqtt tls: a plaintext MQTT client on the TLS port gets no CONNACK and is counted', async () => {
    const before = await refused('tls-handshake')
    const o = await connect(`mqtt://127.0.0.1:${agent.mqttPort}`, { username: 'tls-mon-1', password: 'tls-secret-1' })
    await waitFor('the handshake refusal counted', async () => (await refused('tls-handshake')) > before, 3000, 50)
    console.log(`mqtt tls: plaintext MQTT → ${o.ok ? 'connected' : o.error}, tls-handshake refusals +${(await refused('tls-handshake')) - before}`)
    assert.ok(!o.ok)
  })

  test('mqtt tls: a device with its own client certificate logs in without a password (and without a username)', async () => {
    const before = await committed()
    for (const username of [undefined, 'tls-mon-1']) {
      const o = await connect(url, { ca: readFileSync(ca), ...devA(), ...(username ? { username } : {}) })
      assert.ok(o.ok, `refused (username ${username ?? 'absent'}): ${!o.ok && o.error}`)
      await o.client.publishAsync('bedside/v1/devices/tls-mon-1/obs', obs(username ? 3 : 2), { qos: 1 })
      o.client.end(true)
    }
    const stored = (await committed()) - before
    console.log(`mqtt tls: certificate logins 2/2, records committed +${stored}`)
    assert.ok(stored >= 2)
  })

  test('mqtt tls: a device certificate used under another device id is refused (CONNACK 5, cert-mismatch), password or not', async () => {
    const before = await refused('cert-mismatch')
    const a = await connect(url, { ca: readFileSync(ca), ...devA(), username: 'tls-mon-2' })
    const b = await connect(url, { ca: readFileSync(ca), ...devB(), username: 'tls-mon-1', password: 'tls-secret-1' })
    const counted = (await refused('cert-mismatch')) - before
    console.log(`mqtt tls: A's certificate as B → ${a.ok ? 'connected' : a.error}; B's certificate with A's password → ${b.ok ? 'connected' : b.error}; cert-mismatch +${counted}`)
    assert.ok(!a.ok && !b.ok)
    assert.equal(a.error, '5')
    assert.equal(b.error, '5')
    assert.equal(counted, 2)
  })

  test('mqtt tls: a certificate from a CA the agent does not trust proves nothing (no password: refused)', async () => {
    const rogue = readCert(join(dir, 'tls-mon-1-rogue'))
    const o = await connect(url, { ca: readFileSync(ca), ...rogue, username: 'tls-mon-1' })
    console.log(`mqtt tls: rogue-CA certificate, no password → ${o.ok ? 'connected' : o.error}`)
    assert.ok(!o.ok)
    assert.equal(o.error, '4')
  })

  test('mqtt tls: the listener limits hold under TLS: a socket that never handshakes is closed at the connect timeout, an oversized packet inside TLS closes the connection', async () => {
    const timeouts = await refused('connect-timeout')
    const silent = await openSocket(agent.mqttPort)
    const silentMs = await closedWithin(silent, 4000)
    const tooLarge = await refused('packet-too-large')
    const s: TLSSocket = await new Promise((resolve, reject) => {
      const t = tlsConnect({ host: '127.0.0.1', port: agent.mqttPort, ca: readFileSync(ca) }, () => resolve(t))
      t.once('error', reject)
    })
    s.write(fixedHeader(0x10, 10 * MAX_PACKET)) // a CONNECT announcing 640 KiB
    const bigMs = await closedWithin(s, 4000)
    console.log(`mqtt tls: no handshake → closed after ${silentMs.toFixed(0)} ms (connect-timeout +${(await refused('connect-timeout')) - timeouts}); oversized packet inside TLS → closed after ${bigMs.toFixed(0)} ms (packet-too-large +${(await refused('packet-too-large')) - tooLarge})`)
    assert.ok(silentMs > 500 && silentMs < 2500)
    assert.equal((await refused('connect-timeout')) - timeouts, 1)
    assert.equal((await refused('packet-too-large')) - tooLarge, 1)
  })

  test('mqtt tls: renewed server certificate files are served to new connections without a restart', async () => {
    const port = agent.mqttPort
    assert.equal(await servedSubject(port, ca), 'ward-gw')
    const next = makeLeaf(dir, 'ward-gw-renewed', 'hospital-ca')
    const t0 = performance.now()
    writeFileSync(served.key, readFileSync(next.key))
    writeFileSync(served.cert, readFileSync(next.cert))
    await waitFor('the renewed certificate served', async () => (await servedSubject(port, ca)) === 'ward-gw-renewed', 12_000, 250)
    console.log(`mqtt tls: renewed certificate served after ${((performance.now() - t0) / 1000).toFixed(1)} s (poll 5 s)`)
    const o = await connect(url, { ca: readFileSync(ca), username: 'tls-mon-2', password: 'tls-secret-2' })
    assert.ok(o.ok, 'devices log in over the renewed certificate')
    o.client.end(true)
  })
})

describe('mqtt tls server', () => {
  let dir: string
  let ca: string
  const ingest: MqttIngest = { deviceObs: (_id, _p, durable) => (durable(null), 'accepted'), deviceWave: (_id, _p, durable) => (durable(null), 'accepted'), unknownTopic: () => {} }

  before(() => {
    dir = tempDir('mqtt-tls-unit')
    ca = makeCa(dir, 'hospital-ca')
    makeCa(dir, 'device-ca')
    makeClientCert(dir, 'unit-mon-1', 'device-ca')
  })

  /** A standalone broker on loopback with `files` and client certificate `mode`. */
  async function broker(files: CertFiles, mode: ClientCertMode = 'off') {
    const metrics = createMetrics()
    const server = new MqttServer({ devices: new Map([['unit-mon-1', 'unit-secret-1']]), clients: new Map() }, ingest, metrics, pino({ level: 'silent' }), undefined,
      { ...files, client_certs: mode, ...(mode !== 'off' ? { ca: join(dir, 'device-ca.crt') } : {}) })
    const { port } = await server.start('127.0.0.1', 0)
    return { url: `mqtts://127.0.0.1:${port}`, metrics, stop: () => server.stop() }
  }

  test('mqtt tls server: an expired server certificate is refused by the client', async (t) => {
    const b = await broker(makeLeaf(dir, 'expired', 'hospital-ca', -1))
    t.after(() => b.stop())
    const o = await connect(b.url, { ca: readFileSync(ca), username: 'unit-mon-1', password: 'unit-secret-1' })
    console.log(`mqtt tls server: expired certificate → ${o.ok ? 'connected' : o.error}`)
    assert.ok(!o.ok)
    assert.equal(o.error, 'CERT_HAS_EXPIRED')
  })

  test('mqtt tls server: an unknown self-signed server certificate is refused by the client', async (t) => {
    const b = await broker(makeSelfSigned(dir, 'rogue'))
    t.after(() => b.stop())
    const o = await connect(b.url, { ca: readFileSync(ca), username: 'unit-mon-1', password: 'unit-secret-1' })
    console.log(`mqtt tls server: self-signed certificate → ${o.ok ? 'connected' : o.error}`)
    assert.ok(!o.ok)
    assert.equal(o.error, 'DEPTH_ZERO_SELF_SIGNED_CERT')
  })

  test('mqtt tls server: with client_certs require, a client without a certificate fails the handshake; with one it logs in', async (t) => {
    const b = await broker(makeLeaf(dir, 'ward-gw', 'hospital-ca'), 'require')
    t.after(() => b.stop())
    const without = await connect(b.url, { ca: readFileSync(ca), username: 'unit-mon-1', password: 'unit-secret-1' })
    const handshake = (await b.metrics.mqttRefused.get()).values.find((v) => v.labels.reason === 'tls-handshake')?.value ?? 0
    const withCert = await connect(b.url, { ca: readFileSync(ca), cert: readFileSync(join(dir, 'unit-mon-1.crt')), key: readFileSync(join(dir, 'unit-mon-1.key')) })
    console.log(`mqtt tls server: require, no certificate → ${without.ok ? 'connected' : without.error} (tls-handshake refusals ${handshake}); with certificate → ${withCert.ok ? 'connected' : withCert.error}`)
    assert.ok(!without.ok)
    assert.ok(handshake >= 1)
    assert.ok(withCert.ok)
    withCert.client.end(true)
  })
})

describe('mqtt insecure', () => {
  test('mqtt insecure: plain MQTT on a non-loopback address (allowed by mqtt.insecure) is logged as INSECURE at start', async (t) => {
    const lines: { event?: string; msg?: string }[] = []
    const ingest: MqttIngest = { deviceObs: (_id, _p, durable) => (durable(null), 'accepted'), deviceWave: (_id, _p, durable) => (durable(null), 'accepted'), unknownTopic: () => {} }
    const server = new MqttServer({ devices: new Map(), clients: new Map() }, ingest, createMetrics(), pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) }))
    await server.start('0.0.0.0', 0)
    t.after(() => server.stop())
    const warning = lines.find((l) => l.event === 'mqtt_insecure')
    console.log(`mqtt insecure: ${warning?.msg}`)
    assert.match(warning?.msg ?? '', /^INSECURE: .*set mqtt\.tls/)
  })
})

describe('mqtt tls config', () => {
  const base = { hub: { id: 'h', site: 's', data_dir: '/tmp/x' } }
  const problems = (mqttSection: unknown): string[] => {
    try {
      parseConfig({ ...base, mqtt: mqttSection })
    } catch (err) {
      assert.ok(err instanceof ConfigError)
      return [...err.problems]
    }
    return []
  }

  test('mqtt tls config: plain MQTT on a non-loopback address is refused with the field and the fix; insecure or tls accepts it', () => {
    const p = problems({ listen: '0.0.0.0:1883' })
    console.log(`mqtt tls config: ${p.join(' | ')}`)
    assert.equal(p.length, 1)
    assert.match(p[0]!, /^mqtt\.listen: "0\.0\.0\.0:1883" is not a loopback address/)
    assert.match(p[0]!, /mqtt\.tls/)
    assert.match(p[0]!, /mqtt\.insecure: true/)
    assert.deepEqual(problems({ listen: '0.0.0.0:1883', insecure: true }), [])
    assert.deepEqual(problems({ listen: '0.0.0.0:8883', tls: { cert: '/etc/x.crt', key: '/etc/x.key' } }), [])
    assert.deepEqual(problems({ listen: '127.0.0.1:1883' }), [])
  })

  test('mqtt tls config: listen defaults to 0.0.0.0:8883 with tls and 127.0.0.1:1883 without; client certificates need a CA', () => {
    assert.equal(parseConfig({ ...base, mqtt: { tls: { cert: '/etc/x.crt', key: '/etc/x.key' } } }).mqtt.listen, '0.0.0.0:8883')
    assert.equal(parseConfig(base).mqtt.listen, '127.0.0.1:1883')
    assert.equal(parseConfig({ ...base, mqtt: { tls: { cert: '/etc/x.crt', key: '/etc/x.key' } } }).mqtt.tls?.client_certs, 'off')
    const p = problems({ tls: { cert: '/etc/x.crt', key: '/etc/x.key', client_certs: 'require' } })
    assert.equal(p.length, 1)
    assert.match(p[0]!, /^mqtt\.tls\.ca: client_certs optional or require needs ca/)
  })
})
