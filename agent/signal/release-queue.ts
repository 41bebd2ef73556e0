/**
 * Holds detected beats until their fixed delivery time (R peak + delay), so that every ordinary
 * beat leaves the detector exactly the same number of samples after its R peak (qrs.ts header).
 * A FIFO of R-peak indices in a fixed ring: beats are detected in R order, so the head is always
 * the next one due.
 */
/** Where detected beats go (the QRS detector's output, through this queue). */
export interface BeatSink {
  /** One detected beat: the R-peak sample index on the detector's input (0 = first sample pushed). */
  onBeat(rPeakIndex: number): void
}

/** 16 beats within one delay (< 0.6 s) would be 1,600 /min: the ring never fills in practice. */
const CAPACITY = 16

export class ReleaseQueue {
  private readonly ring = new Float64Array(CAPACITY)
  private head = 0
  private count = 0

  constructor(
    readonly delaySamples: number,
    private readonly sink: BeatSink,
  ) {}

  get size(): number {
    return this.count
  }

  add(rPeakIndex: number): void {
    if (this.count === CAPACITY) this.releaseOne() // deliver early rather than drop a beat
    this.ring[(this.head + this.count) % CAPACITY] = rPeakIndex
    this.count++
  }

  /** Delivers every beat due once `samplesSeen` samples have been consumed. */
  releaseDue(samplesSeen: number): void {
    while (this.count > 0 && samplesSeen >= this.ring[this.head]! + this.delaySamples) this.releaseOne()
  }

  /** End of stream: delivers the beats whose R peak is before `end`, forgets the rest. */
  drain(end: number): void {
    while (this.count > 0 && this.ring[this.head]! < end) this.releaseOne()
    this.count = 0
  }

  private releaseOne(): void {
    const r = this.ring[this.head]!
    this.head = (this.head + 1) % CAPACITY
    this.count--
    this.sink.onBeat(r)
  }
}
