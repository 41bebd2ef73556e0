/**
 * Ventricular fibrillation and flutter from the ECG itself (not from missing beats), one stream,
 * judged every VF_STEP_MS on the last VF_WINDOW_MS of the analyzer's filtered signal.
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
 *  - to start an episode: no QRS complexes in the window (VF_MAX_SHARPNESS, below), no
 *    organised rhythm seen by the QRS detector, and no artefact by the signal-quality estimate
 *    (the caller's judgement, rhythm.ts: the last quality block's high-frequency noise, muscle
 *    and electrode crackle above the QRS band, under its limit; VF itself has no such content).
 * The classic false VF is an oscillation (tremor, tooth brushing, motion) in the VF band with the
 * patient's QRS complexes riding on it: leakage and crossings see only the oscillation. What tells
 * them apart is the QRS complexes themselves, which carry their energy at 10–25 Hz where VF has
 * little (the premise of the spectral VF detectors, Barro et al. 1989, evaluated as SPEC in Amann,
 * Tratnig & Unterkofler, BioMed Eng OnLine 4:60, 2005). The sharpness of a window is the largest
 * |second difference| (10 ms lag; gain ≈ 0.1 at 5 Hz, ≈ 1.3 at 20 Hz) over its mean: a QRS on a
 * tremor stands out of it, VF's own waves do not. Measured (4 s windows, 0.5 s steps) where
 * leakage and crossings say VF: 207's flutter median 5.8, 90th percentile 7.3; the simulated
 * patch's VF 3.1; MIT-BIH under a 400 µV 5 Hz tremor (rhythm-noise.test.ts) 2nd percentile 8.8,
 * median 14; under 1.5 mV motion with ±200 µV white noise only 6.5 and 10.9 (the white noise
 * hides the QRS's sharpness), which the artefact rule catches: its high-frequency noise is
 * ≥ 0.089 of the R amplitude in every such window, and 207's flutter's 0.058 (median).
 * The second difference is O(1) per sample, summed per VF_STEP_MS piece.
 * Persistence: an episode starts when the window has been VF-like on every analysis for
 * VF_PERSIST_MS (so VF is called VF_WINDOW_MS + VF_PERSIST_MS after its onset, at most one step
 * later); VF_END_MS of unlike analyses end it.
 * Fixed memory: a few scalars and arrays of VF_PIECES; O(window) work per analysis.
 */
import { vfLeakage } from './vf-filter.js'

export const VF_LEAKAGE_MAX = 0.45
const VF_LEAKAGE_HOLD = 0.6
export const VF_WINDOW_MS = 4000
/** Analyses every 0.5 s: the call is at most half a second behind its condition. */
export const VF_STEP_MS = 500
/**
 * The window VF-like for 1.5 s (4 analyses) before an episode starts: the condition is met
 * VF_WINDOW_MS + VF_PERSIST_MS = 5.5 s after VF's onset, and the call comes at the analysis that
 * meets it (at most VF_STEP_MS later). IEC 60601-2-27:2011 201.7.9.2.9.101 b) 6) has monitors
 * disclose their time to alarm for its ventricular tachycardia waveforms; Mindray discloses
 * < 11 s (uMEC10 operator's manual A-8, easymanua.ls/mindray/umec10/manual?p=232). Measured with
 * rhythm-noise.test.ts (no false VF under tremor and motion): 1 s (3 analyses) is already
 * enough; without the artefact rule 2 s is. On noise the guards were not measured with (tremor
 * at 4 Hz 600 µV, 6.5 Hz 300 µV, 5 Hz 800 µV + white; motion 2 mV at 1.5–3 Hz + white; every
 * other minute of the 34 records), 1.5 s leaves 2, 8, 12 and 4 false VF calls, 2 s 0, 4, 8 and 0
 * (the code before these guards: 67, 49, 189, 292); but 2 s misses one of 207's short flutter
 * episodes (4 of 6 over the whole record, 1.5 s 5 of 6). 1.5 s: a missed VF is the worse error
 * [LOCAL].
 */
export const VF_PERSIST_MS = 1500
const VF_END_MS = 2000
const VF_MIN_HZ = 2.5
const VF_MAX_HZ = 10
const VF_MIN_UV = 30
const VF_MAX_SHARPNESS = 7.5
/** Samples per second the window features are computed on (every 3rd at 360 Hz, all at 130 Hz). */
const VF_SAMPLES_PER_S = 100

/** What an analysis means for the VF episode: none, it starts, it ends. */
export type VfVerdict = 'none' | 'onset' | 'offset'

export class VfDetector {
  readonly windowSamples: number
  /** Samples between analyses (VF_STEP_MS). */
  readonly stepSamples: number
  /** Every stride-th sample of the window is judged: VF lies under 10 Hz (the ring is already smoothed over 20 ms). */
  private readonly stride: number
  private readonly onsetAnalyses: number
  private readonly endAnalyses: number
  /** Leakage of the last judged window (tests, tuning). */
  lastLeakage = 1
  /** Sharpness of the last judged window (tests, tuning). */
  lastSharpness = Infinity
  /** The last window was dominated by an oscillation in the VF band (leakage and crossings), QRS complexes or not. */
  oscillation = false
  /** Where the episode that is starting began: half a window before its first VF-like analysis. */
  firstAt = 0
  private vfCount = 0
  private notVfCount = 0
  // sharpness: |second difference| of the filtered ECG, its max and sum per piece (one step)
  private readonly lag: number
  private readonly last: Float64Array
  private lastIndex = 0
  private dMax = 0
  private dSum = 0
  private dCount = 0
  private readonly pieceMax: Float64Array
  private readonly pieceSum: Float64Array
  private readonly pieceCount: Float64Array
  private pieces = 0

  constructor(private readonly rateHz: number) {
    this.windowSamples = Math.round((VF_WINDOW_MS * rateHz) / 1000)
    this.stepSamples = Math.round((VF_STEP_MS * rateHz) / 1000)
    this.stride = Math.max(1, Math.floor(rateHz / VF_SAMPLES_PER_S))
    this.onsetAnalyses = Math.round(VF_PERSIST_MS / VF_STEP_MS) + 1
    this.endAnalyses = Math.round(VF_END_MS / VF_STEP_MS)
    this.lag = Math.max(1, Math.round(rateHz / 100))
    this.last = new Float64Array(2 * this.lag + 1)
    const pieces = Math.round(VF_WINDOW_MS / VF_STEP_MS)
    this.pieceMax = new Float64Array(pieces)
    this.pieceSum = new Float64Array(pieces)
    this.pieceCount = new Float64Array(pieces)
  }

  /** True while the last analysis was VF-like (an episode may be starting). */
  get pending(): boolean {
    return this.vfCount > 0
  }

  /** One sample of the filtered ECG (µV), as it goes into the ring. */
  addSample(f: number): void {
    const size = this.last.length
    const i = this.lastIndex
    this.last[i] = f
    this.lastIndex = i + 1 === size ? 0 : i + 1
    // last[i] is x[n]; x[n − lag] and x[n − 2 lag] lie lag and 2 lag slots back
    const a = this.last[(i - this.lag + size) % size]!
    const b = this.last[this.lastIndex]! // the oldest slot: x[n − 2 lag]
    const d2 = f - 2 * a + b
    const d = d2 < 0 ? -d2 : d2
    if (d > this.dMax) this.dMax = d
    this.dSum += d
    this.dCount++
  }

  /**
   * An analysis at absolute sample `n` (every stepSamples): judges the window of `ring` (filtered
   * ECG, read as `ring[i & mask]`) ending there. `inEpisode`: a VF episode is open; `notVf`:
   * the caller sees an organised rhythm or artefact (rhythm.ts), so no episode may start.
   */
  judge(ring: Float32Array, mask: number, n: number, inEpisode: boolean, notVf: boolean): VfVerdict {
    this.closePiece()
    const length = this.windowSamples
    if (n < length) return 'none'
    const leak = vfLeakage(ring, mask, n, length, this.stride)
    this.lastLeakage = leak
    this.lastSharpness = this.sharpness()
    this.oscillation = leak < VF_LEAKAGE_HOLD && this.oscillating(ring, mask, n, length)
    const vfLike =
      leak < (inEpisode ? VF_LEAKAGE_HOLD : VF_LEAKAGE_MAX) &&
      this.oscillation &&
      (inEpisode || (this.lastSharpness < VF_MAX_SHARPNESS && !notVf))
    if (vfLike) {
      if (this.vfCount === 0) this.firstAt = n - length / 2 // VF took at least half the window to pull the leakage down
      this.notVfCount = 0
      return ++this.vfCount >= this.onsetAnalyses && !inEpisode ? 'onset' : 'none'
    }
    this.vfCount = 0
    return ++this.notVfCount >= this.endAnalyses && inEpisode ? 'offset' : 'none'
  }

  /** No ECG to judge (leads off, saturation): VF-like analyses so far count for nothing. */
  reset(): void {
    this.vfCount = 0
  }

  /** An analysis skipped for want of ECG. */
  skip(): void {
    this.closePiece()
    this.vfCount = 0
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

  private closePiece(): void {
    const k = this.pieces++ % this.pieceMax.length
    this.pieceMax[k] = this.dMax
    this.pieceSum[k] = this.dSum
    this.pieceCount[k] = this.dCount
    this.dMax = this.dSum = this.dCount = 0
  }

  /** Largest |second difference| over its mean, over the pieces of the window. */
  private sharpness(): number {
    let max = 0
    let sum = 0
    let count = 0
    for (let k = 0; k < this.pieceMax.length; k++) {
      if (this.pieceMax[k]! > max) max = this.pieceMax[k]!
      sum += this.pieceSum[k]!
      count += this.pieceCount[k]!
    }
    return sum > 0 ? (max * count) / sum : Infinity
  }
}
