/**
 * Exactly once across redelivery (issue 17), through real clients: an MQTT device re-sends a QoS 1
 * message with DUP after a lost PUBACK, also across an agent restart; an HL7 v2 sender re-sends the
 * same MSH-10 after a lost ACK. Each is acknowledged again and stored once.
 */
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import mqtt from 'mqtt'
import { pino } from 'pino'
import { startAgent, type RunningAgent } from '../../agent/agent.js'
import { parseConfig } from '../../agent/config.js'
import { mllpFrame } from '../../drivers/serial/hl7/mllp.js'
import { buildOru } from '../../drivers/sim/hl7-message.js'
import { freePort, metricValue, TEST_VIEWER, tempDir, waitFor } from '../support/agent-process.js'
import { openRecordView } from '../support/records.js'

const TOKEN = 'redelivery-nurse-token'
let agent: RunningAgent
let dataDir: string
let hl7Port: number
let config: ReturnType<typeof parseConfig>

const http = () => `http://127.0.0.1:${agent.httpPort}`
const broker = () => `mqtt://127.0.0.1:${agent.mqttPort}`
const device = (clientId: string) => mqtt.connectAsync(broker(), { username: 'rd-mon', password: 'rd-mon-secret', clientId, reconnectPeriod: 0, protocolVersion: 4 })

/**
 * Records in the store matching a condition, one per hub_seq (a run row counts as its records);
 * the agent keeps writing, WAL lets us read.
 */
function count(where: string, ...args: unknown[]): number {
  const db = openRecordView(join(dataDir, 'bedside.db'), { readonly: true, fileMustExist: true })
  try {
    return (db.prepare(`SELECT COUNT(*) AS n FROM record_view WHERE ${where}`).get(...args) as { n: number }).n
  } finally {
    db.close()
  }
}

async function redelivered(source: string): Promise<number> {
  return metricValue(http(), 'bedside_redelivered_total', `source="${source}"`)
}

async function start(): Promise<void> {
  agent = await startAgent(config, { log: pino({ level: 'silent' }) })
}

describe('redelivery', () => {
  before(async () => {
    dataDir = join(tempDir('redelivery'), 'data')
    hl7Port = await freePort()
    config = parseConfig({
      hub: { id: 'rd-hub', site: 's', data_dir: dataDir },
      http: { listen: '127.0.0.1:0', tokens: [{ token: TOKEN, role: 'nurse' }, TEST_VIEWER] },
      mqtt: { listen: '127.0.0.1:0' },
      beds: [{ id: 'rd-01', devices: [
        { id: 'rd-mon', type: 'mqtt', secret: 'rd-mon-secret' },
        { id: 'rd-hl7', type: 'hl7-tcp', listen: `127.0.0.1:${hl7Port}` },
      ] }],
    })
    await start()
  })
  after(async () => {
    await agent?.stop()
  })

  test('redelivery: a QoS 1 message re-sent with DUP is acknowledged again and stored once', async () => {
    const c = await device('rd-mon')
    const ts = Date.now() - 1000
    const payload = JSON.stringify({ ts, seq: 501, obs: [{ code: 'MDC_PULS_OXIM_SAT_O2', value: 97, unit: '%' }, { code: 'MDC_RESP_RATE', value: 14, unit: '/min' }] })
    await c.publishAsync('bedside/v1/devices/rd-mon/obs', payload, { qos: 1 })
    await c.publishAsync('bedside/v1/devices/rd-mon/obs', payload, { qos: 1, dup: true })
    // The same identity re-serialized (a client library may re-encode): still the same message.
    await c.publishAsync('bedside/v1/devices/rd-mon/obs', JSON.stringify({ seq: 501, ts, obs: [{ code: 'MDC_PULS_OXIM_SAT_O2', value: 97, unit: '%' }, { code: 'MDC_RESP_RATE', value: 14, unit: '/min' }] }), { qos: 1, dup: true })
    await c.endAsync()
    assert.equal(count("device_id = 'rd-mon' AND device_seq = 501"), 2, 'two observations, stored once')
    assert.equal(await redelivered('mqtt'), 2)
  })

  test('redelivery: a re-send after an agent restart is recognised; a new seq is stored', async () => {
    const ts = Date.now() - 900
    const payload = (seq: number) => JSON.stringify({ ts, seq, obs: [{ code: 'MDC_ECG_HEART_RATE', value: 71, unit: '/min' }] })
    let c = await device('rd-mon')
    await c.publishAsync('bedside/v1/devices/rd-mon/obs', payload(600), { qos: 1 })
    await c.endAsync(true)
    await agent.stop()
    await start()
    c = await device('rd-mon')
    await c.publishAsync('bedside/v1/devices/rd-mon/obs', payload(600), { qos: 1, dup: true })
    await c.publishAsync('bedside/v1/devices/rd-mon/obs', payload(601), { qos: 1 })
    await c.endAsync()
    assert.equal(count("device_id = 'rd-mon' AND device_seq = 600"), 1)
    assert.equal(count("device_id = 'rd-mon' AND device_seq = 601"), 1)
    assert.equal(await redelivered('mqtt'), 1, 'counted by the restarted agent')
  })

  test('redelivery: without seq an identical re-send is stored once, two different messages in one ms both', async () => {
    const c = await device('rd-mon')
    const ts = Date.now() - 800
    const spo2 = JSON.stringify({ ts, obs: [{ code: 'MDC_PULS_OXIM_SAT_O2', value: 93, unit: '%' }] })
    const rr = JSON.stringify({ ts, obs: [{ code: 'MDC_RESP_RATE', value: 19, unit: '/min' }] })
    await c.publishAsync('bedside/v1/devices/rd-mon/obs', spo2, { qos: 1 })
    await c.publishAsync('bedside/v1/devices/rd-mon/obs', rr, { qos: 1 })
    await c.publishAsync('bedside/v1/devices/rd-mon/obs', spo2, { qos: 1, dup: true })
    await c.endAsync()
    assert.equal(count("device_id = 'rd-mon' AND device_time_ms = ?", ts), 2)
  })

  test('redelivery: a waveform chunk re-sent with DUP is stored once', async () => {
    const c = await device('rd-mon')
    const t0 = Date.now() - 700
    const payload = JSON.stringify({ code: 'MDC_ECG_ELEC_POTL_II', rate: 250, t0, seq: 900, samples: Array.from({ length: 250 }, (_, i) => Math.round(800 * Math.sin(i / 10))) })
    await c.publishAsync('bedside/v1/devices/rd-mon/wave', payload, { qos: 1 })
    await c.publishAsync('bedside/v1/devices/rd-mon/wave', payload, { qos: 1, dup: true })
    await c.endAsync()
    assert.equal(count("device_id = 'rd-mon' AND kind = 2 AND device_seq = 900"), 1)
  })

  test('redelivery: an HL7 sender re-sending the same MSH-10 after a lost ACK gets two ACKs, the values are stored once', async () => {
    const timeMs = Math.floor(Date.now() / 1000) * 1000 - 5000 // HL7 DTM to the second
    const frame = mllpFrame(buildOru({ hrPerMin: 88, spo2Pct: 95, pulsePerMin: 87, rrPerMin: 17, tempCel: 37.2 }, { controlId: 'RESEND-0001', timeMs }))
    // First attempt: the connection drops before the ACK is read (the sender never sees it).
    const first = await open()
    first.write(frame)
    await waitFor('stored', async () => count("device_id = 'rd-hl7' AND device_time_ms = ?", timeMs) > 0 || undefined, 5000, 20)
    first.destroy()
    // The sender re-sends on a new connection, as interface engines do, and this time reads the ACK.
    const second = await open()
    const acks: string[] = []
    second.on('data', (b: Buffer) => acks.push(b.toString('latin1')))
    second.write(frame)
    const ack = await waitFor('ACK of the re-send', async () => acks.join('').includes('\x1c\r') ? acks.join('') : undefined, 5000, 20)
    second.destroy()
    assert.match(ack, /MSA\|AA\|RESEND-0001/)
    assert.equal(count("device_id = 'rd-hl7' AND device_time_ms = ?", timeMs), 5, 'HR, RR, SpO2, pulse rate, temperature once each')
    assert.equal(await redelivered('driver'), 1)
  })

  test('redelivery: an HL7 sender that restarted its MSH-10 counter is not taken for a re-send (MSH-7 differs)', async () => {
    const t1 = Math.floor(Date.now() / 1000) * 1000 - 3000
    const t2 = t1 + 1000
    const frame = (timeMs: number, hr: number) => mllpFrame(buildOru({ hrPerMin: hr }, { controlId: 'MSG00001', timeMs }))
    for (const [t, hr] of [[t1, 91], [t2, 92]] as const) {
      const s = await open()
      const acks: string[] = []
      s.on('data', (b: Buffer) => acks.push(b.toString('latin1')))
      s.write(frame(t, hr))
      await waitFor('ACK', async () => acks.join('').includes('\x1c\r') || undefined, 5000, 20)
      s.destroy()
    }
    assert.equal(count("device_id = 'rd-hl7' AND device_time_ms IN (?, ?) AND code = 147842", t1, t2), 2, 'both monitor restarts\' first messages stored')
  })
})

function open(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(hl7Port, '127.0.0.1', () => resolve(s))
    s.once('error', reject)
  })
}

describe('device sequence', () => {
  test('device sequence: numbers the hub assigns continue across an agent restart and are unique per device', async () => {
    const dir = join(tempDir('devseq'), 'data')
    const cfg = parseConfig({ hub: { id: 'seq-hub', site: 's', data_dir: dir }, http: { listen: '127.0.0.1:0' }, mqtt: { listen: '127.0.0.1:0' }, beds: [{ id: 'sq-01', devices: [{ id: 'sq-mon', type: 'mqtt', secret: 'sq-mon-secret' }] }] })
    const publish = async (a: RunningAgent, values: number[]) => {
      const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${a.mqttPort}`, { username: 'sq-mon', password: 'sq-mon-secret', clientId: 'sq-mon', reconnectPeriod: 0, protocolVersion: 4 })
      for (const v of values) await c.publishAsync('bedside/v1/devices/sq-mon/obs', JSON.stringify({ ts: Date.now() - 500 + v, obs: [{ code: 'MDC_RESP_RATE', value: v, unit: '/min' }] }), { qos: 1 })
      await c.endAsync()
    }
    let a = await startAgent(cfg, { log: pino({ level: 'silent' }) })
    await publish(a, [11, 12])
    await a.stop()
    a = await startAgent(cfg, { log: pino({ level: 'silent' }) })
    await publish(a, [13])
    await a.stop()
    const db = openRecordView(join(dir, 'bedside.db'), { readonly: true })
    const seqs = (db.prepare("SELECT device_seq FROM record_view WHERE device_id = 'sq-mon' ORDER BY hub_seq").raw().all() as [number][]).map(([s]) => s)
    db.close()
    assert.deepEqual(seqs, [1, 2, 3])
  })
})
