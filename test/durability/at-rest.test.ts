/**
 * Issue 18 end to end, the real agent process: patients admitted with planted MRNs, names and
 * birth dates through the HTTP API, monitors with planted serial numbers publishing over MQTT, a
 * high alarm raised and acknowledged, a transfer and a discharge audited, the data key rotated
 * by housekeeping while it runs. Then a byte search of the data directory (database, WAL, SHM;
 * the key files aside) finds none of the identifiers, and `bedside-hub relink` still resolves a
 * pseudonym to its admission.
 */
import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import mqtt from 'mqtt'
import { spawnCli, startAgentProcess, waitFor, type AgentHandle } from '../support/agent-process.js'
import { admitAll, bedId, connectDevice, planted, wardBeds } from '../support/ward.js'

const BEDS = 3
const NURSE = { 'content-type': 'application/json', authorization: 'Bearer test-nurse-token' }

let agent: AgentHandle
before(async () => {
  // The pseudonym and data keys rotate every 2 s: the run re-seals the admissions several times.
  agent = await startAgentProcess({ beds: wardBeds(BEDS), housekeeping: { key_rotation_cron: '*/2 * * * * *' } })
})
after(async () => {
  await agent?.stop()
})

const post = async (path: string, body?: unknown) => fetch(`${agent.http}${path}`, { method: 'POST', headers: NURSE, body: body === undefined ? undefined : JSON.stringify(body) })

test('at rest: after admissions, alarms, acks, a transfer and data-key rotations, no identifier is in any byte of the store files; relink still works', async () => {
  await admitAll(agent.http, BEDS)
  const dataDir = join(agent.dir, 'data')
  const admitted = (await (await post('/api/admissions', { bed_id: bedId(0), mrn: planted.mrn(0), name: planted.name(0), birth_date: planted.birthDate(0) })).json()) as { admission: { pseudonym: string } }
  const monitors: mqtt.MqttClient[] = []
  for (let i = 0; i < BEDS; i++) monitors.push(await connectDevice(agent.mqtt, i))
  try {
    for (let i = 0; i < BEDS; i++) {
      // A systolic pressure of 62 mm[Hg] raises a high alarm at once (default set).
      await monitors[i]!.publishAsync(`bedside/v1/devices/mon-${i}/obs`, JSON.stringify({ ts: Date.now(), seq: 1, obs: [{ code: 'MDC_PRESS_BLD_NONINV_SYS', value: 62, unit: 'mm[Hg]' }, { code: 'MDC_ECG_HEART_RATE', value: 75, unit: '/min' }] }), { qos: 1 })
    }
    const alarmId = await waitFor('a high alarm on bed 1', async () => {
      const body = (await (await fetch(`${agent.http}/api/alarms?state=active`, { headers: NURSE })).json()) as { alarms: { alarmId: string; bedId: string; priority: string }[] }
      return body.alarms.find((a) => a.bedId === bedId(1) && a.priority === 'high')?.alarmId
    }, 15_000)
    assert.equal((await post(`/api/alarms/${encodeURIComponent(alarmId)}/ack`, {})).status, 200)
  } finally {
    for (const m of monitors) await m.endAsync()
  }
  assert.equal((await post('/api/admissions', { action: 'discharge', bed_id: bedId(1) })).status, 200)
  assert.equal((await post('/api/admissions', { action: 'transfer', bed_id: bedId(2), to_bed_id: bedId(1) })).status, 200)
  const keyIds = (): string => (JSON.parse(readFileSync(join(dataDir, 'data-key.json'), 'utf8')) as { keys: { id: number }[] }).keys.map((k) => k.id).join(',')
  const afterAdmissions = keyIds()
  await waitFor('a data-key rotation after the admissions', async () => keyIds() !== afterAdmissions, 10_000)

  const needles = Array.from({ length: BEDS }, (_, i) => [planted.mrn(i), planted.name(i), planted.birthDate(i), planted.serial(i)]).flat()
  const scan = (): string[] => readdirSync(dataDir).filter((f) => f.startsWith('bedside.db')).flatMap((f) => {
    const bytes = readFileSync(join(dataDir, f))
    return needles.filter((n) => bytes.includes(Buffer.from(n))).map((n) => `${f}: ${n}`)
  })
  assert.deepEqual(scan(), [], 'while the agent runs (database, WAL, SHM)')
  await agent.stop()
  assert.deepEqual(scan(), [], 'after a clean stop')
  const keys = JSON.parse(readFileSync(join(dataDir, 'data-key.json'), 'utf8')) as { keys: { id: number }[] }
  assert.equal(keys.keys.length, 1, 'every rotation dropped the previous key once the rows were re-sealed')

  const r = spawnCli(['relink', admitted.admission.pseudonym, '--config', agent.configFile])
  assert.equal(await r.exited, 0, r.output())
  assert.match(r.output(), new RegExp(`MRN ${planted.mrn(0)}, ${planted.name(0)}, born ${planted.birthDate(0)}`))
})
