/**
 * High-frequency noise of an ECG stream, for the signal-quality flag (heart-rate.ts).
 * Per piece of ~100 ms, the mean |raw − low-passed| (what lies above the QRS filter's ~40 Hz
 * low-pass: muscle, mains, electrode crackle); `take` returns the 30th percentile of the pieces
 * since the last call, which skips the QRS complexes (they have such content too), as a fraction
 * of a reference amplitude (the median R amplitude). Fixed memory: at most 64 pieces per call
 * are kept (6.4 s at 100 ms; blocks are 1 s by default).
 *
 * Measured on the 34 MIT-BIH records in 1 s blocks: median 0.012, 99th percentile 0.067; the 8
 * BIDMC records stay under 0.03; with 100 µV rms of added white noise (Se −0.03 %, +P −0.1 %)
 * the median is 0.088 (bench/results/signal.md).
 */
const MAX_PIECES = 64

export class HighFrequencyNoise {
  private readonly pieces = new Float64Array(MAX_PIECES)
  private count = 0
  private sum = 0
  private fill = 0

  constructor(private readonly pieceSamples: number) {}

  /** One sample's |raw − low-passed|, µV. */
  add(absResidualUv: number): void {
    this.sum += absResidualUv
    if (++this.fill < this.pieceSamples) return
    if (this.count < MAX_PIECES) this.pieces[this.count++] = this.sum / this.fill
    this.sum = 0
    this.fill = 0
  }

  /** Noise since the last call as a fraction of `referenceUv`; NaN without a complete piece or reference. */
  take(referenceUv: number): number {
    const k = this.count
    this.count = 0
    if (k === 0 || !(referenceUv > 0)) return NaN
    const sorted = this.pieces.subarray(0, k).sort()
    return sorted[Math.floor(0.3 * (k - 1))]! / referenceUv
  }
}
