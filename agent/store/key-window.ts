/**
 * One device's redelivery window in memory (seen-messages.ts): the fingerprints of its last accepted
 * message keys in arrival order, with an open-addressing index over them, all in typed arrays.
 *
 * Why not a Map of the key strings: a 64-bed ward keeps 64 × 1024 keys, and as a Map of strings
 * they were 7.6 MB of live V8 heap, churned by every message (each new key a string promoted to the
 * old generation, each evicted one garbage there). The window was the ward's largest single
 * memory growth since it came in (ward RSS 119 → 128 MB, BENCHMARKS.md "Session 8"). Here a key
 * costs 16 bytes in the ring and 8 in the index, off the V8 heap, allocated when the ring grows.
 *
 * A key is remembered by a 64-bit fingerprint, two different 32-bit hashes of its UTF-16 code
 * units (FNV-1a and a murmur2-style one, each finalised; no 64-bit collision in 8.4 M realistic keys). Two different keys of one device are taken for one only if both hashes collide: with a
 * window of n keys, about n / 2^64 per message (≈ 5.6e-17 at 1024: for a 64-bed ward's 700
 * messages/s, once in about 800,000 years). A sender can only make its own messages collide, which drops no
 * one else's data.
 */

/** The low and high halves of the last fingerprint computed (no object per call). */
let fpLo = 0
let fpHi = 0

/** murmur3's 32-bit finaliser: every input bit affects every output bit. */
function fmix32(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return h ^ (h >>> 16)
}

/** Sets fpLo/fpHi: FNV-1a and a murmur2-style multiply-xor over the key, each finalised. */
function fingerprint(key: string): void {
  let a = 0x811c9dc5
  let b = 0x9747b28c ^ key.length
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i)
    a = Math.imul(a ^ c, 0x01000193)
    b = Math.imul(b ^ c, 0x5bd1e995)
    b ^= b >>> 15
  }
  fpLo = fmix32(a)
  fpHi = fmix32(b)
}

const INITIAL_CAPACITY = 16

export class KeyWindow {
  private mask: number
  private lo: Int32Array
  private hi: Int32Array
  /** hub_seq of each slot's message; NaN for a slot whose key was forgotten (a rolled-back batch). */
  private seq: Float64Array
  /** Ring slot + 1 per bucket (0: empty), linear probing on the fingerprint's low half. */
  private index: Int32Array
  private indexMask: number
  /** The oldest slot. */
  private head = 0
  /** Slots in use from `head`, forgotten ones included. */
  private used = 0
  /** Keys remembered. */
  size = 0
  /** Lowest hub_seq still remembered after evictions not yet deleted on disk; NaN when none. */
  pruneBelow = NaN

  /** `limit`: the most keys kept; the ring grows to the power of two that holds them. */
  constructor(private readonly limit: number) {
    const cap = Math.min(INITIAL_CAPACITY, ceilPow2(limit))
    this.mask = cap - 1
    this.lo = new Int32Array(cap)
    this.hi = new Int32Array(cap)
    this.seq = new Float64Array(cap)
    this.index = new Int32Array(2 * cap)
    this.indexMask = 2 * cap - 1
  }

  has(key: string): boolean {
    fingerprint(key)
    return this.find(fpLo, fpHi) >= 0
  }

  /**
   * Remembers `key` (its message's first record is `hubSeq`). When the window is full the oldest key
   * goes first, and `pruneBelow` becomes the oldest kept hub_seq: returns true then, so the caller
   * deletes the evicted rows in the next commit. `key` must not be remembered already (callers ask
   * `has` first): unlike Map.set, a second add keeps two slots, and one `forget` leaves the other.
   */
  add(key: string, hubSeq: number): boolean {
    let evicted = false
    if (this.size >= this.limit) {
      this.evictOldest()
      this.pruneBelow = this.seq[this.head]! // evictOldest leaves head on a live slot when size > 0
      evicted = true
    }
    if (this.used > this.mask) this.rebuild()
    fingerprint(key)
    const s = (this.head + this.used) & this.mask
    this.lo[s] = fpLo
    this.hi[s] = fpHi
    this.seq[s] = hubSeq
    this.used++
    this.size++
    this.insertIndex(s)
    if (evicted && this.size === 1) this.pruneBelow = hubSeq // a window of one: everything before it goes
    return evicted
  }

  /** Forgets `key` (its batch was rolled back), wherever it is in the ring. */
  forget(key: string): void {
    fingerprint(key)
    const s = this.find(fpLo, fpHi)
    if (s < 0) return
    this.removeIndex(s)
    this.seq[s] = NaN
    this.size--
    this.skipForgotten()
  }

  private find(lo: number, hi: number): number {
    const index = this.index
    for (let b = lo & this.indexMask; ; b = (b + 1) & this.indexMask) {
      const entry = index[b]!
      if (entry === 0) return -1
      const s = entry - 1
      if (this.lo[s] === lo && this.hi[s] === hi) return s
    }
  }

  private insertIndex(s: number): void {
    let b = this.lo[s]! & this.indexMask
    while (this.index[b] !== 0) b = (b + 1) & this.indexMask
    this.index[b] = s + 1
  }

  /** Removes slot `s` from the index, shifting back the entries that probed past it (no tombstones). */
  private removeIndex(s: number): void {
    const index = this.index
    const m = this.indexMask
    let b = this.lo[s]! & m
    while (index[b] !== s + 1) b = (b + 1) & m
    let hole = b
    for (let next = (hole + 1) & m; index[next] !== 0; next = (next + 1) & m) {
      const home = this.lo[index[next]! - 1]! & m
      // The entry at `next` may fill the hole unless its home bucket lies cyclically in (hole, next].
      if (((next - home) & m) >= ((next - hole) & m)) {
        index[hole] = index[next]!
        hole = next
      }
    }
    index[hole] = 0
  }

  private evictOldest(): void {
    this.skipForgotten()
    this.removeIndex(this.head)
    this.size--
    this.head = (this.head + 1) & this.mask
    this.used--
    this.skipForgotten()
  }

  /** Moves `head` past forgotten slots. */
  private skipForgotten(): void {
    while (this.used > 0 && Number.isNaN(this.seq[this.head]!)) {
      this.head = (this.head + 1) & this.mask
      this.used--
    }
  }

  /** The ring is full of slots: lay the remembered keys out again from slot 0, twice as large if they fill half. */
  private rebuild(): void {
    const oldCap = this.mask + 1
    const cap = this.size + 1 > oldCap / 2 ? Math.min(2 * oldCap, Math.max(oldCap, ceilPow2(this.limit))) : oldCap
    const [lo, hi, seq] = [new Int32Array(cap), new Int32Array(cap), new Float64Array(cap)]
    let n = 0
    for (let k = 0; k < this.used; k++) {
      const s = (this.head + k) & this.mask
      if (Number.isNaN(this.seq[s]!)) continue
      lo[n] = this.lo[s]!
      hi[n] = this.hi[s]!
      seq[n] = this.seq[s]!
      n++
    }
    this.lo = lo
    this.hi = hi
    this.seq = seq
    this.mask = cap - 1
    this.head = 0
    this.used = n
    this.index = new Int32Array(2 * cap)
    this.indexMask = 2 * cap - 1
    for (let s = 0; s < n; s++) this.insertIndex(s)
  }
}

function ceilPow2(n: number): number {
  let p = 1
  while (p < n) p *= 2
  return p
}
