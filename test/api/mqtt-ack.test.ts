/**
 * Alarm acknowledgement over MQTT (issue 6, issue 9): a `nurse` client publishes
 * `{"alarmId", "by"}` on bedside/v1/alarms/{bedId}/ack; the ack is audited like the HTTP one and
 * the PUBACK (QoS 1) follows the durable audit event. Viewers cannot; bad payloads are counted.
 */
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, test } from 'node:test'
import Database from 'better-sqlite3'
import mqtt from 'mqtt'
import { pino } from 'pino'
import { startAgent, type RunningAgent } from '../../agent/agent.js'
import { parseConfig } from '../../agent/config.js'
import { TEST_VIEWER, VIEWER_AUTH, metricValue, tempDir, waitFor } from '../support/agent-process.js'
import { readAuditBody } from '../../agent/store/bodies.js'

let agent: RunningAgent
let http: string
let broker: string
let dataDir: string
let monitor: mqtt.MqttClient
let station: mqtt.MqttClient

const connect = (username: string, password: string) => mqtt.connectAsync(broker, { username, password, reconnectPeriod: 0, protocolVersion: 4 })

async function alarms(): Promise<{ alarmId: string; ruleId: string; bedId: string; state: string; ackBy?: string; priority: string }[]> {
  return (await (await fetch(`${http}/api/alarms?state=active`, VIEWER_AUTH)).json()).alarms
}

/** Raises an alarm from the monitor: NIBP systolic 60 (sbp-low, high) or temperature 39.9 °C (temp-high, low); both without delay. */
async function raise(ruleId: 'sbp-low' | 'temp-high'): Promise<string> {
  const obs = ruleId === 'sbp-low' ? { code: 'MDC_PRESS_BLD_NONINV_SYS', value: 60, unit: 'mm[Hg]' } : { code: 'MDC_TEMP_BODY', value: 39.9, unit: 'Cel' }
  await monitor.publishAsync('bedside/v1/devices/ack-mon/obs', JSON.stringify({ ts: Date.now(), obs: [obs] }), { qos: 1 })
  return waitFor(`a ${ruleId} alarm`, async () => (await alarms()).find((a) => a.ruleId === ruleId && a.state !== 'acknowledged')?.alarmId, 5000, 50)
}

function ackAudits(): { actor: string; detail: string }[] {
  const db = new Database(join(dataDir, 'bedside.db'), { readonly: true, fileMustExist: true })
  try {
    return (db.prepare('SELECT body FROM records WHERE kind = 4').all() as { body: Buffer }[]).map((r) => readAuditBody(r.body, 0)).filter((a) => a.action === 'alarm-ack')
  } finally {
    db.close()
  }
}

describe('mqtt ack', () => {
  before(async () => {
    dataDir = join(tempDir('mqtt-ack'), 'data')
    agent = await startAgent(parseConfig({
      hub: { id: 'ack-hub', site: 's', data_dir: dataDir },
      http: { listen: '127.0.0.1:0', tokens: [TEST_VIEWER] },
      mqtt: { listen: '127.0.0.1:0', clients: [{ username: 'station-1', password: 'station-pass-1', role: 'nurse' }, { username: 'screen-1', password: 'screen-pass-1', role: 'viewer' }] },
      beds: [{ id: 'ack-01', devices: [{ id: 'ack-mon', type: 'mqtt', secret: 'ack-mon-secret' }] }, { id: 'ack-02', devices: [] }],
    }), { log: pino({ level: 'silent' }) })
    http = `http://127.0.0.1:${agent.httpPort}`
    broker = `mqtt://127.0.0.1:${agent.mqttPort}`
    monitor = await connect('ack-mon', 'ack-mon-secret')
    station = await connect('station-1', 'station-pass-1')
  })

  after(async () => {
    await station?.endAsync()
    await monitor?.endAsync()
    await agent?.stop()
  })

  test('mqtt ack: a nurse station acknowledges; the PUBACK follows the durable audit event', async () => {
    const alarmId = await raise('sbp-low')
    const seen = new Promise<any>((resolve) => station.on('message', (topic, p) => {
      const a = JSON.parse(p.toString())
      if (topic === 'bedside/v1/alarms/ack-01' && a.state === 'acknowledged') resolve(a)
    }))
    await station.subscribeAsync('bedside/v1/alarms/+', { qos: 1 })
    await station.publishAsync('bedside/v1/alarms/ack-01/ack', JSON.stringify({ alarmId, by: 'ann' }), { qos: 1 })
    const audits = ackAudits()
    assert.equal(audits.length, 1, 'audited by the time of the PUBACK')
    assert.equal(audits[0]!.actor, 'nurse:ann@station-1')
    assert.equal((await alarms()).find((a) => a.alarmId === alarmId)?.state, 'acknowledged')
    assert.equal((await seen).ackBy, 'ann@station-1')
  })

  test('mqtt ack: bad payloads, a wrong bed and an unknown alarm are counted and change nothing', async () => {
    const before = { invalid: await metricValue(http, 'bedside_ingest_rejected_total', 'reason="mqtt-ack-invalid"'), refused: await metricValue(http, 'bedside_ingest_rejected_total', 'reason="mqtt-ack-refused"') }
    const fresh = await raise('temp-high')
    await station.publishAsync('bedside/v1/alarms/ack-01/ack', 'not json', { qos: 1 })
    await station.publishAsync('bedside/v1/alarms/ack-01/ack', JSON.stringify({ by: 'ann' }), { qos: 1 })
    await station.publishAsync('bedside/v1/alarms/ack-02/ack', JSON.stringify({ alarmId: fresh, by: 'ann' }), { qos: 1 })
    await station.publishAsync('bedside/v1/alarms/ack-01/ack', JSON.stringify({ alarmId: 'ack-01:no-such:1', by: 'ann' }), { qos: 1 })
    assert.equal(await metricValue(http, 'bedside_ingest_rejected_total', 'reason="mqtt-ack-invalid"'), before.invalid + 2)
    assert.equal(await metricValue(http, 'bedside_ingest_rejected_total', 'reason="mqtt-ack-refused"'), before.refused + 2)
    assert.equal((await alarms()).find((a) => a.alarmId === fresh)?.state !== 'acknowledged', true)
    assert.ok(station.connected, 'a nurse station stays connected after a refused ack')
    assert.equal(ackAudits().length, 1)
  })

  test('mqtt ack: a viewer client may not acknowledge (disconnected, alarm unchanged)', async () => {
    const fresh = (await alarms()).find((a) => a.ruleId === 'temp-high' && a.state !== 'acknowledged')!.alarmId
    const viewer = await connect('screen-1', 'screen-pass-1')
    const closed = new Promise<void>((r) => viewer.once('close', () => r()))
    viewer.publish('bedside/v1/alarms/ack-01/ack', JSON.stringify({ alarmId: fresh, by: 'eve' }), { qos: 1 })
    await closed
    viewer.end(true)
    assert.notEqual((await alarms()).find((a) => a.alarmId === fresh)?.state, 'acknowledged')
    assert.equal(ackAudits().length, 1)
  })

  test('mqtt broker memory: the packet writer keeps no 65,536-Buffer packet-id cache, and it is the writer aedes uses', () => {
    // The PUBACKs and CONNACKs above went through the writer; with its cache on, the first write fills it.
    const require = createRequire(import.meta.url)
    const numbers = require('mqtt-packet/numbers.js') as { cache: Record<number, Buffer> }
    assert.equal(Object.keys(numbers.cache).length, 0)
    const aedesOwn = createRequire(fileURLToPath(import.meta.resolve('aedes'))).resolve('mqtt-packet')
    assert.equal(aedesOwn, require.resolve('mqtt-packet'), 'one mqtt-packet copy: the setting in agent/serve/mqtt.ts must reach aedes')
  })
})
