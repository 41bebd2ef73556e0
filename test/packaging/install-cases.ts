/**
 * The package's life in a real Debian 12 chroot without any Node.js (registered by deb.test.ts,
 * which builds the .deb once): install, the agent running as its user on the package's own
 * Node.js 24, upgrade keeping config edits, queue and keys, remove keeping the data, purge
 * deleting it after saying so.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { copyFileSync, existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { asAgentUser, chrootArgs, chrootSkipReason, freshChroot, inChroot, rebuildWithVersion } from './chroot.js'
import { agentNodeVersion, freePort, type Ran } from './support.js'

interface Built { readonly deb: string; readonly work: string; readonly version: string; readonly nodeVersion: string }

/** What the running agent was: its status, the executable of its process and its Node.js version. */
interface AgentRun {
  readonly status: { queue: { depth: number }; hub: string }
  readonly exe: string
  readonly nodeVersion: string | undefined
}

/** No node, nodejs or npm on the chroot's PATH, and no nodejs package: only the package's own. */
function assertNoSystemNode(dir: string): void {
  const found = inChroot(dir, ['sh', '-c', 'command -v node nodejs npm; ls /usr/bin/node* /usr/local/bin/node* 2>/dev/null; true'])
  assert.equal(found.stdout.trim(), '', `a system Node.js in the chroot: ${found.stdout}`)
  assert.notEqual(inChroot(dir, ['dpkg-query', '-W', 'nodejs']).status, 0, 'the nodejs package is installed in the chroot')
}

function must(r: Ran, what: string): Ran {
  assert.equal(r.status, 0, `${what}: ${r.stdout}${r.stderr}`)
  return r
}

/** Starts the agent in the chroot as its user, waits for its status, notes its runtime, stops it. */
async function runAgentOnce(dir: string, port: number): Promise<AgentRun> {
  const agent = spawn('chroot', chrootArgs(dir, asAgentUser(['/usr/bin/bedside-hub', 'run', '--config', '/etc/bedside-hub/config.yaml'])), { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  agent.stdout.on('data', (b: Buffer) => (output += b.toString()))
  agent.stderr.on('data', (b: Buffer) => (output += b.toString()))
  const exited = new Promise<number | null>((resolve) => agent.on('exit', (code) => resolve(code)))
  let status: { queue: { depth: number }; hub: string } | null = null
  let exe = ''
  let nodeVersion: string | undefined
  try {
    // Stop only once started: SIGTERM before the agent has its handlers ends it without a clean stop.
    for (let i = 0; i < 80 && (!status || status.queue.depth === 0 || !output.includes('"event":"started"')); i++) {
      await new Promise((r) => setTimeout(r, 250))
      status = await fetch(`http://127.0.0.1:${port}/api/status`, { headers: { authorization: 'Bearer chroot-viewer-token' } }).then((r) => r.json() as Promise<{ queue: { depth: number }; hub: string }>, () => null)
    }
    // chroot, env, setpriv and the launcher each exec the next: the spawned pid ends as the agent.
    exe = readlinkSync(`/proc/${agent.pid}/exe`)
    nodeVersion = await agentNodeVersion(`http://127.0.0.1:${port}`, 'chroot-viewer-token').catch(() => undefined)
  } finally {
    agent.kill('SIGTERM')
  }
  assert.equal(await exited, 0, output)
  assert.ok(status, `the agent in the chroot never answered: ${output}`)
  return { status, exe, nodeVersion }
}

export function describeInstall(built: () => Built): void {
  const skip = chrootSkipReason()
  describe('packaging: install, upgrade, remove and purge in a Debian 12 chroot', { skip }, () => {
    let dir = ''
    const file = (p: string) => join(dir, p)
    // unsafe-io: no fsync per unpacked file; the chroot is thrown away after the test.
    const dpkg = (...args: string[]) => inChroot(dir, ['dpkg', '--force-unsafe-io', ...args])

    before(() => {
      const { deb, work } = built()
      dir = join(work, 'chroot')
      freshChroot(dir)
      copyFileSync(deb, file('tmp/bedside-hub.deb'))
    })
    after(() => {
      if (dir) rmSync(dir, { recursive: true, force: true })
    })

    test('packaging: dpkg -i installs it on a system without Node.js: user in dialout and bluetooth, data dir 0700, config 0640 root:bedside-hub, service enabled', () => {
      assertNoSystemNode(dir)
      // Plain dpkg -i: every dependency is in Debian 12's minbase already, so none is missing.
      must(dpkg('-i', '/tmp/bedside-hub.deb'), 'dpkg -i')
      assertNoSystemNode(dir) // the package's node stays its own, off PATH
      assert.match(must(inChroot(dir, ['id', '-nG', 'bedside-hub']), 'id').stdout, /^(?=.*\bdialout\b)(?=.*\bbluetooth\b).*/)
      assert.match(must(inChroot(dir, ['getent', 'passwd', 'bedside-hub']), 'getent').stdout, /:\/var\/lib\/bedside-hub:\/usr\/sbin\/nologin$/m)
      assert.equal(must(inChroot(dir, ['stat', '-c', '%a %U:%G', '/var/lib/bedside-hub']), 'stat').stdout.trim(), '700 bedside-hub:bedside-hub')
      assert.equal(must(inChroot(dir, ['stat', '-c', '%a %U:%G', '/etc/bedside-hub/config.yaml']), 'stat').stdout.trim(), '640 root:bedside-hub')
      assert.ok(lstatSync(file('etc/systemd/system/multi-user.target.wants/bedside-hub.service')).isSymbolicLink())
    })

    test('packaging: the installed command runs on its own Node.js 24: --version, and config check as the agent user', () => {
      assert.equal(must(inChroot(dir, ['bedside-hub', '--version']), '--version').stdout.trim(), `bedside-hub ${built().version}`)
      assert.equal(must(inChroot(dir, ['/usr/lib/bedside-hub/node/bin/node', '--version']), 'node --version').stdout.trim(), `v${built().nodeVersion}`)
      const r = must(inChroot(dir, asAgentUser(['/usr/bin/bedside-hub', 'config', 'check', '/etc/bedside-hub/config.yaml'])), 'config check')
      assert.match(r.stdout, /ok \(0 beds/)
    })

    test('packaging: store commands under sudo run as the agent user, so root never owns the agent store', () => {
      must(inChroot(dir, ['bedside-hub', 'devices', '--config', '/etc/bedside-hub/config.yaml']), 'devices as root')
      const owners = must(inChroot(dir, ['sh', '-c', 'stat -c "%n %U" /var/lib/bedside-hub/*']), 'stat').stdout.trim().split('\n')
      assert.ok(owners.some((l) => l.startsWith('/var/lib/bedside-hub/bedside.db ')), owners.join('\n'))
      for (const line of owners) assert.match(line, / bedside-hub$/)
    })

    test('packaging: an upgrade keeps the edited config, the queue and the keys, and the agent starts on them', async () => {
      const port = await freePort()
      const config = file('etc/bedside-hub/config.yaml')
      const edited = readFileSync(config, 'utf8')
        .replace('id: ward-unconfigured', 'id: ward-chroot')
        .replace('listen: "127.0.0.1:8080"', `listen: "127.0.0.1:${port}"\n  tokens: [{ token: "chroot-viewer-token", role: viewer }]`)
        .replace('listen: "127.0.0.1:1883"', `listen: "127.0.0.1:${await freePort()}"`)
        .replace(/^#beds:$/m, 'beds:\n  - { id: "c1", devices: [{ id: sim-c1, type: sim }] }')
      writeFileSync(config, edited)
      const first = await runAgentOnce(dir, port)
      const before = first.status
      assert.equal(before.hub, 'ward-chroot')
      assert.ok(before.queue.depth > 0)
      assert.equal(first.exe, file('usr/lib/bedside-hub/node/bin/node'), 'the agent process is the shipped node')
      assert.equal(first.nodeVersion, `v${built().nodeVersion}`, "the agent's own process.version")
      const data = file('var/lib/bedside-hub')
      for (const f of readdirSync(data)) assert.equal(must(inChroot(dir, ['stat', '-c', '%U', `/var/lib/bedside-hub/${f}`]), 'stat').stdout.trim(), 'bedside-hub', f)
      const keys = readFileSync(join(data, 'keys.json'), 'utf8')

      const next = `${built().version}+upgrade1`
      copyFileSync(rebuildWithVersion(built().deb, next, built().work), file('tmp/next.deb'))
      must(dpkg('-i', '/tmp/next.deb'), 'upgrade')
      assert.equal(must(inChroot(dir, ['dpkg-query', '-W', '-f', '${Version}', 'bedside-hub']), 'query').stdout, next)
      assert.equal(readFileSync(config, 'utf8'), edited, 'the local config edit survives')
      assert.equal(readFileSync(join(data, 'keys.json'), 'utf8'), keys, 'the pseudonym keys survive')
      const upgraded = await runAgentOnce(dir, port)
      const after = upgraded.status
      assert.equal(upgraded.nodeVersion, `v${built().nodeVersion}`)
      assert.ok(after.queue.depth >= before.queue.depth, `queue before ${before.queue.depth}, after ${after.queue.depth}`)
    })

    test('packaging: remove keeps data and config; purge deletes them after saying so', () => {
      const removed = must(dpkg('-r', 'bedside-hub'), 'remove')
      assert.match(removed.stdout, /data in \/var\/lib\/bedside-hub .* kept/)
      assert.ok(existsSync(file('var/lib/bedside-hub/keys.json')))
      assert.ok(existsSync(file('etc/bedside-hub/config.yaml')))
      assert.ok(!existsSync(file('usr/bin/bedside-hub')))

      const purged = must(dpkg('-P', 'bedside-hub'), 'purge')
      assert.match(purged.stdout, /purge: deleting \/var\/lib\/bedside-hub/)
      assert.ok(!existsSync(file('var/lib/bedside-hub')))
      assert.ok(!existsSync(file('etc/bedside-hub')))
      assert.doesNotMatch(inChroot(dir, ['dpkg-statoverride', '--list']).stdout, /bedside-hub/, 'the config statoverride is gone')
      assert.ok(statSync(file('etc/passwd')).size > 0 && readFileSync(file('etc/passwd'), 'utf8').includes('bedside-hub:'), 'the system user is kept')
    })
  })
}
