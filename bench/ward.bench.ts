/**
 * ward.rss: RSS of the agent process (the built CLI, as deployed) with a 64-bed simulated ward
 * (ECG 250 Hz + numerics per bed over MQTT QoS 1, HR derived from the ECG by the agent), sampled
 * every 5 s. Duration: BENCH_WARD_S seconds (default 120; the goal is stated for 600).
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import YAML from 'yaml'
import { freePort, waitFor } from '../test/support/agent-process.js'
import type { BenchFigure } from './harness.js'

const BEDS = 64

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) / 1024 : Number.NaN
}

export default async function bench(): Promise<BenchFigure[]> {
  const durationS = Number(process.env.BENCH_WARD_S ?? 120)
  const dir = mkdtempSync(join(tmpdir(), 'bench-ward-'))
  const [httpPort, mqttPort] = [await freePort(), await freePort()]
  const beds = Array.from({ length: BEDS }, (_, i) => ({ id: `bed-${i}`, devices: [{ id: `mon-${i}`, type: 'mqtt', secret: `secret-of-mon-${i}` }] }))
  writeFileSync(join(dir, 'config.yaml'), YAML.stringify({ hub: { id: 'bench-ward', site: 's', data_dir: join(dir, 'data') }, http: { listen: `127.0.0.1:${httpPort}` }, mqtt: { listen: `127.0.0.1:${mqttPort}` }, log: { level: 'warn' }, beds }))
  const cli = fileURLToPath(new URL('../dist/agent/cli.js', import.meta.url))
  // BENCH_AGENT_NODE_OPTIONS compares V8 settings side by side (e.g. "--max-semi-space-size=2").
  const nodeOptions = process.env.BENCH_AGENT_NODE_OPTIONS ?? ''
  const agent = spawn(process.execPath, [...nodeOptions.split(' ').filter(Boolean), cli, 'run', '--config', join(dir, 'config.yaml')], { stdio: 'ignore' })
  const samples: number[] = []
  try {
    await waitFor('agent', async () => (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).ok, 30_000)
    const loadScript = fileURLToPath(new URL('./ward-load.ts', import.meta.url))
    const load = spawn(process.execPath, ['--import', 'tsx', loadScript, `mqtt://127.0.0.1:${mqttPort}`, String(BEDS), String(durationS)], { stdio: 'ignore' })
    const done = new Promise((r) => load.once('exit', r))
    const timer = setInterval(() => samples.push(rssMb(agent.pid!)), 5000)
    await done
    clearInterval(timer)
    const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text()
    const chunks = Number(/bedside_waveform_chunks_ingested_total (\d+)/.exec(metrics)?.[1] ?? 0)
    const q = Math.max(1, Math.floor(samples.length / 4))
    const early = samples.slice(q, 2 * q).reduce((a, b) => a + b, 0) / q
    const late = samples.slice(-q).reduce((a, b) => a + b, 0) / q
    return [
      { name: 'ward.rss.final', value: samples[samples.length - 1] ?? Number.NaN, unit: 'MB', note: `${BEDS} beds, ECG 250 Hz + 5 numerics/s each, ${durationS} s, ${chunks} ECG chunks ingested, node ${nodeOptions || '(defaults)'}; goal ≤ 120 MB after 600 s` },
      { name: 'ward.rss.max', value: Math.max(...samples), unit: 'MB' },
      { name: 'ward.rss.growth', value: late - early, unit: 'MB', note: 'mean of the last quarter minus mean of the second quarter of the run (flat ≈ 0)' },
    ]
  } finally {
    agent.kill('SIGTERM')
    await new Promise((r) => agent.once('exit', r))
    rmSync(dir, { recursive: true, force: true })
  }
}
