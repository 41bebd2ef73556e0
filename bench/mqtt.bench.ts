/**
 * mqtt.ingest: a real MQTT client process (bench/mqtt-publisher.ts) publishes QoS 1 batches of 100
 * observations over loopback to an in-process agent; the figure counts observations whose PUBACK
 * arrived, and a PUBACK means the group commit is durable (DESIGN.md, Delivery semantics).
 * mqtt.raw-aedes, in the same run with the same publisher: a bare aedes broker whose
 * authorizePublish only parses the JSON and acknowledges, the limit of the broker and the parse.
 * mqtt.decode-obs.{100,1}: the `/obs` decoder alone on the bench publisher's messages, the byte
 * scanner (drivers/mqtt/obs-scan.ts, the default path) against the general path (JSON.parse) it
 * short-cuts, alternated, best of 3 (issue 23).
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { Aedes } from 'aedes'
import { pino } from 'pino'
import { parseConfig } from '../agent/config.js'
import { startAgent } from '../agent/agent.js'
import { decodeObsGeneral, decodeObsPayload } from '../drivers/mqtt/payload.js'
import type { Observation } from '../drivers/records.js'
import { opsPerSecond, type BenchFigure } from './harness.js'

const run = promisify(execFile)
const DEVICES = 8
// 1M observations: long enough that JIT warm-up is a small part of the figure (200k gave 10–20 %
// less, run to run, than the steady state).
const MESSAGES = 1250
const OBS = 100
const WINDOW = 64
const TOTAL = DEVICES * MESSAGES * OBS

/** Milliseconds for the publisher process to have every PUBACK from the broker at `port`. */
async function publish(port: number): Promise<number> {
  const publisher = fileURLToPath(new URL('./mqtt-publisher.ts', import.meta.url))
  const { stdout } = await run(process.execPath, ['--import', 'tsx', publisher, `mqtt://127.0.0.1:${port}`, String(DEVICES), String(MESSAGES), String(OBS), String(WINDOW)])
  return Number(stdout.trim().split(' ')[0])
}

async function agentMs(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-mqtt-'))
  const beds = Array.from({ length: DEVICES }, (_, i) => ({ id: `bed-${i}`, devices: [{ id: `mon-${i}`, type: 'mqtt', secret: `secret-of-mon-${i}` }] }))
  const cfg = parseConfig({ hub: { id: 'bench', site: 's', data_dir: dir }, http: { listen: '127.0.0.1:0' }, mqtt: { listen: '127.0.0.1:0' }, beds })
  const agent = await startAgent(cfg, { log: pino({ level: 'silent' }) })
  try {
    return await publish(agent.mqttPort)
  } finally {
    await agent.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

async function bareAedesMs(): Promise<number> {
  let parsed = 0
  const broker = await Aedes.createBroker({
    authorizePublish: (_client, packet, cb) => {
      parsed += (JSON.parse(packet.payload.toString()) as { obs: unknown[] }).obs.length
      cb(null)
    },
  })
  const server = createServer(broker.handle)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  try {
    const ms = await publish((server.address() as AddressInfo).port)
    if (parsed !== TOTAL) throw new Error(`bare aedes parsed ${parsed} observations of ${TOTAL}`)
    return ms
  } finally {
    await new Promise<void>((r) => broker.close(() => r()))
    await new Promise<void>((r) => server.close(() => r()))
  }
}

/** Observations per second decoded by the scanner path and by the general path, best of 3 alternated. */
function decodeRates(obsPerMessage: number): { scan: number; general: number } {
  const items = Array.from({ length: obsPerMessage }, (_, k) => ({ code: k % 2 ? 'MDC_PULS_OXIM_SAT_O2' : 'MDC_ECG_HEART_RATE', value: k % 2 ? 97 : 76.5, unit: k % 2 ? '%' : '/min' }))
  const payload = Buffer.from(JSON.stringify({ ts: 1_796_000_000_000, seq: 12_345, obs: items }))
  const ctx = { deviceId: 'bench-mon', hubTimeMs: 1_796_000_000_100, nextSeq: 1 }
  const out: Observation[] = []
  const viaScan = () => { out.length = 0; decodeObsPayload(payload, ctx, out) }
  const viaGeneral = () => { out.length = 0; decodeObsGeneral(payload, ctx, out) }
  let scan = 0
  let general = 0
  for (let round = 0; round < 3; round++) {
    scan = Math.max(scan, opsPerSecond(viaScan, obsPerMessage, 500))
    general = Math.max(general, opsPerSecond(viaGeneral, obsPerMessage, 500))
  }
  return { scan, general }
}

export default async function bench(): Promise<BenchFigure[]> {
  const decode: BenchFigure[] = []
  for (const n of [100, 1]) {
    const r = decodeRates(n)
    decode.push({ name: `mqtt.decode-obs.${n}`, value: r.scan, unit: 'observations/s', note: `${n} obs/message, the byte scanner; the general path (JSON.parse) ${Math.round(r.general).toLocaleString('en-US')}/s, scanner/general = ${(r.scan / r.general).toFixed(2)}; allocation per observation: bench/decode-alloc.ts` })
  }
  const raw = (TOTAL / (await bareAedesMs())) * 1000
  const ms = await agentMs()
  const rate = (TOTAL / ms) * 1000
  return [
    { name: 'mqtt.ingest', value: rate, unit: 'observations/s', note: `${DEVICES} QoS 1 clients in one process, ${OBS} obs/message, ${WINDOW} in flight each, PUBACK after durable commit; ${TOTAL} obs in ${ms} ms; goal ≥ 300,000` },
    { name: 'mqtt.raw-aedes', value: raw, unit: 'observations/s', note: `same publisher, a bare aedes broker that only parses the JSON; ingest/raw = ${(rate / raw).toFixed(2)}` },
    ...decode,
  ]
}
