/**
 * Time-ordered ring buffer of (timeMs, value) samples with a fixed capacity: the memory bound of a
 * sliding window. Samples that arrive out of order (within the watermark) are inserted in place,
 * which costs a shift of the few newer samples; in-order samples append in O(1).
 * When full, the oldest sample is overwritten (the window then holds the newest `capacity` samples).
 */
export class TimeRing {
  private readonly t: Float64Array
  private readonly v: Float64Array
  private head = 0 // index of the oldest sample
  size = 0

  constructor(readonly capacity: number) {
    this.t = new Float64Array(capacity)
    this.v = new Float64Array(capacity)
  }

  /** Bytes held by the two sample arrays. */
  get bytes(): number {
    return this.t.byteLength + this.v.byteLength
  }

  timeAt(i: number): number {
    return this.t[(this.head + i) % this.capacity]!
  }
  valueAt(i: number): number {
    return this.v[(this.head + i) % this.capacity]!
  }

  newestTime(): number {
    return this.size === 0 ? Number.NEGATIVE_INFINITY : this.timeAt(this.size - 1)
  }

  insert(timeMs: number, value: number): void {
    const cap = this.capacity
    if (this.size === cap) {
      if (timeMs < this.timeAt(0)) return // older than everything kept: no room, and outside the newest samples
      this.head = (this.head + 1) % cap
      this.size--
    }
    // Walk back from the newest slot while samples are newer than the new one (usually zero steps).
    let i = this.size
    while (i > 0 && this.timeAt(i - 1) > timeMs) {
      const from = (this.head + i - 1) % cap
      const to = (this.head + i) % cap
      this.t[to] = this.t[from]!
      this.v[to] = this.v[from]!
      i--
    }
    const at = (this.head + i) % cap
    this.t[at] = timeMs
    this.v[at] = value
    this.size++
  }

  /** Drops the oldest sample (no-op when empty). */
  dropOldest(): void {
    if (this.size === 0) return
    this.head = (this.head + 1) % this.capacity
    this.size--
  }

  /** Drops samples at or before `timeMs`. */
  evictThrough(timeMs: number): void {
    while (this.size > 0 && this.t[this.head]! <= timeMs) {
      this.head = (this.head + 1) % this.capacity
      this.size--
    }
  }

  clear(): void {
    this.head = 0
    this.size = 0
  }
}
