/**
 * The runtime guard (agent/runtime.ts): `node dist/agent/cli.js …` started by another Node than
 * 24 (this machine's Node 20, first on a plain PATH) runs the command under the Node 24 runtime
 * instead of failing on the native modules' ABI; a SIGKILL of that first process ends the agent
 * at once, as a crash of the command should.
 */
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { CLI, freePort, tempDir, waitFor } from '../support/agent-process.js'

/** A Node on this machine that is not the one running the tests (which is 24). */
const OTHER = ['/usr/bin/node', '/usr/local/bin/node'].find((p) => existsSync(p) && !execFileSync(p, ['--version'], { encoding: 'utf8' }).startsWith('v24.'))
const skip = OTHER ? false : 'this machine has no Node other than 24 to start the command with'

/** `bedside-hub run` started by the other Node: the starting process, the re-run agent's pid, and how the first one ended. */
async function runUnderOtherNode(name: string) {
  const dir = tempDir(name)
  const [http, mqtt] = [await freePort(), await freePort()]
  const config = join(dir, 'c.yaml')
  writeFileSync(config, `hub: { id: g, site: s, data_dir: ${join(dir, 'data')} }\nhttp: { listen: "127.0.0.1:${http}" }\nmqtt: { listen: "127.0.0.1:${mqtt}" }\n`, { mode: 0o600 })
  const parent = spawn(OTHER!, [CLI, 'run', '--config', config], { stdio: 'ignore' })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => parent.once('exit', (code, signal) => resolve({ code, signal })))
  await waitFor('the agent', async () => (await fetch(`http://127.0.0.1:${http}/healthz`)).ok, 20_000)
  const agentPid = Number(execFileSync('pgrep', ['-P', String(parent.pid)], { encoding: 'utf8' }).trim())
  return { parent, agentPid, exited }
}

test('runtime guard: a command started by another Node runs under Node 24', { skip }, () => {
  const out = execFileSync(OTHER!, [CLI, 'decode', 'hrs', '0648'], { encoding: 'utf8' })
  assert.match(out, /"MDC_ECG_HEART_RATE","value":72/)
})

test('runtime guard: a SIGKILL of the starting process ends the agent at once', { skip }, async () => {
  const { parent, agentPid } = await runUnderOtherNode('guard')
  assert.match(readFileSync(`/proc/${agentPid}/cmdline`, 'utf8'), /cli\.js/)
  parent.kill('SIGKILL')
  const t0 = Date.now()
  const gone = () => !existsSync(`/proc/${agentPid}/stat`) || readFileSync(`/proc/${agentPid}/stat`, 'utf8').split(' ')[2] === 'Z'
  await waitFor('the agent ended', async () => gone(), 2000, 5)
  console.log(`# agent ended ${Date.now() - t0} ms after its starting process was killed`)
})

test('runtime guard: an agent that dies of a signal makes its starting process die of it too (a supervisor sees a failure)', { skip }, async () => {
  const { parent, agentPid, exited } = await runUnderOtherNode('guard-sig')
  process.kill(agentPid, 'SIGSEGV')
  const { code, signal } = await exited
  console.log(`# agent died of SIGSEGV; its starting process ended with code ${code}, signal ${signal}`)
  assert.equal(signal, 'SIGSEGV')
})
