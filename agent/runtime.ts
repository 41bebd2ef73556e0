/**
 * The runtime guard of the `bedside-hub` command: the project runs on Node.js 24 LTS only (its
 * native modules are built for Node 24's ABI, package.json engines). Started by another Node (a
 * machine's Node 20 in front on PATH, a script that runs `node dist/agent/cli.js`), the command
 * runs itself again under the Node 24 that `scripts/node-runtime.sh` or the .deb installed, instead
 * of failing in better-sqlite3 with an ABI error; without one, it says how to get it.
 *
 * The re-run child is the agent; this process only forwards signals and the exit code. If this
 * process dies without a word (SIGKILL), the child ends itself the same way at once (the
 * lifeline pipe closes), so a crash of the command is a crash of the agent, as a supervisor expects.
 * Written for any Node from 18 on: it runs before anything else is loaded.
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { Socket } from 'node:net'
import { homedir } from 'node:os'
import { join } from 'node:path'

export const SUPPORTED_NODE_MAJOR = 24
const PINNED_NODE = '24.22.3' // scripts/node-runtime.sh
const REEXEC_ENV = 'BEDSIDE_HUB_REEXEC'

/** Node 24 binaries this machine may have: the operator's choice, the development cache, the .deb's. */
function candidates(): string[] {
  const cache = process.env.BEDSIDE_HUB_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'bedside-hub')
  return [process.env.BEDSIDE_HUB_NODE, join(cache, `node-${PINNED_NODE}`, 'bin', 'node'), '/usr/lib/bedside-hub/node/bin/node'].filter((p): p is string => !!p)
}

/**
 * True when this process may go on. Otherwise it has re-run the command under Node 24 (and exits
 * with the child's code) or printed why it cannot, and the caller must do nothing more.
 */
export function onSupportedRuntime(argv: readonly string[]): boolean {
  if (process.env[REEXEC_ENV] === '1') {
    delete process.env[REEXEC_ENV] // its own children (emulators, stty) are not re-runs
    // The re-run child: end with the parent (see above). fd 3 is a pipe only the parent holds open:
    // its end means the parent is gone. Unref'd, so that it never keeps a short command alive.
    const lifeline = new Socket({ fd: 3, readable: true, writable: false })
    lifeline.on('close', () => process.kill(process.pid, 'SIGKILL'))
    lifeline.on('error', () => undefined)
    lifeline.resume() // read, or its end is never seen
    lifeline.unref()
    return true
  }
  if (Number(process.versions.node.split('.')[0]) === SUPPORTED_NODE_MAJOR) return true
  const node = candidates().find((p) => existsSync(p))
  if (!node) {
    process.stderr.write(`bedside-hub: needs Node.js ${SUPPORTED_NODE_MAJOR} LTS (this is ${process.version}); run "source scripts/node-runtime.sh" in the checkout, or install the .deb, which carries its own\n`)
    process.exitCode = 2
    return false
  }
  const child = spawn(node, [...process.execArgv, process.argv[1]!, ...argv], { stdio: ['inherit', 'inherit', 'inherit', 'pipe'], env: { ...process.env, [REEXEC_ENV]: '1' } })
  const forwarded = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGUSR2'] as const
  for (const sig of forwarded) process.on(sig, () => child.kill(sig))
  child.on('exit', (code, signal) => {
    if (!signal) process.exit(code ?? 1)
    // Died of a signal (a crash in a native module, a kill): end the same way, so a supervisor sees
    // a failure, not exit 0; our forwarding handlers would otherwise catch the re-raised signal.
    for (const sig of forwarded) process.removeAllListeners(sig)
    process.kill(process.pid, signal)
  })
  return false
}
