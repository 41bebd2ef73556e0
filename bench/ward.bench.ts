/**
 * ward.rss: RSS of the agent process (the built CLI) with a 64-bed simulated ward (ECG 250 Hz +
 * numerics per bed over MQTT QoS 1, HR derived from the ECG by the agent), sampled every 5 s.
 * Two agents run side by side under the same load, each with its own load process: one with the
 * memory settings it is deployed with (V8 flags and MALLOC_ARENA_MAX of /usr/bin/bedside-hub), one
 * with Node's and glibc's defaults, or with BENCH_AGENT_NODE_OPTIONS, BENCH_AGENT_MALLOC_ARENA_MAX and
 * BENCH_AGENT_ENV to compare other settings.
 * Duration: BENCH_WARD_S seconds (default 600, the goal's ten minutes). With BENCH_WARD_CLOUD=1 and
 * KAFKA_BROKERS set, both agents also sync to Kafka (topics of their own, created here).
 * BENCH_WARD_CONFIG: JSON of config sections merged into both agents' config (e.g.
 * '{"store":{"redelivery_window":64}}'), to measure what a setting costs.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Kafka, logLevel } from 'kafkajs'
import YAML from 'yaml'
import { benchAgentEnv, deployedAgentRuntime, freePort, TEST_VIEWER, VIEWER_AUTH, waitFor, type AgentRuntime } from '../scripts/testkit/runtime.js'
import type { BenchFigure } from './harness.js'

const BEDS = 64
const SAMPLE_MS = 5000

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) / 1024 : Number.NaN
}

/**
 * Where the agent's memory is at the end of the run: V8's heap and external memory from its
 * /metrics (prom-client's defaults), anonymous and file-backed pages from smaps_rollup.
 */
function anatomy(pid: number, metrics: string): string {
  const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(1)
  const metric = (name: string): number => Number(new RegExp(`^bedside_process_${name} (\\S+)`, 'm').exec(metrics)?.[1] ?? Number.NaN)
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8')
  const kb = (field: string): number => 1024 * Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? Number.NaN)
  const anonymous = kb('Anonymous')
  const spaces = [...metrics.matchAll(/^bedside_process_nodejs_heap_space_size_total_bytes\{space="(\w+)"\} (\S+)/gm)]
    .filter((m) => Number(m[2]) >= 2 ** 20).map((m) => `${m[1]} ${mb(Number(m[2]))}`).join(', ')
  return `V8 heap used ${mb(metric('nodejs_heap_size_used_bytes'))} of ${mb(metric('nodejs_heap_size_total_bytes'))} MB (${spaces}), external ${mb(metric('nodejs_external_memory_bytes'))} MB; anonymous ${mb(anonymous)} MB, file-backed ${mb(kb('Rss') - anonymous)} MB`
}

interface WardRun {
  readonly samples: number[]
  /** Where the memory is at the end (anatomy). */
  readonly anatomy: string
  readonly chunks: number
  /** Records still waiting for Kafka at the end (with BENCH_WARD_CLOUD). */
  readonly outbox: number
}

const withCloud = process.env.BENCH_WARD_CLOUD === '1'

/** `cloud:` of the agent's config, on topics created for this agent, when the bench syncs to Kafka. */
async function cloudConfig(): Promise<{ cloud?: unknown }> {
  if (!withCloud) return {}
  const brokers = process.env.KAFKA_BROKERS?.split(',').filter(Boolean)
  if (!brokers?.length) throw new Error('BENCH_WARD_CLOUD=1 needs KAFKA_BROKERS (scripts/services/services.sh start kafka; eval its env)')
  const id = `bench-ward-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`
  const topics = { raw_vitals: `${id}-raw-vitals`, waveforms: `${id}-waveforms`, alert_events: `${id}-alert-events`, audit_log: `${id}-audit-log`, dead_letter: `${id}-dead-letter` }
  const admin = new Kafka({ clientId: 'bench', brokers, logLevel: logLevel.NOTHING }).admin()
  await admin.connect()
  await admin.createTopics({ waitForLeaders: true, topics: Object.values(topics).map((topic) => ({ topic, numPartitions: 3 })) })
  await admin.disconnect()
  return { cloud: { kafka: { brokers, topics } } }
}

/** One agent started with `runtime` under the ward load for `durationS`; RSS sampled every SAMPLE_MS. */
async function runWard(runtime: AgentRuntime, durationS: number): Promise<WardRun> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-ward-'))
  const [httpPort, mqttPort] = [await freePort(), await freePort()]
  const beds = Array.from({ length: BEDS }, (_, i) => ({ id: `bed-${i}`, devices: [{ id: `mon-${i}`, type: 'mqtt', secret: `secret-of-mon-${i}` }] }))
  const cloud = await cloudConfig()
  const extra = JSON.parse(process.env.BENCH_WARD_CONFIG ?? '{}') as Record<string, Record<string, unknown>>
  const config: Record<string, unknown> = { hub: { id: 'bench-ward', site: 's', data_dir: join(dir, 'data') }, http: { listen: `127.0.0.1:${httpPort}`, tokens: [TEST_VIEWER] }, mqtt: { listen: `127.0.0.1:${mqttPort}` }, log: { level: 'warn' }, beds, ...cloud }
  for (const [section, values] of Object.entries(extra)) config[section] = { ...(config[section] as Record<string, unknown> | undefined), ...values }
  writeFileSync(join(dir, 'config.yaml'), YAML.stringify(config), { mode: 0o600 })
  // BENCH_WARD_CLI: another build's dist/agent/cli.js, to compare (as BENCH_E2E_CLI does)
  const cli = process.env.BENCH_WARD_CLI ?? fileURLToPath(new URL('../dist/agent/cli.js', import.meta.url))
  const { MALLOC_ARENA_MAX: _, ...env } = process.env
  const agent = spawn(process.execPath, [...runtime.nodeFlags, cli, 'run', '--config', join(dir, 'config.yaml')], { env: { ...env, ...runtime.env }, stdio: 'ignore' })
  const samples: number[] = []
  try {
    await waitFor('agent', async () => (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).ok, 30_000)
    const loadScript = fileURLToPath(new URL('./ward-load.ts', import.meta.url))
    const load = spawn(process.execPath, ['--import', 'tsx', loadScript, `mqtt://127.0.0.1:${mqttPort}`, String(BEDS), String(durationS)], { stdio: 'ignore' })
    const done = new Promise((r) => load.once('exit', r))
    const timer = setInterval(() => samples.push(rssMb(agent.pid!)), SAMPLE_MS)
    await done
    clearInterval(timer)
    const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`, VIEWER_AUTH)).text()
    const outbox = Number(/bedside_outbox_depth(?:\{[^}]*\})? (\d+)/.exec(metrics)?.[1] ?? 0)
    return { samples, anatomy: anatomy(agent.pid!, metrics), chunks: Number(/bedside_waveform_chunks_ingested_total (\d+)/.exec(metrics)?.[1] ?? 0), outbox }
  } finally {
    agent.kill('SIGTERM')
    await new Promise((r) => agent.once('exit', r))
    rmSync(dir, { recursive: true, force: true })
  }
}

function describe(runtime: AgentRuntime): string {
  const settings = [...Object.entries(runtime.env).map(([k, v]) => `${k}=${v}`), 'node', ...runtime.nodeFlags]
  return settings.length > 1 ? settings.join(' ') : 'node and glibc defaults'
}

function figures(name: string, runtime: AgentRuntime, run: WardRun, durationS: number): BenchFigure[] {
  const { samples } = run
  const q = Math.max(1, Math.floor(samples.length / 4))
  const early = samples.slice(q, 2 * q).reduce((a, b) => a + b, 0) / q
  const late = samples.slice(-q).reduce((a, b) => a + b, 0) / q
  return [
    { name: `${name}.final`, value: samples[samples.length - 1] ?? Number.NaN, unit: 'MB', note: `${describe(runtime)}; ${BEDS} beds, ECG 250 Hz + 5 numerics/s each, ${durationS} s, ${run.chunks} ECG chunks ingested${withCloud ? `, synced to Kafka (${run.outbox} records waiting at the end)` : ', no cloud configured'}; goal ≤ 120 MB after 600 s` },
    { name: `${name}.max`, value: Math.max(...samples), unit: 'MB', note: `at the end: ${run.anatomy}` },
    { name: `${name}.growth`, value: late - early, unit: 'MB', note: 'mean of the last quarter minus mean of the second quarter of the run (flat ≈ 0)' },
  ]
}

export default async function bench(): Promise<BenchFigure[]> {
  const durationS = Number(process.env.BENCH_WARD_S ?? 600)
  const deployed = deployedAgentRuntime()
  const arenas = process.env.BENCH_AGENT_MALLOC_ARENA_MAX
  // BENCH_AGENT_ENV: more of the variant's environment, space-separated K=V (e.g. glibc's GLIBC_TUNABLES)
  const extraEnv = benchAgentEnv()
  const other: AgentRuntime = { nodeFlags: (process.env.BENCH_AGENT_NODE_OPTIONS ?? '').split(' ').filter(Boolean), env: { ...(arenas ? { MALLOC_ARENA_MAX: arenas } : {}), ...extraEnv } }
  const [a, b] = await Promise.all([runWard(deployed, durationS), runWard(other, durationS)])
  const otherName = other.nodeFlags.length || Object.keys(other.env).length ? 'ward.rss.variant' : 'ward.rss.defaults'
  return [...figures('ward.rss', deployed, a, durationS), ...figures(otherName, other, b, durationS)]
}
