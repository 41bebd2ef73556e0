/** Test helpers for the serial drivers: a recording DriverContext and a polling wait. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { DeviceRecord, Observation } from '../../drivers/records.js'
import type { DriverContext, LinkStatus } from '../../drivers/types.js'

export interface RecordingContext extends DriverContext {
  readonly records: Observation[]
  readonly statuses: LinkStatus[]
  readonly rejects: { reason: string; detail?: string }[]
  readonly abort: AbortController
}

export function recordingContext(): RecordingContext {
  const abort = new AbortController()
  const records: Observation[] = []
  const statuses: LinkStatus[] = []
  const rejects: { reason: string; detail?: string }[] = []
  return {
    signal: abort.signal,
    abort,
    records,
    statuses,
    rejects,
    emit: (r: DeviceRecord) => {
      if (r.kind === 'obs') records.push(r)
    },
    status: (s) => statuses.push(s),
    reject: (reason, detail) => rejects.push({ reason, detail }),
  }
}

/** Polls `cond` every 20 ms; fails with `what` after `timeoutMs`. */
export async function waitFor(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A temp dir removed by the caller's t.after. */
export function tempDir(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix))
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) }
}

export function lastStatus(ctx: RecordingContext): LinkStatus | undefined {
  return ctx.statuses[ctx.statuses.length - 1]
}

/**
 * Registers cleanups that run last-in-first-out in one t.after: driver, then emulator, then
 * socat, then the temp dir (node:test runs separate after hooks in registration order).
 */
export function cleanupStack(t: { after(fn: () => unknown): void }): (fn: () => unknown) => void {
  const fns: (() => unknown)[] = []
  t.after(async () => {
    for (const fn of fns.reverse()) await fn()
  })
  return (fn) => void fns.push(fn)
}
