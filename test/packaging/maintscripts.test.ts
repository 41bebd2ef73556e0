/**
 * The maintainer scripts (packaging/debian/postinst, prerm, postrm) through a package's life:
 * install, upgrade, remove, purge. They run for real in a scratch root ($DPKG_ROOT, which the
 * scripts honour as dpkg's chrootless mode does) with the system tools they call (adduser,
 * dpkg-statoverride, deb-systemd-helper, chown...) replaced by stubs that record their arguments
 * and keep the user/override state, so the host's accounts and services are never touched.
 */
import assert from 'node:assert/strict'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { REPO, run, type Ran } from './support.js'

let work = ''
let root = ''
let state = ''
let log = ''

/** Each stub logs "name args..." and answers from files in $STUB_STATE. */
const STUBS: Record<string, string> = {
  getent: '[ "$1" = passwd ] && [ -e "$STUB_STATE/user-$2" ] && exit 0\n[ "$1" = group ] && [ -e "$STUB_STATE/group-$2" ] && exit 0\nexit 2',
  adduser: 'case " $* " in *" --system "*) for a; do last=$a; done; touch "$STUB_STATE/user-$last" "$STUB_STATE/group-$last";; esac',
  addgroup: 'for a; do last=$a; done; touch "$STUB_STATE/group-$last"',
  chown: ':',
  'dpkg-statoverride': 'case "$1" in --list) [ -e "$STUB_STATE/override" ];; --update) touch "$STUB_STATE/override";; --remove) rm -f "$STUB_STATE/override";; esac',
  'deb-systemd-helper': '[ "$1" = --quiet ] && [ "$2" = was-enabled ] && exit 0\nexit 0',
  'deb-systemd-invoke': ':',
  systemctl: ':',
  udevadm: ':',
}

before(() => {
  work = mkdtempSync(join(tmpdir(), 'bedside-maint-'))
  root = join(work, 'root')
  state = join(work, 'state')
  log = join(work, 'calls.log')
  const bin = join(work, 'bin')
  for (const d of [root, state, bin]) mkdirSync(d, { recursive: true })
  for (const [name, body] of Object.entries(STUBS)) {
    writeFileSync(join(bin, name), `#!/bin/sh\necho "${name} $*" >> "$STUB_LOG"\n${body}\n`)
    chmodSync(join(bin, name), 0o755)
  }
})
after(() => {
  if (work) rmSync(work, { recursive: true, force: true })
})

function script(name: 'postinst' | 'prerm' | 'postrm', ...args: string[]): Ran {
  writeFileSync(log, '')
  const r = run('sh', ['-e', join(REPO, 'packaging/debian', name), ...args], {
    env: { PATH: `${join(work, 'bin')}:/usr/sbin:/usr/bin:/sbin:/bin`, DPKG_ROOT: root, STUB_STATE: state, STUB_LOG: log },
  })
  assert.equal(r.status, 0, `${name} ${args.join(' ')}: ${r.stdout}${r.stderr}`)
  return r
}
const calls = () => readFileSync(log, 'utf8').trim().split('\n').filter(Boolean)
const dataDir = () => join(root, 'var/lib/bedside-hub')

test('packaging: first install creates the system user in dialout and bluetooth, a 0700 data dir, the config override, and enables the service', () => {
  script('postinst', 'configure')
  const c = calls()
  assert.ok(c.some((l) => /^adduser --quiet --system --group .*--shell \/usr\/sbin\/nologin .* bedside-hub$/.test(l)), c.join('\n'))
  assert.ok(c.includes('addgroup --quiet --system bluetooth'))
  assert.ok(c.includes('adduser --quiet bedside-hub dialout'))
  assert.ok(c.includes('adduser --quiet bedside-hub bluetooth'))
  assert.equal(statSync(dataDir()).mode & 0o777, 0o700)
  assert.ok(c.includes(`chown bedside-hub:bedside-hub ${dataDir()}`))
  assert.ok(c.includes('dpkg-statoverride --update --add root bedside-hub 0640 /etc/bedside-hub/config.yaml'))
  assert.ok(c.includes('deb-systemd-helper enable bedside-hub.service'))
})

test('packaging: an upgrade keeps the data and does not recreate the user or override a local config mode', () => {
  writeFileSync(join(dataDir(), 'bedside.db'), 'queue')
  writeFileSync(join(dataDir(), 'keys.json'), '{"epochs":[]}')
  script('prerm', 'upgrade', '0.2.0')
  script('postinst', 'configure', '0.1.0')
  const c = calls()
  assert.ok(!c.some((l) => l.includes('--system')), 'no new system user or group')
  assert.ok(!c.some((l) => l.startsWith('dpkg-statoverride --update')), 'the existing statoverride is kept')
  assert.equal(readFileSync(join(dataDir(), 'bedside.db'), 'utf8'), 'queue')
  assert.ok(existsSync(join(dataDir(), 'keys.json')))
})

test('packaging: remove keeps the data directory and says so; purge deletes it after saying so', () => {
  script('prerm', 'remove')
  const removed = script('postrm', 'remove')
  assert.match(removed.stdout, /data in \/var\/lib\/bedside-hub .* kept/)
  assert.ok(existsSync(join(dataDir(), 'bedside.db')), 'remove keeps the queue')
  assert.ok(calls().includes('deb-systemd-helper mask bedside-hub.service'))

  const purged = script('postrm', 'purge')
  assert.match(purged.stdout, /purge: deleting \/var\/lib\/bedside-hub: the local queue/)
  assert.ok(!existsSync(dataDir()), 'purge deletes the data directory')
  assert.ok(calls().includes('dpkg-statoverride --remove /etc/bedside-hub/config.yaml'))
  assert.ok(calls().includes('deb-systemd-helper purge bedside-hub.service'))
})

test('packaging: the maintainer scripts pass shellcheck as POSIX sh', { skip: run('sh', ['-c', 'command -v shellcheck']).status === 0 ? false : 'shellcheck is not installed' }, () => {
  const files = ['postinst', 'prerm', 'postrm', 'bedside-hub.sh'].map((f) => join(REPO, 'packaging/debian', f))
  const r = run('shellcheck', ['-s', 'sh', ...files])
  assert.equal(r.status, 0, r.stdout)
})
