/**
 * HTTPS and wss:// (issue 18, agent/serve/tls.ts) with certificates made by openssl at test time
 * (nothing committed): a client trusting the hospital CA gets through; another CA, an expired
 * certificate, an unknown self-signed one, TLS 1.1 and plaintext are refused; replaced certificate
 * files are served without a restart, and a broken replacement keeps the previous certificate.
 */
import assert from 'node:assert/strict'
import { request as httpRequest } from 'node:http'
import { createServer, request as httpsRequest } from 'node:https'
import { join } from 'node:path'
import { readFileSync, writeFileSync } from 'node:fs'
import { Writable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import type { TLSSocket } from 'node:tls'
import { pino } from 'pino'
import WebSocket from 'ws'
import { startAgent, type RunningAgent } from '../../agent/agent.js'
import { parseConfig } from '../../agent/config.js'
import { createTlsOptionsReloader, TlsError } from '../../agent/serve/tls.js'
import { tempDir, waitFor } from '../support/agent-process.js'
import { makeCa, makeLeaf, makeSelfSigned } from '../support/certs.js'

const TOKEN = 'tls-viewer-token'

// ---------- a client that trusts exactly `ca` ----------

interface Got { status: number; body: string; subject: string; protocol: string | null }

/** One HTTPS request on a fresh connection (no keep-alive, no session reuse: each call is a handshake). */
function get(port: number, ca: string, path = '/healthz', opts: { token?: string; maxVersion?: 'TLSv1.1' } = {}): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({
      host: '127.0.0.1', port, path, agent: false, ca: readFileSync(ca), headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {},
      ...(opts.maxVersion ? { maxVersion: opts.maxVersion, minVersion: 'TLSv1' } : {}),
    }, (res) => {
      const socket = res.socket as TLSSocket
      const subject = socket.getPeerCertificate().subject?.CN ?? ''
      const protocol = socket.getProtocol()
      let body = ''
      res.on('data', (d: Buffer) => (body += d.toString()))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, subject: String(subject), protocol }))
    })
    req.on('error', reject)
    req.setTimeout(5000, () => req.destroy(new Error('timeout')))
    req.end()
  })
}

async function refusedWith(p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? (err as Error).message
  }
  assert.fail('the connection was not refused')
}

describe('tls', () => {
  let dir: string
  let agent: RunningAgent
  let port: number
  let served: { cert: string; key: string }
  const logs: string[] = []

  before(async () => {
    dir = tempDir('tls')
    makeCa(dir, 'hospital-ca')
    makeCa(dir, 'other-ca')
    served = makeLeaf(dir, 'ward-gw', 'hospital-ca')
    const sink = new Writable({ write(c, _e, cb) { logs.push(String(c)); cb() } })
    agent = await startAgent(parseConfig({
      hub: { id: 'tls-hub', site: 'tls-site', data_dir: join(dir, 'data') },
      http: { listen: '127.0.0.1:0', tokens: [{ token: TOKEN, role: 'viewer', name: 'tls-screen' }], tls: served },
      mqtt: { listen: '127.0.0.1:0' },
      beds: [{ id: 'tls-01', devices: [] }],
    }), { log: pino({ level: 'info' }, sink) })
    port = agent.httpPort
  })

  after(async () => {
    await agent?.stop()
  })

  test('tls: a client trusting the hospital CA gets through with TLS 1.2 or newer; reads still need the token', async () => {
    const ok = await get(port, join(dir, 'hospital-ca.crt'))
    assert.equal(ok.status, 200)
    assert.equal(ok.subject, 'ward-gw')
    assert.match(ok.protocol ?? '', /^TLSv1\.[23]$/)
    assert.equal((await get(port, join(dir, 'hospital-ca.crt'), '/api/beds')).status, 401)
    const status = await get(port, join(dir, 'hospital-ca.crt'), '/api/status', { token: TOKEN })
    assert.equal(status.status, 200)
    assert.deepEqual(JSON.parse(status.body).http, { tls: true, insecure: false })
  })

  test('tls: the live feed runs over wss:// with the token', async () => {
    const ws = new WebSocket(`wss://127.0.0.1:${port}/ws`, ['bedside.v1', `bearer.${Buffer.from(TOKEN).toString('base64url')}`], { ca: readFileSync(join(dir, 'hospital-ca.crt')), origin: `https://127.0.0.1:${port}` })
    const first = await new Promise<any>((resolve, reject) => {
      ws.once('message', (d) => resolve(JSON.parse(String(d))))
      ws.once('error', reject)
    })
    ws.close()
    assert.equal(first.type, 'snapshot')
  })

  test('tls: a client trusting another CA refuses the certificate', async () => {
    const code = await refusedWith(get(port, join(dir, 'other-ca.crt')))
    assert.match(code, /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT|SELF_SIGNED_CERT_IN_CHAIN/)
  })

  test('tls: a plaintext HTTP client on the TLS port gets no HTTP answer', async () => {
    const plain = new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/api/beds', agent: false, headers: { authorization: `Bearer ${TOKEN}` } }, (res) => resolve(res.statusCode ?? 0))
      req.on('error', reject)
      req.setTimeout(5000, () => req.destroy(new Error('timeout')))
      req.end()
    })
    const code = await refusedWith(plain)
    assert.match(code, /ECONNRESET|HPE_|socket hang up|Parse Error/i)
  })

  test('tls: TLS 1.1 is refused', async () => {
    const code = await refusedWith(get(port, join(dir, 'hospital-ca.crt'), '/healthz', { maxVersion: 'TLSv1.1' }))
    assert.match(code, /ERR_SSL|EPROTO|unsupported protocol|no protocols available|TLSV1_ALERT/i)
  })

  test('tls: replaced certificate files are served without a restart; a broken replacement keeps the previous one', async () => {
    const next = makeLeaf(dir, 'ward-gw-renewed', 'hospital-ca')
    // A renewal script writes the new files over the old paths.
    writeFileSync(served.key, readFileSync(next.key))
    writeFileSync(served.cert, readFileSync(next.cert))
    await waitFor('the renewed certificate served', async () => (await get(port, join(dir, 'hospital-ca.crt'))).subject === 'ward-gw-renewed', 12_000, 250)
    assert.ok(logs.some((l) => l.includes('"event":"tls_reloaded"')))
    writeFileSync(served.cert, '-----BEGIN CERTIFICATE-----\nhalf-written\n')
    await waitFor('the failed reload logged', async () => logs.some((l) => l.includes('"event":"tls_reload_failed"')), 12_000, 250)
    const still = await get(port, join(dir, 'hospital-ca.crt'))
    assert.equal(still.status, 200)
    assert.equal(still.subject, 'ward-gw-renewed', 'the previous certificate is still served')
  })
})

describe('tls reloader', () => {
  let dir: string
  const log = pino({ level: 'silent' })

  before(() => {
    dir = tempDir('tls-unit')
    makeCa(dir, 'hospital-ca')
  })

  /** An HTTPS server on loopback with the reloader's options; closed by the caller. */
  async function serve(files: { cert: string; key: string }, sink = log) {
    const tls = createTlsOptionsReloader(files, sink, { pollMs: 100 })
    const server = createServer(tls.options, (_req, res) => res.end('ok'))
    tls.attach(server)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const addr = server.address()
    return { port: typeof addr === 'object' && addr ? addr.port : 0, close: () => { tls.close(); server.close() } }
  }

  test('tls reloader: an expired certificate is refused by clients and logged as expired', async () => {
    const lines: string[] = []
    const s = await serve(makeLeaf(dir, 'expired', 'hospital-ca', -1), pino(new Writable({ write(c, _e, cb) { lines.push(String(c)); cb() } })))
    try {
      assert.equal(await refusedWith(get(s.port, join(dir, 'hospital-ca.crt'))), 'CERT_HAS_EXPIRED')
      assert.ok(lines.some((l) => l.includes('certificate expired')), lines.join('\n'))
    } finally {
      s.close()
    }
  })

  test('tls reloader: a self-signed certificate the client does not know is refused', async () => {
    const s = await serve(makeSelfSigned(dir, 'rogue'))
    try {
      assert.equal(await refusedWith(get(s.port, join(dir, 'hospital-ca.crt'))), 'DEPTH_ZERO_SELF_SIGNED_CERT')
    } finally {
      s.close()
    }
  })

  test('tls reloader: a key that does not belong to the certificate is refused at start with BEDSIDE_ERR_TLS', () => {
    const a = makeLeaf(dir, 'a', 'hospital-ca')
    const b = makeLeaf(dir, 'b', 'hospital-ca')
    assert.throws(() => createTlsOptionsReloader({ cert: a.cert, key: b.key }, log), (err: unknown) => err instanceof TlsError && err.code === 'BEDSIDE_ERR_TLS' && /does not load/.test(err.message))
    assert.throws(() => createTlsOptionsReloader({ cert: join(dir, 'missing.crt'), key: a.key }, log), /cannot read the TLS certificate/)
  })
})
