/** Helpers for the packaging tests: run a command and keep its output, find a free TCP port. */
import { execFile, spawnSync, type SpawnSyncOptions } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

export const REPO = fileURLToPath(new URL('../../', import.meta.url))

export interface Ran { readonly status: number | null; readonly stdout: string; readonly stderr: string }

/** Runs a command to completion (no shell); never throws on a non-zero exit. */
export function run(cmd: string, args: readonly string[], opts: SpawnSyncOptions = {}): Ran {
  const r = spawnSync(cmd, args, { cwd: REPO, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 120_000, ...opts })
  if (r.error) throw r.error
  return { status: r.status, stdout: String(r.stdout), stderr: String(r.stderr) }
}

/** Runs a command that must succeed; the error carries its output. */
export function ok(cmd: string, args: readonly string[], opts: SpawnSyncOptions = {}): Ran {
  const r = run(cmd, args, opts)
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}\n${r.stdout}\n${r.stderr}`)
  return r
}

/** Like run(), without blocking the event loop (a child process's pipes keep draining meanwhile). */
export function runAsync(cmd: string, args: readonly string[]): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: REPO, encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) => {
      const status = err ? (typeof err.code === 'number' ? err.code : null) : 0
      resolve({ status, stdout, stderr })
    })
  })
}

export function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).status === 0
}

export { freePort } from '../../scripts/testkit/runtime.js'

/** The example config with every switched-off setting ("#key", "#  - item") switched on. */
export function uncommentExample(text: string): string {
  return text.replace(/^#((?: {2})*[^ #])/gm, '$1')
}

/** The project's pinned Node.js (scripts/node-runtime.sh): its version and verified install. */
export function pinnedNode(): { readonly version: string; readonly dir: string } {
  const m = /^BEDSIDE_NODE_VERSION=(\S+)$/m.exec(readFileSync(`${REPO}scripts/node-runtime.sh`, 'utf8'))
  if (!m) throw new Error('scripts/node-runtime.sh: no BEDSIDE_NODE_VERSION=')
  // Installs it when not cached yet (package.sh has, when the .deb was just built).
  const bin = ok('bash', ['scripts/node-runtime.sh']).stdout.trim()
  return { version: m[1]!, dir: dirname(bin) }
}

/** The agent's Node.js version as it reports it itself (prom-client's nodejs_version_info; /metrics takes a token). */
export async function agentNodeVersion(httpUrl: string, token: string): Promise<string | undefined> {
  const text = await fetch(`${httpUrl}/metrics`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.text())
  return /^bedside_process_nodejs_version_info\{[^}]*version="(v[^"]+)"/m.exec(text)?.[1]
}
