import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { newLinkCounters } from '../../drivers/serial/counters.js'
import { SerialLink } from '../../drivers/serial/port.js'
import { openPtyLink } from '../../drivers/serial/pty-link.js'
import { SilenceWatch } from '../../drivers/serial/silence.js'
import { cleanupStack, sleep, tempDir, waitFor } from './helpers.js'

test('serial: reopen backs off exponentially while the device is absent, then opens when it appears', async (t) => {
  const cleanup = cleanupStack(t)
  const dir = tempDir('serial-backoff-')
  cleanup(dir.remove)
  const path = join(dir.path, 'hub')
  const counters = newLinkCounters()
  const downs: string[] = []
  let opened = 0
  const link = new SerialLink({
    path,
    settings: { baudRate: 9600, dataBits: 8, parity: 'none', stopBits: 1, rtscts: false },
    counters,
    reopenInitialMs: 40,
    reopenMaxMs: 160,
    onData: () => undefined,
    onOpen: () => opened++,
    onDown: (cause) => downs.push(cause),
  })
  cleanup(() => link.stop())
  await link.start()
  await sleep(900)
  // Attempts at ~0, 40, 120, 280, 440, 600, 760 ms: 7; a fixed 40 ms retry would make ~22.
  assert.ok(counters.openFailures >= 3 && counters.openFailures <= 9, `open failures ${counters.openFailures}`)
  assert.equal(downs.length, 1, 'one down report per outage, not one per attempt')
  assert.match(downs[0]!, /^open failed/)
  const pty = await openPtyLink(path, join(dir.path, 'dev'))
  cleanup(() => pty.close())
  await waitFor('the link to open', () => opened === 1, 3000)
  assert.equal(counters.opens, 1)
  assert.ok(link.isOpen)
})

test('serial: silence watch reports once after the bound and resumes on the next frame', async () => {
  let nowMs = 1_000_000
  const events: string[] = []
  const watch = new SilenceWatch(100, (since) => events.push(`silent@${since}`), () => events.push('resume'), () => nowMs)
  watch.start()
  try {
    await sleep(60)
    assert.deepEqual(events, [])
    nowMs += 150
    await waitFor('silent', () => events.length === 1, 1000)
    await sleep(60)
    assert.deepEqual(events, ['silent@1000000'], 'reported once, with the time of the last frame')
    watch.beat(nowMs)
    assert.deepEqual(events, ['silent@1000000', 'resume'])
    assert.equal(watch.isSilent, false)
  } finally {
    watch.stop()
  }
})
