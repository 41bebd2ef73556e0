/**
 * Alarms a nurse can trust, through the running agent (issue 19): one tachycardia is one list
 * entry with the others folded inside it; the history (GET /api/alarms?state=all&since=…) comes
 * from the store with every change of every alarm, folded ones too; a discharge publishes
 * "cleared" for every open alarm of the patient on bedside/v1/alarms/{bed}.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import Database from 'better-sqlite3'
import mqtt from 'mqtt'
import { pino } from 'pino'
import { startAgent, type RunningAgent } from '../../agent/agent.js'
import { parseConfig } from '../../agent/config.js'
import { TEST_VIEWER, tempDir, waitFor } from '../support/agent-process.js'

const NURSE = 'history-nurse-token'
let agent: RunningAgent
let dataDir: string
const logged: Array<{ event?: string; rows?: number }> = []
const http = () => `http://127.0.0.1:${agent.httpPort}`
const broker = () => `mqtt://127.0.0.1:${agent.mqttPort}`
const bearer = (t: string) => ({ authorization: `Bearer ${t}`, 'content-type': 'application/json' })

type Alarm = { alarmId: string; bedId: string; ruleId: string; state: string; priority: string; category: string; foldedInto?: string; folded?: Alarm[]; history?: { state: string; foldedInto?: string }[] }

async function get<T>(path: string, token = TEST_VIEWER.token): Promise<{ status: number; body: T }> {
  const r = await fetch(`${http()}${path}`, { headers: bearer(token) })
  return { status: r.status, body: (await r.json()) as T }
}

/** The tachycardia: HR 185 every 300 ms of device time for 15 s, in one message per reading. */
async function tachycardia(deviceId: string, secret: string): Promise<void> {
  const mon = await mqtt.connectAsync(broker(), { username: deviceId, password: secret, clientId: deviceId, reconnectPeriod: 0, protocolVersion: 4 })
  const t0 = Date.now() - 20_000
  for (let i = 0; i < 50; i++) {
    await mon.publishAsync(`bedside/v1/devices/${deviceId}/obs`, JSON.stringify({ ts: t0 + i * 300, seq: i + 1, obs: [{ code: 'MDC_ECG_HEART_RATE', value: 185, unit: '/min' }] }), { qos: 1 })
  }
  await mon.endAsync()
}

describe('alarm grouping, history and discharge through the agent', () => {
  before(async () => {
    dataDir = join(tempDir('alarm-history'), 'data')
    agent = await startAgent(
      parseConfig({
        hub: { id: 'hist-hub', site: 's', data_dir: dataDir },
        http: { listen: '127.0.0.1:0', tokens: [{ token: NURSE, role: 'nurse', name: 'ann' }, TEST_VIEWER] },
        mqtt: { listen: '127.0.0.1:0', clients: [{ username: 'station-1', password: 'station-pass-1', role: 'nurse' }] },
        beds: [{ id: 'h-01', devices: [{ id: 'h-mon', type: 'mqtt', secret: 'h-mon-secret' }] }],
      }),
      { log: pino({ level: 'error' }, { write: (line: string) => void logged.push(JSON.parse(line) as { event?: string; rows?: number }) }) },
    )
  })
  after(async () => {
    await agent?.stop()
  })

  test('alarms: one entry for one tachycardia, a history from the store, cleared on discharge', async () => {
    const since = Date.now()
    const admit = await fetch(`${http()}/api/admissions`, { method: 'POST', headers: bearer(NURSE), body: JSON.stringify({ bed_id: 'h-01', mrn: 'MRN-H-1' }) })
    assert.equal(admit.status, 201, await admit.text())
    await tachycardia('h-mon', 'h-mon-secret')
    const active = await waitFor('hr-high with the average and NEWS2 folded under it', async () => {
      const { body } = await get<{ alarms: Alarm[] }>('/api/alarms?state=active')
      const mine = body.alarms.filter((a) => a.bedId === 'h-01')
      return mine.some((a) => a.ruleId === 'hr-high') && mine.flatMap((a) => a.folded ?? []).length >= 2 ? mine : undefined
    }, 10_000)
    // One entry: hr-high; the 60 s average and the NEWS2 single 3 are inside it, not beside it.
    assert.deepEqual(active.map((a) => a.ruleId), ['hr-high'])
    assert.deepEqual(active[0]!.folded!.map((a) => a.ruleId).sort(), ['hr-avg-high', 'news2'])
    assert.equal(active[0]!.folded!.find((a) => a.ruleId === 'news2')!.category, 'clinical-escalation')
    const open = [active[0]!, ...active[0]!.folded!].map((a) => a.alarmId).sort()

    // A nurse station sees "cleared" for each open alarm when the patient is discharged.
    const station = await mqtt.connectAsync(broker(), { username: 'station-1', password: 'station-pass-1', clientId: 'station-1', reconnectPeriod: 0, protocolVersion: 4 })
    const seen: Alarm[] = []
    station.on('message', (_t, p) => seen.push(JSON.parse(p.toString()) as Alarm))
    await station.subscribeAsync('bedside/v1/alarms/h-01', { qos: 1 })
    const discharge = await fetch(`${http()}/api/admissions/h-01`, { method: 'DELETE', headers: { authorization: `Bearer ${NURSE}` } })
    assert.equal(discharge.status, 204, await discharge.text())
    await waitFor('cleared for every open alarm', async () => seen.filter((a) => a.state === 'cleared').length >= open.length, 5000)
    await station.endAsync()
    assert.deepEqual(seen.filter((a) => a.state === 'cleared').map((a) => a.alarmId).sort(), open)
    assert.equal((await get<{ alarms: Alarm[] }>('/api/alarms?state=active')).body.alarms.filter((a) => a.bedId === 'h-01').length, 0)

    // The history has each alarm once, with its changes in order, folded ones included.
    const { status, body } = await get<{ alarms: Alarm[]; truncated: boolean }>(`/api/alarms?state=all&since=${since}`)
    assert.equal(status, 200)
    assert.equal(body.truncated, false)
    const hist = body.alarms.filter((a) => a.bedId === 'h-01')
    assert.deepEqual(hist.map((a) => a.alarmId).sort(), open)
    for (const a of hist) {
      assert.equal(a.history![0]!.state, 'raised', `${a.ruleId} starts raised`)
      assert.equal(a.history!.at(-1)!.state, 'cleared', `${a.ruleId} ends cleared`)
      assert.equal(a.state, 'cleared')
    }
    // The history reaches back only as far as asked.
    const later = await get<{ alarms: Alarm[] }>(`/api/alarms?state=all&since=${new Date(Date.now() + 60_000).toISOString()}`)
    assert.deepEqual(later.body.alarms, [])
  })

  test('alarms: the history needs a token and refuses a bad since or limit naming it', async () => {
    assert.equal((await fetch(`${http()}/api/alarms?state=all`)).status, 401)
    const bad = await get<{ error: string }>('/api/alarms?state=all&since=yesterday')
    assert.equal(bad.status, 400)
    assert.match(bad.body.error, /^since/)
    const big = await get<{ error: string }>('/api/alarms?state=all&limit=1000000')
    assert.equal(big.status, 400)
    assert.match(big.body.error, /^limit/)
    assert.equal((await get('/api/alarms?state=everything')).status, 400)
  })

  test('alarms: a stored change that cannot be decoded is left out, counted in the answer and logged', async () => {
    const since = Date.now()
    await tachycardia('h-mon', 'h-mon-secret')
    const before = await waitFor('alarm changes in the history', async () => {
      const { body } = await get<{ alarms: Alarm[]; unreadable: number }>(`/api/alarms?state=all&since=${since}`)
      return body.alarms.some((a) => a.bedId === 'h-01' && a.history!.length > 0) ? body : undefined
    }, 10_000)
    assert.equal(before.unreadable, 0)
    // Damage one stored alarm change behind the agent's back (a bad sector, a hand-edited file).
    const db = new Database(join(dataDir, 'bedside.db'))
    try {
      const row = db.prepare('SELECT hub_seq FROM records WHERE kind = 3 AND hub_time_ms >= ? ORDER BY hub_seq LIMIT 1').get(since) as { hub_seq: number }
      db.prepare('UPDATE records SET body = ? WHERE hub_seq = ?').run(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]), row.hub_seq)
    } finally {
      db.close()
    }
    const { status, body } = await get<{ alarms: Alarm[]; unreadable: number }>(`/api/alarms?state=all&since=${since}`)
    assert.equal(status, 200)
    assert.equal(body.unreadable, 1)
    const line = logged.find((l) => l.event === 'alarm_history_unreadable')
    assert.ok(line, 'the agent logs the damaged row for hospital IT')
    assert.equal(line.rows, 1)
  })
})
