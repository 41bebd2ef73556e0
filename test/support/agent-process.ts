/**
 * Runs the built agent (`dist/agent/cli.js`) as a real child process for integration tests:
 * writes its YAML config into a temp dir, starts it, waits for /healthz, and stops it with
 * SIGTERM (or SIGKILL for crash tests). `npm test` builds dist/ before running tests.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import YAML from 'yaml'
import { freePort, TEST_VIEWER, VIEWER_AUTH, waitFor } from '../../scripts/testkit/runtime.js'

export { deployedAgentRuntime, freePort, TEST_VIEWER, VIEWER_AUTH, waitFor, type AgentRuntime } from '../../scripts/testkit/runtime.js'

export const CLI = fileURLToPath(new URL('../../dist/agent/cli.js', import.meta.url))

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `bedside-${prefix}-`))
}

export interface ChildHandle {
  readonly proc: ChildProcess
  /** Everything the child wrote so far (stdout + stderr). */
  output(): string
  exited: Promise<number | null>
}

export function spawnCli(args: string[], env: Record<string, string> = {}): ChildHandle {
  const proc = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()))
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)))
  return { proc, output: () => out, exited }
}

export interface AgentHandle extends ChildHandle {
  readonly http: string
  readonly mqtt: string
  readonly dir: string
  readonly configFile: string
  stop(): Promise<void>
  kill(): Promise<void>
}

/** Starts an agent with `config` (hub/http/mqtt sections are filled in when absent); `env` adds to the child's environment. */
export async function startAgentProcess(config: Record<string, unknown>, existing?: { dir: string; httpPort: number; mqttPort: number }, env: Record<string, string> = {}): Promise<AgentHandle> {
  const dir = existing?.dir ?? tempDir('agent')
  const httpPort = existing?.httpPort ?? (await freePort())
  const mqttPort = existing?.mqttPort ?? (await freePort())
  const full = {
    hub: { id: 'test-hub', site: 'test-site', data_dir: join(dir, 'data') },
    ...config,
    http: { listen: `127.0.0.1:${httpPort}`, tokens: [{ token: 'test-nurse-token', role: 'nurse', name: 'nurse-1' }, TEST_VIEWER] },
    mqtt: { ...(config.mqtt as Record<string, unknown> | undefined), listen: `127.0.0.1:${mqttPort}` },
    log: { level: 'warn' },
  }
  const configFile = join(dir, 'config.yaml')
  writeFileSync(configFile, YAML.stringify(full), { mode: 0o600 }) // issue 18: a config readable by others is refused
  const child = spawnCli(['run', '--config', configFile], env)
  const http = `http://127.0.0.1:${httpPort}`
  const died = child.exited.then((code) => {
    throw new Error(`agent exited with ${code} before it was ready:\n${child.output()}`)
  })
  await Promise.race([waitFor('agent /healthz', async () => (await fetch(`${http}/healthz`)).ok, 30_000), died])
  died.catch(() => undefined)
  return {
    ...child,
    http,
    mqtt: `mqtt://127.0.0.1:${mqttPort}`,
    dir,
    configFile,
    async stop() {
      if (child.proc.exitCode === null) child.proc.kill('SIGTERM')
      await child.exited
    },
    async kill() {
      if (child.proc.exitCode === null) child.proc.kill('SIGKILL')
      await child.exited
    },
  }
}

/** Value of one Prometheus series (summed over labels matching `labelFilter`). */
export async function metricValue(http: string, name: string, labelFilter = ''): Promise<number> {
  const text = await (await fetch(`${http}/metrics`, VIEWER_AUTH)).text()
  let sum = 0
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue
    const rest = line.slice(name.length)
    if (rest[0] !== ' ' && rest[0] !== '{') continue
    if (labelFilter && !rest.includes(labelFilter)) continue
    sum += Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return sum
}

/**
 * Node's list of the builtins a child process loaded (`process.moduleLoadList`), and the Intl
 * formatters it made (each pages in ICU data: BENCHMARKS.md, session 11), written by a preloaded
 * module when it exits: put `env` into the child's environment, call `loaded()` or `intl()` after it
 * has exited.
 */
export function recordBuiltins(dir: string): { env: { NODE_OPTIONS: string }; loaded(): string[]; intl(): string[] } {
  const file = join(dir, 'loaded.json')
  const preload = join(dir, 'record-builtins.mjs')
  writeFileSync(preload, `import { writeFileSync } from 'node:fs'
const intl = []
for (const name of ['DateTimeFormat', 'NumberFormat', 'Collator', 'PluralRules', 'RelativeTimeFormat', 'ListFormat', 'Segmenter', 'DisplayNames']) {
  const made = () => intl.push(name + ' ' + (new Error().stack.split('\\n')[3] ?? '').trim())
  Intl[name] = new Proxy(Intl[name], { construct: (t, a) => (made(), Reflect.construct(t, a)), apply: (t, s, a) => (made(), Reflect.apply(t, s, a)) })
}
process.on('exit', () => writeFileSync(${JSON.stringify(file)}, JSON.stringify({ modules: process.moduleLoadList, intl })))
`)
  const read = () => JSON.parse(readFileSync(file, 'utf8')) as { modules: string[]; intl: string[] }
  return { env: { NODE_OPTIONS: `--import=${pathToFileURL(preload).href}` }, loaded: () => read().modules, intl: () => read().intl }
}
