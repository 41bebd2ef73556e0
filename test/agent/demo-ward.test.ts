/**
 * The README's first command, `bedside-hub run` without a config: the demo ward (8 beds: BLE patches
 * on the simulated radio, serial monitors on pseudo-terminals, simulated vitals) runs with every group
 * commit succeeding. Its 130 Hz patches publish RR intervals between milliseconds, which failed
 * every batch they were in until the store floored times (test/api/sub-ms-times.test.ts).
 * Uses the demo's fixed ports (127.0.0.1:8080 and 1883), as a newcomer's machine would.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { test } from 'node:test'
import { CLI, tempDir, waitFor } from '../support/agent-process.js'
import { openRecordView } from '../support/records.js'

const DEMO = 'http://127.0.0.1:8080'
const AUTH = { headers: { authorization: 'Bearer demo-nurse-token' } }

function metric(text: string, name: string): number {
  let sum = 0
  for (const line of text.split('\n')) if (line.startsWith(name) && !line.startsWith('#')) sum += Number(line.slice(line.lastIndexOf(' ') + 1))
  return sum
}

test('demo ward: 20 s without a failed group commit, every bed\'s readings and the patches\' RR intervals stored', { timeout: 90_000 }, async (t) => {
  const cwd = tempDir('demo-ward')
  const proc = spawn(process.execPath, [CLI, 'run'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  // Also on a timeout: a demo ward left running would hold its ports for every later run.
  t.after(() => void (proc.exitCode === null && proc.kill('SIGKILL')))
  let out = ''
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()))
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()))
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)))
  try {
    // The demo refuses to start when 8080 or 1883 is taken (it says so and exits 2): fail with its words, at once.
    const died = exited.then((code) => {
      throw new Error(`the demo ward exited with ${code}:\n${out}`)
    })
    died.catch(() => undefined) // the exit at the end, after the race, is no error
    await Promise.race([waitFor('demo ward running', async () => out.includes('demo ward running'), 60_000), died])
    await new Promise((r) => setTimeout(r, 20_000))
    const metrics = await (await fetch(`${DEMO}/metrics`, AUTH)).text()
    assert.equal(metric(metrics, 'bedside_commit_failures_total'), 0, `no group commit failed:\n${out.split('\n').filter((l) => l.includes('commit_failed')).slice(0, 3).join('\n')}`)
    assert.ok(!out.includes('"commit_failed"'), 'no commit_failed in the log')
    assert.ok(metric(metrics, 'bedside_observations_ingested_total') > 100, 'the ward is ingesting')
    // Stored, not only shown: every bed's observations, the patches' RR intervals among them.
    const db = openRecordView(join(cwd, 'data/demo/bedside.db'), { readonly: true, fileMustExist: true })
    try {
      const beds = (db.prepare('SELECT COUNT(DISTINCT bed_id) AS n FROM record_view WHERE kind = 1').get() as { n: number }).n
      assert.ok(beds >= 8, `observations of every demo bed stored, got ${beds} beds`)
      const rr = (db.prepare('SELECT COUNT(*) AS n FROM record_view WHERE kind = 1 AND code = 147240').get() as { n: number }).n
      assert.ok(rr > 20, `the patches' RR intervals stored, got ${rr}`)
    } finally {
      db.close()
    }
  } finally {
    proc.kill('SIGTERM')
    await exited
  }
})
