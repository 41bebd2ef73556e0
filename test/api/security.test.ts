/**
 * The HTTP side of the security review (issue 18) against a real agent over loopback: no patient
 * data without a token, a foreign Host or a foreign Origin refused, the WebSocket token as a
 * subprotocol, and the audit of who saw whom (first view per token, bed and admission, not per
 * poll). A patient with a planted name is admitted first; every refused body is searched for it.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import Database from 'better-sqlite3'
import { pino } from 'pino'
import WebSocket from 'ws'
import { startAgent, type RunningAgent } from '../../agent/agent.js'
import { ConfigError, parseConfig } from '../../agent/config.js'
import { freePort, tempDir, waitFor } from '../support/agent-process.js'
import { readAuditBody } from '../../agent/store/bodies.js'

const NURSE = 'sec-nurse-token'
const VIEWER = 'sec-viewer-token'
const AUDITOR = 'sec-second-viewer-token'
const PLANTED = 'Zebulon Plantedname'
const BED = 'sec-01'

let agent: RunningAgent
let base: string
let dataDir: string
const logLines: string[] = []

interface Answer { status: number; body: string; headers: Record<string, string | string[] | undefined> }

/** A raw HTTP request (fetch may not set Host); `headers` replace the defaults. */
function raw(path: string, headers: Record<string, string> = {}, method = 'GET', body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: agent.httpPort, path, method, headers: { host: `127.0.0.1:${agent.httpPort}`, ...headers } }, (res) => {
      let text = ''
      res.on('data', (d: Buffer) => (text += d.toString()))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

function audits(): { action: string; actor: string; detail: string; bed: string | null; admission: number | null }[] {
  const db = new Database(join(dataDir, 'bedside.db'), { readonly: true, fileMustExist: true })
  try {
    return (db.prepare('SELECT bed_id, admission_id, body FROM records WHERE kind = 4 ORDER BY hub_seq').all() as { bed_id: string | null; admission_id: number | null; body: Buffer }[])
      .map((r) => ({ ...readAuditBody(r.body, 0), bed: r.bed_id, admission: r.admission_id }))
  } finally {
    db.close()
  }
}

/** Opens /ws with `protocols` and `headers`; resolves with the socket and its first message, or with the refusal. */
function openWs(protocols: string[], headers: Record<string, string>): Promise<{ ws: WebSocket; first: any } | { refused: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${agent.httpPort}/ws`, protocols, { headers })
    ws.once('message', (d) => resolve({ ws, first: JSON.parse(String(d)) }))
    ws.once('unexpected-response', (req, res) => {
      let body = ''
      res.on('data', (d: Buffer) => (body += d.toString()))
      res.on('end', () => {
        req.destroy()
        resolve({ refused: res.statusCode ?? 0, body })
      })
    })
    ws.once('error', reject)
  })
}

const wsToken = (token: string) => `bearer.${Buffer.from(token).toString('base64url')}`
const origin = () => ({ origin: `http://127.0.0.1:${agent.httpPort}` })

describe('security', () => {
  before(async () => {
    const dir = tempDir('sec')
    dataDir = join(dir, 'data')
    const sink = new Writable({ write(chunk, _enc, cb) { logLines.push(String(chunk)); cb() } })
    const cfg = parseConfig({
      hub: { id: 'sec-hub', site: 'sec-site', data_dir: dataDir },
      http: {
        listen: '127.0.0.1:0',
        allowed_hosts: ['ward-gw.example'],
        tokens: [{ token: NURSE, role: 'nurse', name: 'nurse-sec' }, { token: VIEWER, role: 'viewer', name: 'screen-sec' }, { token: AUDITOR, role: 'viewer', name: 'screen-two' }],
      },
      mqtt: { listen: '127.0.0.1:0' },
      beds: [{ id: BED, devices: [{ id: 'sec-mon', type: 'mqtt', secret: 'sec-mon-secret' }] }, { id: 'sec-02', devices: [] }],
    })
    agent = await startAgent(cfg, { log: pino({ level: 'info' }, sink) })
    base = `http://127.0.0.1:${agent.httpPort}`
    const admit = await raw('/api/admissions', { ...bearer(NURSE), 'content-type': 'application/json' }, 'POST', JSON.stringify({ bed_id: BED, mrn: 'MRN-SEC-1', name: PLANTED }))
    assert.equal(admit.status, 201, admit.body)
  })

  after(async () => {
    await agent?.stop()
  })

  test('security: reads without a token or with a bad one are 401 and carry no patient; a viewer reads', async () => {
    for (const path of ['/api/beds', '/api/alarms?state=active', '/api/status', '/metrics', '/ws', '/api/no-such-route']) {
      for (const headers of [{}, bearer('not-a-ward-token'), { authorization: 'Basic c2VjOnNlYw==' }]) {
        const r = await raw(path, headers)
        assert.equal(r.status, 401, `${path} with ${JSON.stringify(headers)}`)
        assert.equal(r.headers['www-authenticate'], 'Bearer')
        assert.ok(!r.body.includes('Zebulon') && !r.body.includes('MRN-SEC'), `${path}: ${r.body}`)
      }
    }
    const beds = await raw('/api/beds', bearer(VIEWER))
    assert.equal(beds.status, 200)
    assert.ok(beds.body.includes(PLANTED), 'a viewer sees the patient')
    assert.equal((await raw('/api/status', bearer(VIEWER))).status, 200)
    assert.equal((await raw('/api/alarms?state=active', bearer(VIEWER))).status, 200)
    const metrics = await raw('/metrics', bearer(VIEWER))
    assert.equal(metrics.status, 200)
    assert.match(metrics.body, /bedside_observations_ingested_total/)
    assert.ok(logLines.every((l) => !l.includes('Zebulon')), 'no patient name in the log')
    const refused = (await raw('/metrics', bearer(VIEWER))).body
    assert.match(refused, /bedside_http_refused_total\{reason="no-token"\} [1-9]/)
    assert.match(refused, /bedside_http_refused_total\{reason="unknown-token"\} [1-9]/)
  })

  test('security: /healthz and /readyz stay open and carry no patient data', async () => {
    for (const path of ['/healthz', '/readyz']) {
      const r = await raw(path)
      assert.equal(r.status, 200, path)
      assert.ok(!r.body.includes('Zebulon') && !r.body.includes('MRN-SEC') && !r.body.includes(BED), `${path}: ${r.body}`)
    }
    assert.equal((await raw('/')).status, 200, 'the page files are open (they carry no patient data)')
  })

  test('security: a foreign Host gets 421 with no patient data; allowed names and /healthz answer', async () => {
    for (const host of ['evil.example', `evil.example:${agent.httpPort}`, 'ward-gw.example.evil.example']) {
      const r = await raw('/api/beds', { host, ...bearer(VIEWER) })
      assert.equal(r.status, 421, host)
      assert.ok(!r.body.includes('Zebulon'), r.body)
      assert.equal((await raw('/', { host })).status, 421, `the page is not served to ${host} either`)
    }
    for (const host of ['ward-gw.example', `WARD-GW.example:${agent.httpPort}`, `localhost:${agent.httpPort}`, `[::1]:${agent.httpPort}`]) {
      assert.equal((await raw('/api/beds', { host, ...bearer(VIEWER) })).status, 200, host)
    }
    // Load balancers probe by address or by their own name; "ok" tells a rebinding page nothing.
    assert.equal((await raw('/healthz', { host: 'lb-probe.internal' })).status, 200)
    assert.ok(logLines.some((l) => l.includes('"event":"http_host_refused"')))
  })

  test('security: /ws without a token is refused before any data; with the subprotocol it opens and never echoes the token', async () => {
    const none = await openWs([], origin())
    assert.ok('refused' in none && none.refused === 401, JSON.stringify(none))
    assert.ok(!none.body.includes('Zebulon'))
    const bad = await openWs(['bedside.v1', wsToken('not-a-ward-token')], origin())
    assert.ok('refused' in bad && bad.refused === 401)
    assert.ok(!bad.body.includes('Zebulon'))
    const ok = await openWs(['bedside.v1', wsToken(VIEWER)], origin())
    assert.ok('ws' in ok, JSON.stringify(ok))
    try {
      assert.equal(ok.ws.protocol, 'bedside.v1', 'the fixed protocol name is chosen, never the bearer one')
      assert.equal(ok.first.type, 'snapshot')
      assert.ok(JSON.stringify(ok.first).includes(PLANTED), 'a signed-in screen sees the patient')
    } finally {
      ok.ws.close()
    }
    // Non-browser clients may send the header instead.
    const header = await openWs([], { ...origin(), ...bearer(VIEWER) })
    assert.ok('ws' in header)
    header.ws.close()
  })

  test('security: /ws from a page of a foreign Origin is refused 403 even with a valid token', async () => {
    for (const o of ['http://evil.example', `http://evil.example:${agent.httpPort}`, 'null']) {
      const r = await openWs(['bedside.v1', wsToken(VIEWER)], { origin: o })
      assert.ok('refused' in r && r.refused === 403, `${o}: ${JSON.stringify(r)}`)
      assert.ok(!r.body.includes('Zebulon'))
    }
    const allowed = await openWs(['bedside.v1', wsToken(VIEWER)], { origin: 'https://ward-gw.example' })
    assert.ok('ws' in allowed)
    allowed.ws.close()
  })

  test('security: the first view of a patient per token and admission is audited, not every poll', async () => {
    const views = (actor: string) => audits().filter((a) => a.action === 'patient-view' && a.actor === actor)
    const before = views('viewer:screen-two').length
    assert.equal(before, 0)
    for (let i = 0; i < 3; i++) assert.equal((await raw('/api/beds', bearer(AUDITOR))).status, 200)
    await waitFor('the view audited', async () => views('viewer:screen-two').length === 1, 2000, 50)
    await new Promise((r) => setTimeout(r, 100))
    const [view] = views('viewer:screen-two')
    assert.equal(view!.bed, BED, 'only the admitted bed is a patient view')
    assert.ok(view!.admission !== null)
    assert.match(view!.detail, /admission \d+ in bed sec-01 shown to viewer:screen-two \(GET \/api\/beds\)/)
    assert.ok(!JSON.stringify(audits()).includes('Zebulon') && !JSON.stringify(audits()).includes('MRN-SEC'), 'the audit names admissions, not patients')
    assert.equal(audits().filter((a) => a.action === 'token-first-use' && a.actor === 'viewer:screen-two').length, 1, 'the token\'s first request is its sign-in')
    // The live feed is a view too, but this one was audited already.
    const ws = await openWs(['bedside.v1', wsToken(AUDITOR)], origin())
    assert.ok('ws' in ws)
    ws.ws.close()
    // A new admission in the bed is a new patient: seen again, audited again.
    const readmit = await raw('/api/admissions', { ...bearer(NURSE), 'content-type': 'application/json' }, 'POST', JSON.stringify({ bed_id: BED, mrn: 'MRN-SEC-2', name: 'Another Patient' }))
    assert.equal(readmit.status, 201)
    await raw('/api/beds', bearer(AUDITOR))
    await raw('/api/alarms?state=active', bearer(AUDITOR))
    await waitFor('the new admission audited', async () => views('viewer:screen-two').length === 2, 2000, 50)
    const admissions = new Set(views('viewer:screen-two').map((v) => v.admission))
    assert.equal(admissions.size, 2)
  })

  test('security: the page sign-in (POST /api/session) is audited and tells the role; a bad token is 401', async () => {
    const r = await raw('/api/session', bearer(VIEWER), 'POST')
    assert.equal(r.status, 200)
    assert.deepEqual(JSON.parse(r.body), { role: 'viewer', name: 'screen-sec' })
    assert.equal((await raw('/api/session', bearer('not-a-ward-token'), 'POST')).status, 401)
    await waitFor('the sign-in audited', async () => audits().some((a) => a.action === 'sign-in' && a.actor === 'viewer:screen-sec'), 2000, 50)
  })

  test('security: bedside-hub status sends the config\'s least privileged token, or --token; without one it says what to do', async () => {
    // Asynchronously: the agent answering it runs in this process.
    const cli = (args: string[]) => new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
      const env: NodeJS.ProcessEnv = { ...process.env }
      delete env.BEDSIDE_HUB_TOKEN
      execFile(process.execPath, ['--import', 'tsx', 'agent/cli.ts', 'status', ...args], { env }, (err, stdout, stderr) => resolve({ status: err ? Number(err.code) : 0, stdout, stderr }))
    })
    const file = join(dataDir, '..', 'status-config.yaml')
    writeFileSync(file, `hub: { id: sec-hub, site: sec-site, data_dir: ${dataDir} }\nhttp: { listen: "127.0.0.1:${agent.httpPort}", tokens: [{ token: "${NURSE}", role: nurse }, { token: "${VIEWER}", role: viewer }] }\n`, { mode: 0o600 })
    const viaConfig = await cli(['--config', file])
    assert.equal(viaConfig.status, 0, viaConfig.stderr)
    assert.match(viaConfig.stdout, /^hub sec-hub/)
    const refused = await cli(['--url', base])
    assert.equal(refused.status, 1)
    assert.match(refused.stderr, /refused the request without a token \(HTTP 401\).*--token/)
    const viaFlag = await cli(['--url', base, '--token', VIEWER, '--json'])
    assert.equal(viaFlag.status, 0, viaFlag.stderr)
    assert.equal(JSON.parse(viaFlag.stdout).hub, 'sec-hub')
  })

  test('security: /api/status says whether HTTP is encrypted', async () => {
    const s = JSON.parse((await raw('/api/status', bearer(VIEWER))).body)
    assert.deepEqual(s.http, { tls: false, insecure: false })
    assert.ok(base.startsWith('http://127.0.0.1'))
  })
})

describe('security insecure', () => {
  test('security insecure: plain HTTP beyond loopback with insecure: true is logged at start and flagged in /api/status', async () => {
    const lines: string[] = []
    const dir = tempDir('sec-insecure')
    const a = await startAgent(parseConfig({
      hub: { id: 'sec-insecure', site: 's', data_dir: join(dir, 'data') },
      http: { listen: '0.0.0.0:0', insecure: true, tokens: [{ token: VIEWER, role: 'viewer' }] },
      mqtt: { listen: '127.0.0.1:0' },
    }), { log: pino(new Writable({ write(c, _e, cb) { lines.push(String(c)); cb() } })) })
    try {
      assert.ok(lines.some((l) => l.includes('"event":"http_insecure"') && l.includes('INSECURE')))
      const r = await fetch(`http://127.0.0.1:${a.httpPort}/api/status`, { headers: bearer(VIEWER) })
      assert.deepEqual((await r.json()).http, { tls: false, insecure: true })
    } finally {
      await a.stop()
    }
  })
})

describe('security metrics_listen', () => {
  test('security metrics_listen: /metrics moves to its own address, with the same token rule and nothing of the ward', async () => {
    const dir = tempDir('sec-metrics')
    const metricsPort = await freePort()
    const a = await startAgent(parseConfig({
      hub: { id: 'sec-metrics', site: 's', data_dir: join(dir, 'data') },
      http: { listen: '127.0.0.1:0', metrics_listen: `127.0.0.1:${metricsPort}`, tokens: [{ token: VIEWER, role: 'viewer' }] },
      mqtt: { listen: '127.0.0.1:0' },
    }), { log: pino({ level: 'silent' }) })
    try {
      const m = `http://127.0.0.1:${metricsPort}`
      assert.equal((await fetch(`${m}/metrics`)).status, 401)
      const ok = await fetch(`${m}/metrics`, { headers: bearer(VIEWER) })
      assert.equal(ok.status, 200)
      assert.match(await ok.text(), /bedside_outbox_depth/)
      assert.equal((await fetch(`${m}/healthz`)).status, 200)
      assert.equal((await fetch(`${m}/api/beds`, { headers: bearer(VIEWER) })).status, 404, 'no ward data on the metrics address')
      assert.equal((await fetch(`http://127.0.0.1:${a.httpPort}/metrics`, { headers: bearer(VIEWER) })).status, 404, 'not on the main port any more')
    } finally {
      await a.stop()
    }
    assert.throws(() => parseConfig({ hub: { id: 'c', site: 's', data_dir: '/tmp/x' }, http: { metrics_listen: '10.0.0.5:9100' } }), /http\.metrics_listen: .*not a loopback address/)
  })
})

describe('security config', () => {
  const cfg = (http: Record<string, unknown>) => ({ hub: { id: 'c', site: 's', data_dir: '/tmp/x' }, http })

  test('security config: plain HTTP on a non-loopback address is refused, naming http.listen and the fix', () => {
    for (const listen of ['0.0.0.0:8080', '10.1.2.3:8080', 'ward-gw:8080']) {
      assert.throws(() => parseConfig(cfg({ listen })), (err: unknown) => {
        assert.ok(err instanceof ConfigError)
        assert.equal(err.code, 'BEDSIDE_ERR_CONFIG')
        assert.match(err.message, /http\.listen: .*not a loopback address.*http\.tls.*http\.insecure: true/)
        return true
      }, listen)
    }
  })

  test('security config: loopback, tls or an explicit insecure: true are accepted', () => {
    for (const listen of ['127.0.0.1:8080', '127.0.1.1:8080', 'localhost:8080']) assert.equal(parseConfig(cfg({ listen })).http.insecure, false)
    assert.ok(parseConfig(cfg({ listen: '0.0.0.0:8443', tls: { cert: '/etc/x.crt', key: '/etc/x.key' } })).http.tls)
    assert.equal(parseConfig(cfg({ listen: '0.0.0.0:8080', insecure: true })).http.insecure, true)
    assert.throws(() => parseConfig(cfg({ allowed_hosts: ['http://ward-gw/'] })), /http\.allowed_hosts\[0\]/)
  })
})
