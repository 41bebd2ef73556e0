/**
 * Two linked pseudo-terminals made by socat (Debian package `socat`): one end is a driver's
 * serial port, the other a device emulator's (DESIGN.md, "Serial devices"). Used by the pty
 * tests and by the demo ward when socat is present.
 *
 * Closing the link (killing socat) is what an unplug looks like to both ends: the pty
 * disappears and reads fail. Starting a new link on the same paths is a replug.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'

export interface PtyLink {
  /** Path of end A (symlink to /dev/pts/N). */
  readonly a: string
  readonly b: string
  /** Kills socat and waits for it to exit; both ptys vanish. Idempotent. */
  close(): Promise<void>
}

/** True when the socat binary is on PATH. */
export function socatAvailable(): boolean {
  return spawnSync('socat', ['-V'], { stdio: 'ignore' }).status === 0
}

/** Starts socat linking two ptys at `a` and `b`; resolves once both paths exist. */
export async function openPtyLink(a: string, b: string, timeoutMs = 5000): Promise<PtyLink> {
  if (!socatAvailable()) {
    throw new Error('socat is not installed: run `apt-get update && apt-get install -y socat` (needed for serial pty links)')
  }
  const child = spawn('socat', [`pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
  const deadline = Date.now() + timeoutMs
  while (!(existsSync(a) && existsSync(b))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`socat did not create ${a} and ${b}: ${stderr.trim() || 'timeout'}`)
    }
    await new Promise((r) => setTimeout(r, 20))
  }
  return { a, b, close: () => killAndWait(child) }
}

function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    child.once('exit', () => resolve())
    child.kill('SIGTERM')
  })
}
