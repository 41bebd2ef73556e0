/**
 * The redelivery window's ring (agent/store/key-window.ts) against the insertion-ordered Map it
 * replaced: the same answers to `has`, the same size and the same prune bound, over random adds,
 * re-asks and rolled-back keys, through growth, eviction, wrap-around and index deletions.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { KeyWindow } from '../../agent/store/key-window.js'
import { seededRandom } from '../support/random.js'

/** The window as seen-messages.ts kept it before the ring: a Map, oldest first. */
class MapWindow {
  readonly keys = new Map<string, number>()
  pruneBelow = NaN
  constructor(private readonly limit: number) {}
  add(key: string, hubSeq: number): boolean {
    this.keys.set(key, hubSeq)
    if (this.keys.size <= this.limit) return false
    const it = this.keys.keys()
    while (this.keys.size > this.limit) this.keys.delete(it.next().value!)
    this.pruneBelow = this.keys.values().next().value!
    return true
  }
}

for (const limit of [1, 2, 7, 16, 100, 1024]) {
  test(`key window: the same answers as a Map window, limit ${limit}`, { timeout: 60_000 }, () => {
    const rand = seededRandom(limit * 7919)
    const ring = new KeyWindow(limit)
    const ref = new MapWindow(limit)
    let hubSeq = 1
    let msg = 0
    const recent: string[] = []
    const seenKeys: string[] = []
    for (let step = 0; step < 40_000; step++) {
      const r = rand()
      if (r < 0.6) {
        // a new message; keys shaped like the MQTT and HL7 ones, some sharing long prefixes
        const key = rand() < 0.8 ? `o${msg}/${1_765_000_000_000 + msg * 40}` : `adt:EPIC^GEN/${(msg * 2654435761) % 1e9}`
        msg++
        const evictedRing = ring.add(key, hubSeq)
        const evictedRef = ref.add(key, hubSeq)
        assert.equal(evictedRing, evictedRef, `eviction at step ${step}`)
        if (evictedRef) assert.equal(ring.pruneBelow, ref.pruneBelow, `prune bound at step ${step}`)
        hubSeq += 1 + Math.floor(rand() * 100)
        recent.push(key)
        seenKeys.push(key)
      } else if (r < 0.97) {
        // a re-send of a recent or an old message, or a key never sent
        const pick = rand()
        const key = pick < 0.7 && seenKeys.length ? seenKeys[seenKeys.length - 1 - Math.floor(rand() * Math.min(seenKeys.length, 3 * limit))]!
          : pick < 0.9 && seenKeys.length ? seenKeys[Math.floor(rand() * seenKeys.length)]! : `o${msg + 1 + Math.floor(rand() * 1000)}/0`
        assert.equal(ring.has(key), ref.keys.has(key), `has(${key}) at step ${step}`)
      } else {
        // the batch since the last commit was rolled back: its keys are forgotten
        for (const key of recent) {
          ring.forget(key)
          ref.keys.delete(key)
        }
        recent.length = 0
      }
      if (rand() < 0.3) recent.length = 0 // a commit succeeded
      assert.equal(ring.size, ref.keys.size, `size at step ${step}`)
    }
    for (const key of seenKeys) assert.equal(ring.has(key), ref.keys.has(key), `final has(${key})`)
  })
}

test('key window: a full window of 1024 keys holds every one of them and none evicted', () => {
  const ring = new KeyWindow(1024)
  for (let k = 0; k < 5000; k++) ring.add(`w${k}/${k * 100}`, k)
  assert.equal(ring.size, 1024)
  for (let k = 0; k < 5000; k++) assert.equal(ring.has(`w${k}/${k * 100}`), k >= 5000 - 1024, `key ${k}`)
  assert.equal(ring.pruneBelow, 5000 - 1024)
})
