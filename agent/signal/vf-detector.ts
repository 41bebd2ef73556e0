/**
 * Ventricular fibrillation and flutter from the ECG itself (not from missing beats), one stream,
 * judged once per quality block (1 s) on the last VF_WINDOW_MS of the analyzer's filtered signal.
 * A window is VF-like when all of these hold:
 *  - the leakage of Kuo & Dillman's VF filter (vf-filter.ts) is under VF_LEAKAGE_MAX (once in VF,
 *    VF_LEAKAGE_HOLD: VFL's leakage wanders, 90th percentile 0.57). Measured on the 34 public
 *    MIT-BIH records in 1 s steps of 4 s windows: the 121 windows inside 207's flutter have median
 *    leakage 0.39; the lowest of the 61,080 windows away from it is 0.50 (205's VT); 0.45 keeps
 *    68 % of the flutter windows with that margin;
 *  - 2.5–10 oscillations per second (ventricular flutter is 150–300 /min, VF up to 600 /min;
 *    slower swings are motion), counted as threshold crossings with hysteresis at ±1/5 of the
 *    window's peak, the threshold of Thakor's TCI (IEEE TBME 37:837, 1990): unlike the VF filter's
 *    mean-period estimate, noise on a slow swing does not raise the count;
 *  - a mean |amplitude| of at least VF_MIN_UV (fine VF is still ≥ 100 µV peak to peak);
 *  - to start an episode: no sharp complexes (the largest step of the 10 ms-averaged ECG over the
 *    last 2 blocks under VF_MAX_PEAKINESS mean steps: inside 207's flutter 4.4–6.8, 10th–90th
 *    percentile; the 62 windows of other rhythms with leakage under 0.6 all ≥ 7.7; a 400 µV 5 Hz
 *    tremor on the simulated 130 Hz ECG 8.6), and no organised rhythm seen by the QRS detector
 *    (the caller's judgement, rhythm.ts). Both are [LOCAL] guards against the classic false VF,
 *    an oscillation (tremor, tooth brushing, motion) with QRS complexes through it.
 * VF_BLOCKS VF-like blocks in a row start an episode, as many unlike blocks end it.
 * Fixed memory: a few scalars and arrays of VF_BLOCKS_WINDOW; O(window) work per block.
 */
import { vfLeakage } from './vf-filter.js'

export const VF_LEAKAGE_MAX = 0.45
const VF_LEAKAGE_HOLD = 0.6
export const VF_WINDOW_MS = 4000
const VF_MIN_HZ = 2.5
const VF_MAX_HZ = 10
const VF_MIN_UV = 30
const VF_MAX_PEAKINESS = 7.5
const VF_BLOCKS_WINDOW = 2
const VF_BLOCKS = 2
/** Samples per second the window features are computed on (every 3rd at 360 Hz, all at 130 Hz). */
const VF_SAMPLES_PER_S = 100

/** What a block means for the VF episode: none, it starts, it ends. */
export type VfVerdict = 'none' | 'onset' | 'offset'

export class VfDetector {
  readonly windowSamples: number
  /** Every stride-th sample of the window is judged: VF lies under 10 Hz (the ring is already smoothed over 20 ms). */
  private readonly stride: number
  /** Leakage of the last judged window (tests, tuning). */
  lastLeakage = 1
  /** Where the episode that is starting began: half a window before its first VF-like block. */
  firstAt = 0
  private vfBlocks = 0
  private notVfBlocks = 0
  // sharpness: steps of a 10 ms moving average of the baseline-free ECG, per block
  private readonly smoothLength: number
  private readonly smoothRing: Float64Array
  private smooth = 0
  private k = 0
  private stepMax = 0
  private stepSum = 0
  private stepCount = 0
  private readonly blockStepMax = new Float64Array(VF_BLOCKS_WINDOW)
  private readonly blockStepSum = new Float64Array(VF_BLOCKS_WINDOW)
  private readonly blockStepCount = new Float64Array(VF_BLOCKS_WINDOW)
  private blocks = 0

  constructor(private readonly rateHz: number) {
    this.windowSamples = Math.round((VF_WINDOW_MS * rateHz) / 1000)
    this.stride = Math.max(1, Math.floor(rateHz / VF_SAMPLES_PER_S))
    this.smoothLength = Math.max(1, Math.round(rateHz / 100))
    this.smoothRing = new Float64Array(this.smoothLength)
  }

  /** True while the last block was VF-like (an episode may be starting). */
  get pending(): boolean {
    return this.vfBlocks > 0
  }

  /** One sample of the baseline-free ECG (µV): white noise averages out over 10 ms, a QRS's steep flank does not. */
  addSample(y: number): void {
    const j = this.k
    this.k = j + 1 === this.smoothLength ? 0 : j + 1
    const s = this.smooth + (y - this.smoothRing[j]!) / this.smoothLength
    this.smoothRing[j] = y
    const step = s > this.smooth ? s - this.smooth : this.smooth - s
    this.smooth = s
    if (step > this.stepMax) this.stepMax = step
    this.stepSum += step
    this.stepCount++
  }

  /**
   * A block ended at absolute sample `n`: judges the window of `ring` (filtered ECG, read as
   * `ring[i & mask]`) ending there. `inEpisode`: a VF episode is open; `organised`: the QRS
   * detector sees a regular rhythm (rhythm.ts).
   */
  judge(ring: Float32Array, mask: number, n: number, inEpisode: boolean, organised: boolean): VfVerdict {
    this.closeBlock()
    const length = this.windowSamples
    if (n < length) return 'none'
    const leak = vfLeakage(ring, mask, n, length, this.stride)
    this.lastLeakage = leak
    const vfLike =
      leak < (inEpisode ? VF_LEAKAGE_HOLD : VF_LEAKAGE_MAX) &&
      this.oscillating(ring, mask, n, length) &&
      (inEpisode || (this.peakiness() < VF_MAX_PEAKINESS && !organised))
    if (vfLike) {
      if (this.vfBlocks === 0) this.firstAt = n - length / 2 // VF took at least half the window to pull the leakage down
      this.notVfBlocks = 0
      return ++this.vfBlocks >= VF_BLOCKS && !inEpisode ? 'onset' : 'none'
    }
    this.vfBlocks = 0
    return ++this.notVfBlocks >= VF_BLOCKS && inEpisode ? 'offset' : 'none'
  }

  /** No ECG to judge (leads off, saturation): the block counts for nothing. */
  skip(): void {
    this.closeBlock()
    this.vfBlocks = 0
  }

  /** 2.5–10 threshold-crossing cycles per second and a mean |value| of at least VF_MIN_UV. */
  private oscillating(ring: Float32Array, mask: number, n: number, length: number): boolean {
    let max = 0
    let sumAbs = 0
    const stride = this.stride
    for (let i = n - length; i < n; i += stride) {
      const v = ring[i & mask]!
      const a = v < 0 ? -v : v
      sumAbs += a
      if (a > max) max = a
    }
    const t = max / 5
    let state = 0
    let cycles = 0
    for (let i = n - length; i < n; i += stride) {
      const v = ring[i & mask]!
      if (v > t && state <= 0) {
        if (state < 0) cycles++
        state = 1
      } else if (v < -t) state = -1
    }
    const hz = (cycles * this.rateHz) / length
    return hz >= VF_MIN_HZ && hz <= VF_MAX_HZ && (sumAbs * stride) / length >= VF_MIN_UV
  }

  private closeBlock(): void {
    const k = this.blocks++ % VF_BLOCKS_WINDOW
    this.blockStepMax[k] = this.stepMax
    this.blockStepSum[k] = this.stepSum
    this.blockStepCount[k] = this.stepCount
    this.stepMax = this.stepSum = this.stepCount = 0
  }

  /** Largest step over the mean step of the last VF_BLOCKS_WINDOW blocks. */
  private peakiness(): number {
    let max = 0
    let sum = 0
    let count = 0
    for (let k = 0; k < VF_BLOCKS_WINDOW; k++) {
      if (this.blockStepMax[k]! > max) max = this.blockStepMax[k]!
      sum += this.blockStepSum[k]!
      count += this.blockStepCount[k]!
    }
    return sum > 0 ? (max * count) / sum : Infinity
  }
}
