/**
 * Operator API (issue 9): bearer tokens and roles on every write, 4xx with a JSON body naming the
 * field, audit events for every write, admissions (admit, discharge, transfer), readiness parts
 * and structured logs with component and cause. One agent in-process (from source), real HTTP,
 * a real MQTT monitor to raise alarms, the real SQLite store read back for the audit trail.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import Database from 'better-sqlite3'
import mqtt from 'mqtt'
import { pino } from 'pino'
import { startAgent, type RunningAgent } from '../../agent/agent.js'
import { parseConfig } from '../../agent/config.js'
import { tempDir, waitFor } from '../support/agent-process.js'
import { readAuditBody } from '../../agent/store/bodies.js'

const NURSE = 'api-nurse-token'
const VIEWER = 'api-viewer-token'
const beds = ['api-01', 'api-02', 'api-03']

let agent: RunningAgent
let http: string
let dataDir: string
let monitor: mqtt.MqttClient
const logLines: Record<string, unknown>[] = []

async function call(method: string, path: string, opts: { token?: string; body?: unknown; raw?: string } = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const headers: Record<string, string> = {}
  if (opts.token) headers.authorization = `Bearer ${opts.token}`
  if (opts.body !== undefined || opts.raw !== undefined) headers['content-type'] = 'application/json'
  const r = await fetch(`${http}${path}`, { method, headers, body: opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)) })
  const text = await r.text()
  return { status: r.status, body: text ? JSON.parse(text) : null, headers: r.headers }
}

/** Audit events in the durable store (kind 4), newest last. */
function audits(): { action: string; actor: string; detail: string; bed: string | null }[] {
  const db = new Database(join(dataDir, 'bedside.db'), { readonly: true, fileMustExist: true })
  try {
    return (db.prepare('SELECT bed_id, body FROM records WHERE kind = 4 ORDER BY hub_seq').all() as { bed_id: string | null; body: Buffer }[])
      .map((r) => ({ ...readAuditBody(r.body, 0), bed: r.bed_id }))
  } finally {
    db.close()
  }
}

/** Audit events of writes: reads leave their own (sign-in, patient-view), checked in security.test.ts. */
const READ_AUDITS = new Set(['sign-in', 'token-first-use', 'patient-view'])
function writeAudits(): ReturnType<typeof audits> {
  return audits().filter((a) => !READ_AUDITS.has(a.action))
}

function fieldsOf(body: { fields?: { field: string }[] }): string[] {
  return (body.fields ?? []).map((f) => f.field)
}

async function raiseHighAlarm(): Promise<string> {
  // NIBP systolic ≤ 70 escalates sbp-low to high with no condition delay (agent/rules/defaults.ts).
  await monitor.publishAsync('bedside/v1/devices/api-mon-01/obs', JSON.stringify({ ts: Date.now(), obs: [{ code: 'MDC_PRESS_BLD_NONINV_SYS', value: 62, unit: 'mm[Hg]' }] }), { qos: 1 })
  return waitFor('a high alarm', async () => {
    const { body } = await call('GET', '/api/alarms?state=active', { token: VIEWER })
    return body.alarms.find((a: any) => a.bedId === 'api-01' && a.priority === 'high' && a.state !== 'acknowledged')?.alarmId as string | undefined
  }, 5000, 50)
}

describe('api', () => {
  before(async () => {
    const dir = tempDir('api')
    dataDir = join(dir, 'data')
    const sink = new Writable({ write(chunk, _enc, cb) { for (const l of String(chunk).split('\n')) if (l) logLines.push(JSON.parse(l)); cb() } })
    const cfg = parseConfig({
      hub: { id: 'api-hub', site: 'api-site', data_dir: dataDir },
      http: { listen: '127.0.0.1:0', tokens: [{ token: NURSE, role: 'nurse', name: 'nurse-ann' }, { token: VIEWER, role: 'viewer', name: 'screen-1' }] },
      mqtt: { listen: '127.0.0.1:0' },
      beds: beds.map((id, i) => ({ id, devices: i === 0 ? [{ id: 'api-mon-01', type: 'mqtt', secret: 'api-mon-secret-01' }] : [] })),
    })
    agent = await startAgent(cfg, { log: pino({ level: 'info' }, sink) })
    http = `http://127.0.0.1:${agent.httpPort}`
    monitor = await mqtt.connectAsync(`mqtt://127.0.0.1:${agent.mqttPort}`, { username: 'api-mon-01', password: 'api-mon-secret-01', reconnectPeriod: 0, protocolVersion: 4 })
  })

  after(async () => {
    await monitor?.endAsync()
    await agent?.stop()
  })

  test('api: a write without a token is refused with 401, logged with component and cause', async () => {
    const r = await call('POST', '/api/admissions', { body: { bed_id: 'api-01', mrn: 'MRN-1' } })
    assert.equal(r.status, 401)
    assert.equal(r.headers.get('www-authenticate'), 'Bearer')
    assert.match(r.body.error, /bearer token/)
    const line = logLines.find((l) => l.event === 'auth_refused' && l.cause === 'no-token')
    assert.ok(line, 'a structured log line for the refusal')
    assert.equal(line.component, 'http')
  })

  test('api: an unknown token is 401 and a viewer token is 403 on every write endpoint', async () => {
    for (const [method, path, body] of [['POST', '/api/admissions', { bed_id: 'api-01', mrn: 'M' }], ['POST', '/api/alarms/x/ack', undefined], ['DELETE', '/api/admissions/api-01', undefined]] as const) {
      assert.equal((await call(method, path, { token: 'not-a-known-token', body })).status, 401, `${method} ${path} with a wrong token`)
      const v = await call(method, path, { token: VIEWER, body })
      assert.equal(v.status, 403, `${method} ${path} as viewer`)
      assert.match(v.body.error, /viewer/)
    }
    assert.equal((await call('GET', '/api/beds', { token: VIEWER })).status, 200, 'a viewer reads')
    assert.ok(logLines.some((l) => l.event === 'auth_refused' && l.cause === 'role' && l.role === 'viewer'))
  })

  test('api: bad admission requests get 400 naming the field', async () => {
    const cases: [unknown, string][] = [
      [{ bed_id: 'api-01' }, 'mrn'],
      [{ mrn: 'M-2' }, 'bed_id'],
      [{ bed_id: 'api-01', mrn: 'M-2', birth_date: '12/01/1950' }, 'birth_date'],
      [{ bed_id: 'api-01', mrn: 'M-2', ward: 'x' }, 'ward'],
      [{ bed_id: 'api-01', mrn: 42 }, 'mrn'],
      [{ action: 'transfer', bed_id: 'api-01' }, 'to_bed_id'],
      [{ action: 'teleport', bed_id: 'api-01' }, 'action'],
    ]
    for (const [body, field] of cases) {
      const r = await call('POST', '/api/admissions', { token: NURSE, body })
      assert.equal(r.status, 400, JSON.stringify(body))
      assert.deepEqual(fieldsOf(r.body), [field], JSON.stringify(body))
      assert.match(r.body.error, new RegExp(field))
    }
    const malformed = await call('POST', '/api/admissions', { token: NURSE, raw: '{"bed_id": "api-01", ' })
    assert.equal(malformed.status, 400)
    assert.deepEqual(fieldsOf(malformed.body), ['(body)'])
    const unknownBed = await call('POST', '/api/admissions', { token: NURSE, body: { bed_id: 'no-such-bed', mrn: 'M-3' } })
    assert.equal(unknownBed.status, 404)
    assert.deepEqual(fieldsOf(unknownBed.body), ['bed_id'])
    const badState = await call('GET', '/api/alarms?state=bogus', { token: VIEWER })
    assert.equal(badState.status, 400)
    assert.deepEqual(fieldsOf(badState.body), ['state'])
    assert.equal(writeAudits().length, 0, 'refused writes leave no audit event')
  })

  test('api: admit, transfer and discharge are audited, and the bed listing follows', async () => {
    const admit = await call('POST', '/api/admissions', { token: NURSE, body: { bed_id: 'api-02', mrn: 'MRN-API-77', name: 'Edith Clarke', birth_date: '1943-02-10' } })
    assert.equal(admit.status, 201)
    assert.match(admit.body.admission.pseudonym, /\S+/)
    const move = await call('POST', '/api/admissions', { token: NURSE, body: { action: 'transfer', bed_id: 'api-02', to_bed_id: 'api-03' } })
    assert.equal(move.status, 200)
    assert.equal(move.body.admission.bedId, 'api-03')
    assert.equal(move.body.admission.pseudonym, admit.body.admission.pseudonym, 'the same patient, the same pseudonym')
    const listed = (await call('GET', '/api/beds', { token: VIEWER })).body.beds
    assert.equal(listed.find((b: any) => b.id === 'api-02').patient, null)
    assert.equal(listed.find((b: any) => b.id === 'api-03').patient.label, 'Edith Clarke')
    const occupied = await call('POST', '/api/admissions', { token: NURSE, body: { bed_id: 'api-01', mrn: 'MRN-API-78' } })
    assert.equal(occupied.status, 201)
    const clash = await call('POST', '/api/admissions', { token: NURSE, body: { action: 'transfer', bed_id: 'api-03', to_bed_id: 'api-01' } })
    assert.equal(clash.status, 409)
    assert.deepEqual(fieldsOf(clash.body), ['to_bed_id'])
    assert.equal((await call('POST', '/api/admissions', { token: NURSE, body: { action: 'discharge', bed_id: 'api-03' } })).status, 200)
    const again = await call('POST', '/api/admissions', { token: NURSE, body: { action: 'discharge', bed_id: 'api-03' } })
    assert.equal(again.status, 404)
    assert.deepEqual(fieldsOf(again.body), ['bed_id'])
    const trail = writeAudits()
    assert.deepEqual(trail.map((a) => a.action), ['admission', 'transfer', 'admission', 'discharge'])
    const writes = logLines.filter((l) => l.event === 'http_write' && l.route === '/api/admissions' && l.status === 201)
    assert.ok(writes.length >= 2 && writes.every((l) => l.actor === 'nurse:nurse-ann' && l.component === 'http'), 'each write is logged with its actor')
    assert.ok(trail.every((a) => a.actor === 'nurse:nurse-ann'))
    const text = JSON.stringify(trail)
    assert.ok(!text.includes('MRN-API-77') && !text.includes('Edith'), 'the audit trail names no MRN and no name')
  })

  test('api: acknowledging an alarm needs a nurse, is audited, and a second ack is 409', async () => {
    const alarmId = await raiseHighAlarm()
    const path = `/api/alarms/${encodeURIComponent(alarmId)}/ack`
    assert.equal((await call('POST', path, { token: VIEWER })).status, 403)
    const ok = await call('POST', path, { token: NURSE })
    assert.equal(ok.status, 200)
    assert.equal(ok.body.alarm.state, 'acknowledged')
    assert.equal(ok.body.alarm.ackBy, 'nurse-ann')
    const listed = (await call('GET', '/api/alarms?state=active', { token: VIEWER })).body.alarms.find((a: any) => a.alarmId === alarmId)
    assert.equal(listed?.state, 'acknowledged')
    const twice = await call('POST', path, { token: NURSE })
    assert.equal(twice.status, 409)
    assert.deepEqual(fieldsOf(twice.body), ['id'])
    const unknown = await call('POST', '/api/alarms/no-such-alarm/ack', { token: NURSE })
    assert.equal(unknown.status, 404)
    assert.deepEqual(fieldsOf(unknown.body), ['id'])
    const acks = audits().filter((a) => a.action === 'alarm-ack')
    assert.equal(acks.length, 1)
    assert.equal(acks[0]!.actor, 'nurse:nurse-ann')
    assert.equal(acks[0]!.bed, 'api-01')
    assert.ok(acks[0]!.detail.includes(alarmId))
  })

  test('api: the page and its files are served from the agent with a same-origin content policy', async () => {
    const page = await fetch(`${http}/`)
    assert.equal(page.status, 200)
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/)
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/)
    const html = await page.text()
    for (const src of html.matchAll(/(?:src|href)="(\/[^"]+)"/g)) {
      const r = await fetch(`${http}${src[1]}`)
      assert.equal(r.status, 200, `${src[1]} is served`)
    }
    assert.ok(!/<script>|style="/.test(html), 'no inline script or style (the policy forbids them)')
  })

  test('api: /healthz is live and /readyz names each part', async () => {
    assert.equal((await call('GET', '/healthz')).status, 200)
    const ready = await call('GET', '/readyz')
    assert.equal(ready.status, 200)
    assert.equal(ready.body.ready, true)
    assert.deepEqual(Object.keys(ready.body.parts).sort(), ['broker', 'store'], 'no sync configured, no driver with a link')
    assert.ok(Object.values(ready.body.parts).every((p: any) => p.ok === true))
  })
})
