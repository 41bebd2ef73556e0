/**
 * Plausibility end to end (issue 16): a real agent in-process, a real MQTT monitor publishing the
 * issue's examples (SpO2 −5 %, SpO2 1e300 %, HR 1 000 000 /min) for longer than the HR and SpO2
 * alarm delays, then a genuine HR 185. Read back through the operator's views: the SQLite store,
 * /metrics, /api/beds (tile and NEWS2), /api/alarms, the MQTT vitals and alarm topics.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import mqtt from 'mqtt'
import { pino } from 'pino'
import { startAgent, type RunningAgent } from '../../agent/agent.js'
import { parseConfig } from '../../agent/config.js'
import { codeOf } from '../../drivers/codes.js'
import { Quality } from '../../drivers/records.js'
import { tempDir, waitFor } from '../support/agent-process.js'
import { openRecordView } from '../support/records.js'

const BED = 'pl-01'
const DEVICE = 'pl-mon-01'
const ADMIN = 'plausibility-admin-token'
const VIEWER = 'plausibility-viewer-token'
/** Longer than hr-high's and spo2-low's 10 s condition delay (agent/rules/defaults.ts). */
const SECONDS = 13

let agent: RunningAgent
let http: string
let dataDir: string
let monitor: mqtt.MqttClient
let station: mqtt.MqttClient
const logLines: Record<string, unknown>[] = []
const topics: { topic: string; body: any }[] = []
let startMs = 0

async function get(path: string, token = VIEWER): Promise<any> {
  const r = await fetch(`${http}${path}`, { headers: { authorization: `Bearer ${token}` } })
  assert.equal(r.status, 200, path)
  return path === '/metrics' ? r.text() : r.json()
}

async function publishSeconds(fromS: number, obs: (s: number) => unknown[]): Promise<void> {
  for (let s = fromS; s < fromS + SECONDS; s++) {
    await monitor.publishAsync(`bedside/v1/devices/${DEVICE}/obs`, JSON.stringify({ ts: startMs + s * 1000, seq: s, obs: obs(s) }), { qos: 1 })
  }
}

function storedRows(): { code: number; value: number | null; quality: number }[] {
  const db = openRecordView(join(dataDir, 'bedside.db'), { readonly: true, fileMustExist: true })
  try {
    return db.prepare('SELECT code, value, quality FROM record_view WHERE kind = 1 AND bed_id = ? ORDER BY hub_seq').all(BED) as { code: number; value: number | null; quality: number }[]
  } finally {
    db.close()
  }
}

const bedAlarms = async (): Promise<any[]> => (await get('/api/alarms?state=active')).alarms.filter((a: any) => a.bedId === BED)
const tile = async (): Promise<any> => (await get('/api/beds')).beds.find((b: any) => b.id === BED)

describe('plausibility: end to end over MQTT', () => {
  before(async () => {
    dataDir = join(tempDir('plausibility'), 'data')
    const sink = new Writable({ write(chunk, _enc, cb) { for (const l of String(chunk).split('\n')) if (l) logLines.push(JSON.parse(l)); cb() } })
    const cfg = parseConfig({
      hub: { id: 'pl-hub', site: 'pl-site', data_dir: dataDir },
      http: { listen: '127.0.0.1:0', tokens: [{ token: ADMIN, role: 'admin' }, { token: VIEWER, role: 'viewer' }] },
      mqtt: { listen: '127.0.0.1:0', clients: [{ username: 'station-1', password: 'station-secret', role: 'viewer' }] },
      beds: [{ id: BED, devices: [{ id: DEVICE, type: 'mqtt', secret: 'pl-mon-secret-01' }] }],
    })
    agent = await startAgent(cfg, { log: pino({ level: 'info' }, sink) })
    http = `http://127.0.0.1:${agent.httpPort}`
    const url = `mqtt://127.0.0.1:${agent.mqttPort}`
    station = await mqtt.connectAsync(url, { username: 'station-1', password: 'station-secret', reconnectPeriod: 0, protocolVersion: 4 })
    station.on('message', (topic, payload) => void topics.push({ topic, body: JSON.parse(payload.toString()) }))
    await station.subscribeAsync([`bedside/v1/beds/${BED}/vitals`, `bedside/v1/alarms/${BED}`], { qos: 1 })
    monitor = await mqtt.connectAsync(url, { username: DEVICE, password: 'pl-mon-secret-01', reconnectPeriod: 0, protocolVersion: 4 })
    // Device time a little in the past, within the drift bound, so 26 s of readings end before now.
    startMs = Date.now() - 30_000
  })

  after(async () => {
    await monitor?.endAsync()
    await station?.endAsync()
    await agent?.stop()
  })

  test('plausibility: SpO2 −5, SpO2 1e300 and HR 1 000 000 are stored flagged, counted, logged once, and alarm nothing', async () => {
    // Every PUBACK arrives after the group commit: the rows are durable when this resolves.
    await publishSeconds(0, (s) => [
      { code: 'MDC_ECG_HEART_RATE', value: 1_000_000, unit: '/min' },
      { code: 'MDC_PULS_OXIM_SAT_O2', value: s % 2 === 0 ? -5 : 1e300, unit: '%' },
    ])
    const rows = storedRows()
    assert.equal(rows.length, 2 * SECONDS, 'every implausible value is stored, none dropped')
    for (const r of rows) assert.equal(r.quality, Quality.OUT_OF_RANGE)
    const values = (ref: string) => rows.filter((r) => r.code === codeOf(ref)).map((r) => r.value)
    assert.deepEqual(new Set(values('MDC_ECG_HEART_RATE')), new Set([1_000_000]))
    assert.deepEqual(new Set(values('MDC_PULS_OXIM_SAT_O2')), new Set([-5, 1e300]))

    const metrics: string = await get('/metrics', ADMIN)
    assert.match(metrics, new RegExp(`bedside_ingest_out_of_range_total\\{code="MDC_ECG_HEART_RATE"\\} ${SECONDS}\\b`))
    assert.match(metrics, new RegExp(`bedside_ingest_out_of_range_total\\{code="MDC_PULS_OXIM_SAT_O2"\\} ${SECONDS}\\b`))
    const logged = logLines.filter((l) => l.event === 'ingest_out_of_range')
    assert.deepEqual(logged.map((l) => l.code).sort(), ['MDC_ECG_HEART_RATE', 'MDC_PULS_OXIM_SAT_O2'], 'one line per cause')

    await new Promise((r) => setTimeout(r, 600)) // two engine ticks (250 ms) past the last record
    assert.deepEqual(await bedAlarms(), [])
    const bed = await tile()
    for (const ref of ['MDC_ECG_HEART_RATE', 'MDC_PULS_OXIM_SAT_O2']) {
      const v = bed.vitals.find((x: any) => x.code === ref)
      assert.equal(v.value, null, `${ref} has no number on the tile`)
      assert.ok(v.quality.includes('out-of-range'), `${ref} says why`)
    }
    assert.deepEqual(bed.news2?.used ?? [], [], 'NEWS2 scored nothing')
    const vitals = await waitFor('an MQTT vitals message with both codes', async () =>
      topics.filter((m) => m.topic.endsWith('/vitals')).map((m) => m.body).findLast((b) => b.vitals.length === 2), 3000, 50)
    for (const v of vitals.vitals) assert.equal(v.value, null, `MQTT vitals ${v.code}`)
    assert.equal(topics.filter((m) => m.topic.startsWith('bedside/v1/alarms/')).length, 0, 'no alarm published')
  })

  test('plausibility: a genuine HR 185 afterwards still raises hr-high and shows on the tile', async () => {
    await publishSeconds(SECONDS, () => [{ code: 'MDC_ECG_HEART_RATE', value: 185, unit: '/min' }])
    const alarm = await waitFor('hr-high', async () => (await bedAlarms()).find((a) => a.ruleId === 'hr-high'), 5000, 50)
    assert.equal(alarm.value, 185)
    assert.equal(alarm.priority, 'high', 'escalated past 140 (agent/rules/defaults.ts)')
    const hr = (await tile()).vitals.find((x: any) => x.code === 'MDC_ECG_HEART_RATE')
    assert.equal(hr.value, 185)
    assert.deepEqual(hr.quality, [])
    assert.ok(topics.some((m) => m.topic === `bedside/v1/alarms/${BED}` && m.body.ruleId === 'hr-high'), 'published on MQTT')
  })
})
