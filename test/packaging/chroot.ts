/**
 * A Debian 12 chroot for installing the .deb for real (dpkg, adduser, dpkg-statoverride and
 * deb-systemd-helper all run inside it). The minbase system is bootstrapped once per machine from
 * the Debian mirror (about 40 s; cached under /var/cache/bedside-hub-tests) and copied per run.
 * It has no Node.js at all: the package must bring its own (issue 18).
 */
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { hasCommand, ok, run, type Ran } from './support.js'

const CACHE = '/var/cache/bedside-hub-tests'
const MIRROR = process.env.BEDSIDE_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian'
const CLEAN_ENV = ['/usr/bin/env', '-i', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'LANG=C.UTF-8', 'DEBIAN_FRONTEND=noninteractive']

/** Why the chroot tests cannot run here, or false when they can. */
export function chrootSkipReason(): string | false {
  if (process.env.BEDSIDE_SKIP_CHROOT) return 'BEDSIDE_SKIP_CHROOT is set'
  if (process.getuid?.() !== 0) return 'needs root (chroot, dpkg)'
  if (!hasCommand('debootstrap')) return 'debootstrap is not installed (apt-get install -y debootstrap)'
  return false
}

/** Copies a pristine Debian 12 minbase into `dest`, bootstrapping it first if not cached. */
export function freshChroot(dest: string): void {
  const pristine = join(CACHE, 'bookworm-minbase')
  if (!existsSync(join(pristine, '.bedside-complete'))) {
    const tmp = `${pristine}.tmp`
    rmSync(tmp, { recursive: true, force: true })
    mkdirSync(CACHE, { recursive: true })
    ok('debootstrap', ['--variant=minbase', 'bookworm', tmp, MIRROR], { timeout: 600_000 })
    writeFileSync(join(tmp, '.bedside-complete'), `${new Date().toISOString()}\n`)
    rmSync(pristine, { recursive: true, force: true })
    renameSync(tmp, pristine)
  }
  ok('cp', ['-a', pristine, dest])
}

/** The same package under another version: an upgrade with identical contents. */
export function rebuildWithVersion(deb: string, version: string, workDir: string): string {
  const dir = join(workDir, `raw-${version}`)
  ok('dpkg-deb', ['-R', deb, dir])
  const control = join(dir, 'DEBIAN/control')
  ok('sed', ['-i', `s/^Version: .*/Version: ${version}/`, control])
  const out = join(workDir, `bedside-hub_${version}.deb`)
  ok('dpkg-deb', ['--root-owner-group', '-Znone', '--build', dir, out])
  rmSync(dir, { recursive: true, force: true })
  return out
}

/** `chroot` arguments that run `args` inside `dir` with a clean environment. */
export function chrootArgs(dir: string, args: readonly string[]): string[] {
  return [dir, ...CLEAN_ENV, ...args]
}

/** Runs a command inside the chroot with a clean environment. */
export function inChroot(dir: string, args: readonly string[]): Ran {
  return run('chroot', chrootArgs(dir, args), { timeout: 120_000 })
}

/** `args` run as the agent's user with its groups, as systemd's User= would. */
export function asAgentUser(args: readonly string[]): string[] {
  return ['setpriv', '--reuid=bedside-hub', '--regid=bedside-hub', '--init-groups', ...args]
}
