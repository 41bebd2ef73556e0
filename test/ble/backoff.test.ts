import assert from 'node:assert/strict'
import { test } from 'node:test'
import { backoffDelayMs } from '../../drivers/ble/backoff.js'

test('ble backoff: delays double from baseMs, carry half jitter, and never exceed maxMs', () => {
  const o = { baseMs: 500, maxMs: 30_000 }
  assert.deepEqual([0, 1, 2, 3].map((a) => backoffDelayMs(a, o, () => 0)), [250, 500, 1000, 2000])
  assert.deepEqual([0, 1, 2, 3].map((a) => backoffDelayMs(a, o, () => 0.999999)).map(Math.round), [500, 1000, 2000, 4000])
  for (const attempt of [6, 7, 20, 1000]) {
    assert.ok(backoffDelayMs(attempt, o, () => 0.999999) <= 30_000)
    assert.ok(backoffDelayMs(attempt, o, () => 0) >= 15_000)
  }
})
