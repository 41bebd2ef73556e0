/**
 * mqtt.ingest: a real MQTT client process (bench/mqtt-publisher.ts) publishes QoS 1 batches of 100
 * observations over loopback to an in-process agent; the figure counts observations whose PUBACK
 * arrived, and a PUBACK means the group commit is durable (DESIGN.md, Delivery semantics).
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { pino } from 'pino'
import { parseConfig } from '../agent/config.js'
import { startAgent } from '../agent/agent.js'
import type { BenchFigure } from './harness.js'

const run = promisify(execFile)
const DEVICES = 8
const MESSAGES = 250
const OBS = 100
const WINDOW = 64

export default async function bench(): Promise<BenchFigure[]> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-mqtt-'))
  const beds = Array.from({ length: DEVICES }, (_, i) => ({ id: `bed-${i}`, devices: [{ id: `mon-${i}`, type: 'mqtt', secret: `secret-of-mon-${i}` }] }))
  const cfg = parseConfig({ hub: { id: 'bench', site: 's', data_dir: dir }, http: { listen: '127.0.0.1:0' }, mqtt: { listen: '127.0.0.1:0' }, beds })
  const agent = await startAgent(cfg, { log: pino({ level: 'silent' }) })
  try {
    const publisher = fileURLToPath(new URL('./mqtt-publisher.ts', import.meta.url))
    const { stdout } = await run(process.execPath, ['--import', 'tsx', publisher, `mqtt://127.0.0.1:${agent.mqttPort}`, String(DEVICES), String(MESSAGES), String(OBS), String(WINDOW)])
    const ms = Number(stdout.trim())
    const total = DEVICES * MESSAGES * OBS
    return [{ name: 'mqtt.ingest', value: (total / ms) * 1000, unit: 'observations/s', note: `${DEVICES} QoS 1 clients in one process, ${OBS} obs/message, ${WINDOW} in flight each, PUBACK after durable commit; ${total} obs in ${ms} ms; goal ≥ 300,000` }]
  } finally {
    await agent.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}
