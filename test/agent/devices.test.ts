/**
 * The agent with real drivers: a simulated Polar H10 on the simulated BLE radio (real PMD bytes)
 * and a Datex S/5 emulator on a real pseudo-terminal. Proves the wiring: driver → pipeline →
 * ECG analysis → HR, serial frames → observations, link state → API and technical alarms.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { pino } from 'pino'
import { startAgent, type RunningAgent } from '../../agent/agent.js'
import { parseConfig } from '../../agent/config.js'
import { openPtyLink, type PtyLink } from '../../drivers/serial/index.js'
import { createSimBleWard, type SimBleWard } from '../../drivers/sim/ble/index.js'
import { startDatexEmulator, type DatexEmulator } from '../../drivers/sim/datex-emulator.js'
import { TEST_VIEWER, VIEWER_AUTH, metricValue, tempDir, waitFor } from '../support/agent-process.js'

let agent: RunningAgent
let ward: SimBleWard
let link: PtyLink
let datex: DatexEmulator
let http: string

before(async () => {
  const dir = tempDir('devices')
  link = await openPtyLink(join(dir, 'datex-agent'), join(dir, 'datex-monitor'))
  datex = await startDatexEmulator(link.b, () => ({ hrPerMin: 88, pulsePerMin: 88, spo2Pct: 95, rrPerMin: 16, tempCel: 37.2 }), { periodMs: 500 })
  ward = createSimBleWard([{ bed: 'b1', patch: 'a0:9e:1a:00:00:01', heartRateBpm: 75 }])
  const cfg = parseConfig({
    hub: { id: 'dev-hub', site: 's', data_dir: join(dir, 'data') },
    http: { listen: '127.0.0.1:0', tokens: [TEST_VIEWER] },
    mqtt: { listen: '127.0.0.1:0' },
    ble: { radio: 'sim' },
    beds: [
      { id: 'b1', devices: [{ id: 'patch-1', type: 'polar-pmd', address: 'a0:9e:1a:00:00:01' }] },
      { id: 'b2', devices: [{ id: 'datex-2', type: 'datex', port: link.a, interval_s: 1 }] },
    ],
  })
  agent = await startAgent(cfg, { log: pino({ level: 'silent' }), simRadio: ward.radio })
  http = `http://127.0.0.1:${agent.httpPort}`
})

after(async () => {
  await agent?.stop()
  ward?.stop()
  await datex?.stop()
  await link?.close()
})

type Bed = { id: string; vitals: { code: string; value: number | null; device: string; quality: string[] }[] }
const bedVital = async (bedId: string, code: string) => {
  const beds = ((await (await fetch(`${http}/api/beds`, VIEWER_AUTH)).json()) as { beds: Bed[] }).beds
  return beds.find((b) => b.id === bedId)?.vitals.find((v) => v.code === code)
}

test('agent: a Polar H10 patch streams raw ECG and the agent derives its heart rate', async () => {
  const hr = await waitFor('HR derived from the patch ECG', async () => {
    const v = await bedVital('b1', 'MDC_ECG_HEART_RATE')
    return v && v.value !== null && v.quality.length === 0 ? v : undefined
  }, 20_000, 250)
  assert.equal(hr.device, 'patch-1')
  assert.ok(Math.abs(hr.value! - 75) <= 3, `HR ${hr.value} from a 75 /min synthetic ECG`)
  assert.ok((await metricValue(http, 'bedside_waveform_chunks_ingested_total')) > 0, 'the raw ECG chunks are stored too')
  const battery = await metricValue(http, 'bedside_device_battery_percent', 'device="patch-1"')
  assert.ok(battery > 0 && battery <= 100, `battery of the patch on /metrics: ${battery}`)
})

test('agent: a Datex monitor on a serial port delivers its numerics, and its link is counted', async () => {
  const spo2 = await waitFor('SpO2 from the Datex monitor', () => bedVital('b2', 'MDC_PULS_OXIM_SAT_O2'), 15_000, 250)
  assert.equal(spo2.value, 95)
  const hr = await bedVital('b2', 'MDC_ECG_HEART_RATE')
  assert.equal(hr?.value, 88)
  const metrics = await (await fetch(`${http}/metrics`, VIEWER_AUTH)).text()
  assert.match(metrics, /bedside_link_frames_total\{device="datex-2"\} [1-9]/)
  const status = (await (await fetch(`${http}/api/status`, VIEWER_AUTH)).json()) as { devices: { id: string; link: { state: string } | null }[] }
  assert.equal(status.devices.find((d) => d.id === 'datex-2')?.link?.state, 'connected')
  assert.equal(status.devices.find((d) => d.id === 'patch-1')?.link?.state, 'connected')
})

test('agent: unplugging the monitor raises a technical alarm for its bed', async () => {
  await link.close()
  const alarm = await waitFor('a technical alarm for bed b2', async () => {
    const alarms = ((await (await fetch(`${http}/api/alarms?state=active`, VIEWER_AUTH)).json()) as { alarms: { bedId: string; category: string; ruleId: string }[] }).alarms
    return alarms.find((a) => a.bedId === 'b2' && a.category === 'technical')
  }, 30_000, 250)
  assert.ok(['tech-disconnected', 'tech-no-data'].includes(alarm.ruleId), alarm.ruleId)
})
