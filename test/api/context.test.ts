/**
 * NEWS2 context from the bedside (DESIGN.md, HTTP and MQTT contracts; issue 19's first part): a
 * nurse sets consciousness (ACVPU), supplemental oxygen and the SpO2 scale for a bed, by
 * `POST /api/beds/{bed}/context` or from a nurse station on `bedside/v1/beds/{bed}/context`; the
 * engine scores them at once (RCP NEWS2 2017 Chart 1), `GET /api/beds` shows each with its time, and
 * every change is audited with who set it.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import Database from 'better-sqlite3'
import mqtt from 'mqtt'
import { pino } from 'pino'
import { startAgent, type RunningAgent } from '../../agent/agent.js'
import { parseConfig } from '../../agent/config.js'
import { readAuditBody } from '../../agent/store/bodies.js'
import { TEST_VIEWER, tempDir, waitFor } from '../support/agent-process.js'

const NURSE = 'context-nurse-token'
let agent: RunningAgent
let dataDir: string
let config: ReturnType<typeof parseConfig>
const http = () => `http://127.0.0.1:${agent.httpPort}`
const broker = () => `mqtt://127.0.0.1:${agent.mqttPort}`
const bearer = (t: string) => ({ authorization: `Bearer ${t}`, 'content-type': 'application/json' })

async function setContext(bed: string, body: unknown, token = NURSE): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`${http()}/api/beds/${bed}/context`, { method: 'POST', headers: bearer(token), body: JSON.stringify(body) })
  return { status: r.status, body: (await r.json()) as Record<string, unknown> }
}

type News2 = { total: number; parts: { param: string; value: unknown; points: number }[] }
async function bed(id: string): Promise<{ context: Record<string, { value: unknown; atMs: number; by: string }>; news2: News2 | null }> {
  const j = (await (await fetch(`${http()}/api/beds`, { headers: bearer(TEST_VIEWER.token) })).json()) as { beds: { id: string; context: never; news2: News2 | null }[] }
  return j.beds.find((b) => b.id === id)!
}
const points = (n: News2 | null, param: string) => n?.parts.find((p) => p.param === param)?.points

describe('news2 context', () => {
  before(async () => {
    dataDir = join(tempDir('context'), 'data')
    config = parseConfig({
      hub: { id: 'ctx-hub', site: 's', data_dir: dataDir },
      http: { listen: '127.0.0.1:0', tokens: [{ token: NURSE, role: 'nurse', name: 'ann' }, TEST_VIEWER] },
      mqtt: { listen: '127.0.0.1:0', clients: [{ username: 'station-1', password: 'station-pass-1', role: 'nurse' }, { username: 'screen-1', password: 'screen-pass-1', role: 'viewer' }] },
      beds: [{ id: 'c-01', devices: [{ id: 'c-mon', type: 'mqtt', secret: 'c-mon-secret' }] }, { id: 'c-02', devices: [] }],
    })
    agent = await startAgent(config, { log: pino({ level: 'silent' }) })
  })
  after(async () => {
    await agent?.stop()
  })

  test('news2 context: scale 2 on air scores SpO2 88 as 0 where scale 1 scores 3; consciousness and oxygen count', async () => {
    const mon = await mqtt.connectAsync(broker(), { username: 'c-mon', password: 'c-mon-secret', clientId: 'c-mon', reconnectPeriod: 0, protocolVersion: 4 })
    await mon.publishAsync('bedside/v1/devices/c-mon/obs', JSON.stringify({ ts: Date.now() - 500, seq: 1, obs: [{ code: 'MDC_PULS_OXIM_SAT_O2', value: 88, unit: '%' }] }), { qos: 1 })
    await mon.endAsync()
    assert.equal(points((await bed('c-01')).news2, 'spo2'), 3, 'scale 1: SpO2 ≤ 91 scores 3')
    const r = await setContext('c-01', { spo2_scale: 2, on_oxygen: false })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    let b = await bed('c-01')
    assert.equal(points(b.news2, 'spo2'), 0, 'scale 2 on air: SpO2 88–92 scores 0 (RCP Chart 1)')
    assert.equal(points(b.news2, 'air'), 0)
    assert.deepEqual([b.context.spo2_scale!.value, b.context.spo2_scale!.by], [2, 'nurse:ann'])
    assert.ok(Math.abs(b.context.spo2_scale!.atMs - Date.now()) < 10_000, 'with the time it was set')
    await setContext('c-01', { consciousness: 'V', on_oxygen: true })
    b = await bed('c-01')
    assert.equal(points(b.news2, 'consciousness'), 3, 'new confusion or V/P/U scores 3')
    assert.equal(points(b.news2, 'air'), 2, 'supplemental oxygen scores 2')
    assert.equal(points(b.news2, 'spo2'), 0, 'scale 2 on oxygen: 88–92 still 0')
  })

  test('news2 context: refused with the field named, unknown bed 404, a viewer may not set it; every change audited', async () => {
    const bad = await setContext('c-02', { consciousness: 'X' })
    assert.equal(bad.status, 400)
    assert.match(JSON.stringify(bad.body), /consciousness/)
    assert.equal((await setContext('c-02', {})).status, 400)
    assert.match(JSON.stringify((await setContext('c-02', { spo2_scale: 3 })).body), /spo2_scale/)
    assert.match(JSON.stringify((await setContext('c-02', { oxygen: true })).body), /oxygen/)
    assert.equal((await setContext('no-such-bed', { on_oxygen: true })).status, 404)
    assert.equal((await setContext('c-02', { on_oxygen: true }, TEST_VIEWER.token)).status, 403)
    const db = new Database(join(dataDir, 'bedside.db'), { readonly: true })
    const audits = (db.prepare('SELECT body FROM records WHERE kind = 4').all() as { body: Buffer }[]).map((r) => readAuditBody(r.body, 0)).filter((a) => a.action === 'news2-context')
    db.close()
    assert.equal(audits.length, 2, 'the two accepted changes of the first test')
    assert.ok(audits.every((a) => a.actor === 'nurse:ann'))
    assert.match(audits[1]!.detail, /consciousness V, on oxygen yes/)
  })

  test('news2 context: a nurse station sets it over MQTT; a viewer station cannot', async () => {
    const station = await mqtt.connectAsync(broker(), { username: 'station-1', password: 'station-pass-1', reconnectPeriod: 0, protocolVersion: 4 })
    await station.publishAsync('bedside/v1/beds/c-02/context', JSON.stringify({ consciousness: 'P' }), { qos: 1 })
    await station.endAsync()
    const b = await bed('c-02')
    assert.deepEqual([b.context.consciousness?.value, b.context.consciousness?.by], ['P', 'nurse:station-1'])
    const screen = await mqtt.connectAsync(broker(), { username: 'screen-1', password: 'screen-pass-1', reconnectPeriod: 0, protocolVersion: 4 })
    const closed = new Promise<void>((resolve) => screen.once('close', () => resolve()))
    void screen.publishAsync('bedside/v1/beds/c-02/context', JSON.stringify({ consciousness: 'A' }), { qos: 1 }).catch(() => undefined)
    await closed
    screen.end(true)
    await waitFor('unchanged', async () => (await bed('c-02')).context.consciousness?.value === 'P' || undefined, 2000, 50)
  })
  test('news2 context: it survives an agent restart for the same patient; a new patient starts on scale 1', async () => {
    const admit = (bedId: string, mrn: string) => fetch(`${http()}/api/admissions`, { method: 'POST', headers: bearer(NURSE), body: JSON.stringify({ bed_id: bedId, mrn }) })
    assert.equal((await admit('c-02', 'MRN-CTX-1')).status, 201)
    assert.equal((await setContext('c-02', { spo2_scale: 2 })).status, 200)
    await agent.stop()
    agent = await startAgent(config, { log: pino({ level: 'silent' }) })
    const b = await bed('c-02')
    assert.equal(b.context.spo2_scale?.value, 2, 'scale 2 kept across the restart')
    assert.equal((b.news2 as { spo2Scale?: number } | null)?.spo2Scale, 2, 'and scored with it')
    assert.equal((await admit('c-02', 'MRN-CTX-2')).status, 201)
    assert.equal((await bed('c-02')).context.spo2_scale, undefined, 'the next patient starts without it')
    await agent.stop()
    agent = await startAgent(config, { log: pino({ level: 'silent' }) })
    assert.equal((await bed('c-02')).context.spo2_scale, undefined, 'also after a restart')
  })

  test('news2 context: a transfer carries the patient\'s context to the new bed with its times and authors', async () => {
    // c-02 holds MRN-CTX-2 (previous test); c-01 is empty.
    assert.equal((await setContext('c-02', { spo2_scale: 2, consciousness: 'C' })).status, 200)
    const before = (await bed('c-02')).context
    const r = await fetch(`${http()}/api/admissions`, { method: 'POST', headers: bearer(NURSE), body: JSON.stringify({ action: 'transfer', bed_id: 'c-02', to_bed_id: 'c-01' }) })
    assert.equal(r.status, 200, await r.text())
    const moved = await bed('c-01')
    assert.deepEqual(moved.context.spo2_scale, before.spo2_scale, 'scale 2 moved, same time and author')
    assert.deepEqual(moved.context.consciousness, before.consciousness)
    assert.equal((moved.news2 as { spo2Scale?: number } | null)?.spo2Scale, 2, 'and the new bed scores with it')
    assert.deepEqual((await bed('c-02')).context, {}, 'the old bed starts afresh')
  })
})
