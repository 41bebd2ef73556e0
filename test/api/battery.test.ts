/**
 * Device link and battery on the bed listing the page draws (issue 9): a simulated Polar H10
 * (real GATT bytes on the simulated radio) reporting 12 % battery raises the low-battery
 * technical alarm, and the bed shows it on that device only, not on the bed's other device.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { pino } from 'pino'
import { startAgent, type RunningAgent } from '../../agent/agent.js'
import { parseConfig } from '../../agent/config.js'
import { SimPolarH10, SimRadio } from '../../drivers/sim/ble/index.js'
import { TEST_VIEWER, VIEWER_AUTH, tempDir, waitFor } from '../support/agent-process.js'

const PATCH = 'a0:9e:1a:00:00:07'
let agent: RunningAgent
let patch: SimPolarH10
let http: string

type Device = { id: string; link: { state: string } | null; battery: 'low' | null }

before(async () => {
  const radio = new SimRadio()
  patch = new SimPolarH10({ address: PATCH, heartRateBpm: 70, batteryPct: 12 })
  radio.add(patch.peripheral)
  agent = await startAgent(parseConfig({
    hub: { id: 'batt-hub', site: 's', data_dir: join(tempDir('battery'), 'data') },
    http: { listen: '127.0.0.1:0', tokens: [TEST_VIEWER] },
    mqtt: { listen: '127.0.0.1:0' },
    ble: { radio: 'sim' },
    beds: [{ id: 'bb-1', devices: [{ id: 'patch-7', type: 'polar-pmd', address: PATCH }, { id: 'mon-7', type: 'mqtt', secret: 'secret-of-mon-7' }] }],
  }), { log: pino({ level: 'silent' }), simRadio: radio })
  http = `http://127.0.0.1:${agent.httpPort}`
})

after(async () => {
  await agent?.stop()
  patch?.stop()
})

test('api: a patch with a low battery shows battery low and its link on the bed, the other device does not', async () => {
  const devices = await waitFor('the low battery on the bed listing', async () => {
    const bed = ((await (await fetch(`${http}/api/beds`, VIEWER_AUTH)).json()) as { beds: { id: string; devices: Device[] }[] }).beds[0]!
    return bed.devices.find((d) => d.id === 'patch-7')?.battery === 'low' ? bed.devices : undefined
  }, 20_000, 250)
  assert.equal(devices.find((d) => d.id === 'patch-7')?.link?.state, 'connected')
  assert.equal(devices.find((d) => d.id === 'mon-7')?.battery, null)
  const ready = (await (await fetch(`${http}/readyz`)).json()) as { parts: Record<string, { ok: boolean; detail?: string }> }
  assert.deepEqual(ready.parts['driver:patch-7'], { ok: true, detail: 'connected' })
})
