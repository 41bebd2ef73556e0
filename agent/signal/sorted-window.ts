/**
 * The last `capacity` values (first in, first out) with their median, as OSEA's qrsdet2 keeps its
 * QRS-peak, noise-peak and RR buffers (8 values; for an even count the upper middle value), the
 * mean of the two middle values and the mean of all. Fixed memory; all three are recomputed on
 * push (insertion sort of ≤ 8 values), read for free.
 */
export class SortedWindow {
  private readonly values: Float64Array
  private readonly scratch: Float64Array
  private head = 0
  private count = 0
  private cachedMedian = 0
  private cachedMiddleMean = 0
  private cachedMean = 0

  constructor(readonly capacity: number) {
    this.values = new Float64Array(capacity)
    this.scratch = new Float64Array(capacity)
  }

  get size(): number {
    return this.count
  }

  push(v: number): void {
    this.values[this.head] = v
    this.head = (this.head + 1) % this.capacity
    if (this.count < this.capacity) this.count++
    this.cachedMedian = this.computeMedian()
    this.cachedMiddleMean = (this.scratch[(this.count - 1) >> 1]! + this.scratch[this.count >> 1]!) / 2
    let sum = 0
    for (let i = 0; i < this.count; i++) sum += this.values[i]!
    this.cachedMean = sum / this.count
  }

  clear(): void {
    this.head = 0
    this.count = 0
    this.cachedMedian = 0
    this.cachedMiddleMean = 0
    this.cachedMean = 0
  }

  /** Median of the values held (0 when empty). */
  median(): number {
    return this.cachedMedian
  }

  /** The textbook median: for an even count the mean of the two middle values (0 when empty). */
  middleMean(): number {
    return this.cachedMiddleMean
  }

  /** Mean of the values held (0 when empty). */
  mean(): number {
    return this.cachedMean
  }

  private computeMedian(): number {
    const s = this.scratch
    const n = this.count
    for (let i = 0; i < n; i++) {
      const v = this.values[i]!
      let j = i - 1
      while (j >= 0 && s[j]! > v) {
        s[j + 1] = s[j]!
        j--
      }
      s[j + 1] = v
    }
    return s[n >> 1]!
  }
}
