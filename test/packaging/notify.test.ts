/**
 * systemd readiness and watchdog (packaging/bedside-hub.service: Type=notify, NotifyAccess=all,
 * WatchdogSec): the built agent, run with $NOTIFY_SOCKET and $WATCHDOG_USEC as systemd sets them,
 * must send READY=1 once serving, WATCHDOG=1 at half the period, and STOPPING=1 on SIGTERM.
 * The socket is a datagram socket held by a small Python receiver (Node has no AF_UNIX datagram
 * sockets), which also answers systemd-notify's barrier by closing the file descriptor it passes.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { recordBuiltins } from '../support/agent-process.js'
import { freePort, hasCommand, REPO } from './support.js'

const SINK = `
import array, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("listening", flush=True)
while True:
    msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(16 * 4))
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array('i')
            fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
            for fd in fds:
                os.close(fd)
    print(msg.decode().replace("\\n", " "), flush=True)
`

const children: ChildProcess[] = []
const work = mkdtempSync(join(tmpdir(), 'bedside-notify-'))
after(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
  rmSync(work, { recursive: true, force: true })
})

function collect(child: ChildProcess): () => string {
  let text = ''
  child.stdout?.on('data', (b: Buffer) => (text += b.toString()))
  child.stderr?.on('data', (b: Buffer) => (text += b.toString()))
  return () => text
}

async function waitFor(what: string, check: () => boolean, timeoutMs: number, log: () => string): Promise<void> {
  for (const end = Date.now() + timeoutMs; !check(); ) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}:\n${log()}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

const skip = !hasCommand('systemd-notify') ? 'systemd-notify is not installed (package systemd)' : !hasCommand('python3') ? 'python3 is not installed' : false

test('packaging: under systemd the agent reports READY=1 once serving, feeds the watchdog and says STOPPING=1', { skip }, async () => {
  const cli = join(REPO, 'dist/agent/cli.js')
  assert.ok(existsSync(cli), 'dist/ is missing: run `npm run build` (npm test does) before this test')
  const socketPath = join(work, 'notify.sock')
  const sink = spawn('python3', ['-c', SINK, socketPath], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(sink)
  const messages = collect(sink)
  await waitFor('the notify socket', () => messages().includes('listening'), 10_000, messages)

  const [httpPort, mqttPort] = [await freePort(), await freePort()]
  const config = join(work, 'config.yaml')
  mkdirSync(join(work, 'data'))
  writeFileSync(config, `hub: { id: ward-notify, site: s, data_dir: ${join(work, 'data')} }\nhttp: { listen: "127.0.0.1:${httpPort}" }\nmqtt: { listen: "127.0.0.1:${mqttPort}" }\n`, { mode: 0o600 })
  // Node's list of the builtins it loaded, written by a preloaded module when the agent exits: the
  // watchdog's probes must not load undici (fetch), ~6 MB of resident memory (agent/commands/run.ts).
  const builtins = recordBuiltins(work)
  const agent = spawn(process.execPath, [cli, 'run', '--config', config], {
    env: { ...process.env, NOTIFY_SOCKET: socketPath, WATCHDOG_USEC: '2000000', WATCHDOG_PID: '', ...builtins.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.push(agent)
  const output = collect(agent)
  const exited = new Promise<number | null>((resolve) => agent.on('exit', (code) => resolve(code)))
  const log = () => `notify socket:\n${messages()}\nagent:\n${output()}`

  await waitFor('READY=1', () => /READY=1 STATUS=serving http:\/\/127\.0\.0\.1:\d+, MQTT port \d+/.test(messages()), 20_000, log)
  const health = await fetch(`http://127.0.0.1:${httpPort}/healthz`)
  assert.equal(health.status, 200, 'ready means serving')
  // WATCHDOG_USEC=2 s: a ping every second, each only after /healthz answered.
  await waitFor('two WATCHDOG=1', () => (messages().match(/WATCHDOG=1/g) ?? []).length >= 2, 5000, log)

  agent.kill('SIGTERM')
  assert.equal(await exited, 0, log())
  await waitFor('STOPPING=1', () => messages().includes('STOPPING=1'), 5000, log)
  const loaded = builtins.loaded()
  assert.ok(loaded.includes('NativeModule http'), 'the list of loaded builtins is not what it should be')
  assert.deepEqual(loaded.filter((m) => m.includes('undici')), [], 'the watchdog probe loaded undici')
})

test('packaging: while devices hold the start-up, the agent asks systemd for more time (EXTEND_TIMEOUT_USEC)', { skip }, async () => {
  // A BLE patch that is not there holds the start-up for its connect timeout (15 s, no adapter or
  // no advertisement): past TimeoutStartSec systemd would kill the agent without the extensions.
  const cli = join(REPO, 'dist/agent/cli.js')
  const socketPath = join(work, 'extend.sock')
  const sink = spawn('python3', ['-c', SINK, socketPath], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(sink)
  const messages = collect(sink)
  await waitFor('the notify socket', () => messages().includes('listening'), 10_000, messages)
  const [httpPort, mqttPort] = [await freePort(), await freePort()]
  const dir = join(work, 'extend')
  mkdirSync(join(dir, 'data'), { recursive: true })
  const config = join(dir, 'config.yaml')
  writeFileSync(config, [
    `hub: { id: ward-extend, site: s, data_dir: ${join(dir, 'data')} }`,
    `http: { listen: "127.0.0.1:${httpPort}" }`,
    `mqtt: { listen: "127.0.0.1:${mqttPort}" }`,
    'beds: [{ id: b1, devices: [{ id: patch-b1, type: polar-pmd, address: "a0:9e:1a:00:00:99" }] }]',
  ].join('\n'), { mode: 0o600 })
  const agent = spawn(process.execPath, [cli, 'run', '--config', config], { env: { ...process.env, NOTIFY_SOCKET: socketPath }, stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(agent)
  const output = collect(agent)
  const exited = new Promise<number | null>((resolve) => agent.on('exit', (code) => resolve(code)))
  const log = () => `notify socket:\n${messages()}\nagent:\n${output()}`
  await waitFor('EXTEND_TIMEOUT_USEC before READY=1', () => /EXTEND_TIMEOUT_USEC=20000000/.test(messages()), 15_000, log)
  assert.ok(!messages().includes('READY=1'), 'extensions come while starting, before READY=1')
  await waitFor('READY=1', () => messages().includes('READY=1'), 60_000, log)
  const extensions = (messages().match(/EXTEND_TIMEOUT_USEC/g) ?? []).length
  await new Promise((r) => setTimeout(r, 6000))
  assert.equal((messages().match(/EXTEND_TIMEOUT_USEC/g) ?? []).length, extensions, 'no extension once ready')
  agent.kill('SIGTERM')
  assert.equal(await exited, 0, log())
})

