/**
 * Times finer than a millisecond, through a running agent and real MQTT devices. The store's time
 * columns are whole milliseconds; a REAL there used to fail the whole group commit, so one device
 * whose "ts" had decimals (or a patch whose beats fall between milliseconds, as at 130 Hz) kept
 * every bed's records of that batch from being stored and acknowledged, on every re-send.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import mqtt from 'mqtt'
import { pino } from 'pino'
import { startAgent, type RunningAgent } from '../../agent/agent.js'
import { parseConfig } from '../../agent/config.js'
import { codeOf } from '../../drivers/codes.js'
import { tempDir, waitFor } from '../support/agent-process.js'
import { openRecordView } from '../support/records.js'

let agent: RunningAgent
let dataDir: string
const T0 = Date.now() - 20_000

function rows(where: string, ...args: unknown[]): { device_id: string; code: number; device_time_ms: number; value: number }[] {
  const db = openRecordView(join(dataDir, 'bedside.db'), { readonly: true, fileMustExist: true })
  try {
    return db.prepare(`SELECT device_id, code, device_time_ms, value FROM record_view WHERE ${where} ORDER BY hub_seq`).all(...args) as never
  } finally {
    db.close()
  }
}

const device = (id: string) => mqtt.connectAsync(`mqtt://127.0.0.1:${agent.mqttPort}`, { username: id, password: `${id}-secret`, clientId: id, reconnectPeriod: 0, protocolVersion: 4 })

describe('sub-millisecond times', () => {
  before(async () => {
    dataDir = join(tempDir('sub-ms'), 'data')
    agent = await startAgent(parseConfig({
      hub: { id: 'subms-hub', site: 's', data_dir: dataDir },
      mqtt: { listen: '127.0.0.1:0' },
      http: { listen: '127.0.0.1:0', tokens: [{ token: 'subms-token-0123456789', role: 'viewer' }] },
      beds: [
        { id: 'sm-01', devices: [{ id: 'sm-mon', type: 'mqtt', secret: 'sm-mon-secret' }] },
        { id: 'sm-02', devices: [{ id: 'sm-ok', type: 'mqtt', secret: 'sm-ok-secret' }] },
        { id: 'sm-03', devices: [{ id: 'sm-ecg', type: 'mqtt', secret: 'sm-ecg-secret' }] },
      ],
    }), { log: pino({ level: 'silent' }) })
  })
  after(async () => {
    await agent?.stop()
  })

  test('an MQTT "ts" with decimals is stored floored, and another bed\'s message beside it is stored too', async () => {
    const [odd, ok] = await Promise.all([device('sm-mon'), device('sm-ok')])
    try {
      const spo2 = codeOf('MDC_PULS_OXIM_SAT_O2')
      // Both in flight at once, so that they likely share a group commit; each publishAsync waits for its PUBACK.
      await Promise.all([
        odd.publishAsync('bedside/v1/devices/sm-mon/obs', JSON.stringify({ ts: T0 + 0.25, seq: 1, obs: [
          { code: 'MDC_PULS_OXIM_SAT_O2', value: 97, unit: '%' },
          { code: 'MDC_PULS_RATE', value: 71, unit: '/min', ts: T0 + 1.999 },
        ] }), { qos: 1 }),
        ok.publishAsync('bedside/v1/devices/sm-ok/obs', JSON.stringify({ ts: T0, seq: 1, obs: [{ code: 'MDC_PULS_OXIM_SAT_O2', value: 95, unit: '%' }] }), { qos: 1 }),
      ])
      const stored = rows("device_id IN ('sm-mon', 'sm-ok') AND kind = 1")
      assert.deepEqual(stored.filter((r) => r.device_id === 'sm-mon').map((r) => r.device_time_ms), [T0, T0 + 1], 'floored to the millisecond')
      assert.deepEqual(stored.filter((r) => r.device_id === 'sm-ok').map((r) => [r.code, r.value]), [[spo2, 95]])
    } finally {
      await Promise.all([odd.endAsync(), ok.endAsync()])
    }
  })

  test('a 130 Hz ECG stream: its beats (RR intervals, between milliseconds) are stored', async () => {
    const ecg = await device('sm-ecg')
    try {
      const rate = 130
      // A sharp R peak every 0.77 s (78 /min, beats between milliseconds at 130 Hz) on a small baseline wander, in µV, for 12 s in chunks of 1 s.
      const uv = (t: number) => Math.round(1200 * Math.exp(-(((t % 0.77) - 0.3) ** 2) / 0.0002) + 80 * Math.sin(2 * Math.PI * 0.3 * t))
      for (let s = 0; s < 12; s++) {
        const samples = Array.from({ length: rate }, (_, k) => uv(s + k / rate))
        await ecg.publishAsync('bedside/v1/devices/sm-ecg/wave', JSON.stringify({ code: 'MDC_ECG_ELEC_POTL_II', rate, t0: T0 + s * 1000, seq: s, samples }), { qos: 1 })
      }
      const rr = codeOf('MDC_ECG_TIME_PD_RR_GL')
      await waitFor('RR intervals stored', async () => rows("device_id = 'sm-ecg' AND code = ?", rr).length >= 5, 10_000)
      for (const r of rows("device_id = 'sm-ecg' AND code = ?", rr)) {
        assert.ok(Number.isInteger(r.device_time_ms), `whole ms: ${r.device_time_ms}`)
        assert.ok(Math.abs(r.value - 770) < 20, `RR ≈ 770 ms: ${r.value}`)
      }
    } finally {
      await ecg.endAsync()
    }
  })
})
