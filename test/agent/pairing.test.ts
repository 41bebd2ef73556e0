/**
 * BLE pairing end to end: `bedside-hub pair` against the store of a running agent whose simulated
 * radio carries an unpaired Polar H10. Unpaired devices are never connected; a pairing takes effect
 * while the agent runs, is audited, and a removal disconnects the device.
 */
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { pino } from 'pino'
import YAML from 'yaml'
import { startAgent, type RunningAgent } from '../../agent/agent.js'
import { loadConfigFile } from '../../agent/config.js'
import { openDatabase } from '../../agent/store/db.js'
import { createSimBleWard, type SimBleWard } from '../../drivers/sim/ble/index.js'
import { TEST_VIEWER, VIEWER_AUTH, freePort, spawnCli, tempDir, waitFor } from '../support/agent-process.js'
import { readAuditBody } from '../../agent/store/bodies.js'

const PATCH = 'a0:9e:1a:00:00:77'
let dir: string
let configFile: string
let agent: RunningAgent
let ward: SimBleWard
let http: string

async function cli(...args: string[]): Promise<{ code: number | null; out: string }> {
  const c = spawnCli(args)
  const code = await c.exited
  return { code, out: c.output() }
}

before(async () => {
  dir = tempDir('pairing')
  configFile = join(dir, 'config.yaml')
  writeFileSync(configFile, YAML.stringify({
    hub: { id: 'pair-hub', site: 's', data_dir: join(dir, 'data') },
    http: { listen: `127.0.0.1:${await freePort()}`, tokens: [TEST_VIEWER] }, mqtt: { listen: '127.0.0.1:0' }, ble: { radio: 'sim' }, log: { level: 'warn' },
    beds: [{ id: 'b1', devices: [] }, { id: 'b2', devices: [] }],
  }), { mode: 0o600 })
  ward = createSimBleWard([{ bed: 'b1', patch: PATCH, heartRateBpm: 66 }])
  agent = await startAgent(loadConfigFile(configFile), { log: pino({ level: 'silent' }), simRadio: ward.radio })
  http = `http://127.0.0.1:${agent.httpPort}`
})

after(async () => {
  await agent?.stop()
  ward?.stop()
})

const peripheral = () => ward.devices.get(PATCH)!.peripheral as unknown as { connectCount: number; state: string }

test('pair: scan lists nearby devices with address, name, RSSI and type', async () => {
  const { code, out } = await cli('pair', 'scan', '--seconds', '1', '--radio', 'sim', '--config', configFile)
  assert.equal(code, 0, out)
  assert.match(out, /a0:9e:1a:00:00:01\t[^\t]+\t-\d+ dBm\tpolar-pmd\t/)
  assert.match(out, /c0:ff:ee:00:00:02\t[^\t]+\t-\d+ dBm\tble-plx\t/)
})

test('pair: bad requests exit 2 naming what is wrong', async () => {
  const badBed = await cli('pair', 'add', PATCH, '--bed', 'nope', '--config', configFile)
  assert.equal(badBed.code, 2)
  assert.match(badBed.out, /--bed: unknown bed "nope"/)
  const badAddr = await cli('pair', 'add', 'zz:9e', '--bed', 'b1', '--config', configFile)
  assert.equal(badAddr.code, 2)
  assert.match(badAddr.out, /not a BLE address/)
})

test('pair: an unpaired patch is never connected; once paired it streams to its bed, audited', async () => {
  await new Promise((r) => setTimeout(r, 1500))
  assert.equal(peripheral().connectCount, 0, 'not on the allowlist: never connected')
  const added = await cli('pair', 'add', PATCH, '--bed', 'b1', '--id', 'patch-77', '--by', 'it-admin', '--config', configFile)
  assert.equal(added.code, 0, added.out)
  const hr = await waitFor('HR of the paired patch on bed b1', async () => {
    const beds = ((await (await fetch(`${http}/api/beds`, VIEWER_AUTH)).json()) as { beds: { id: string; vitals: { code: string; value: number | null; device: string }[] }[] }).beds
    return beds.find((b) => b.id === 'b1')?.vitals.find((v) => v.code === 'MDC_ECG_HEART_RATE' && v.device === 'patch-77' && v.value !== null)
  }, 25_000, 250)
  assert.ok(Math.abs(hr.value! - 66) <= 3, `HR ${hr.value}`)
  const listed = await cli('devices', '--json', '--config', configFile)
  const devices = (JSON.parse(listed.out) as { devices: { id: string; source: string; link: string }[] }).devices
  assert.deepEqual(devices.find((d) => d.id === 'patch-77'), { id: 'patch-77', bed: 'b1', type: 'polar-pmd', address: PATCH, source: 'paired', link: 'connected' })
  const db = openDatabase(join(dir, 'data'))
  const audit = db.prepare("SELECT body FROM records WHERE kind = 4").all() as { body: Buffer }[]
  db.close()
  assert.ok(audit.map((r) => readAuditBody(r.body, 0)).some((a) => a.action === 'ble-paired' && a.actor === 'it-admin'), 'the pairing is audited with who made it')
})

test('pair: removing a pairing disconnects the device', async () => {
  const removed = await cli('pair', 'remove', PATCH, '--config', configFile)
  assert.equal(removed.code, 0, removed.out)
  await waitFor('patch disconnected', async () => peripheral().state === 'disconnected', 15_000, 250)
  const status = (await (await fetch(`${http}/api/status`, VIEWER_AUTH)).json()) as { devices: { id: string }[] }
  assert.equal(status.devices.some((d) => d.id === 'patch-77'), false)
})
