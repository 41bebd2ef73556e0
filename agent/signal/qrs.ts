/**
 * Streaming QRS detector: samples in (µV, any rate 125–500 Hz), R-peak sample indices out.
 *
 * Choice and source: the Hamilton & Tompkins decision rules on the Pan & Tompkins front end
 * (Hamilton PS, Tompkins WJ, IEEE TBME 33(12):1157-1165, 1986: Se 99.69 %, +P 99.77 % on MIT-BIH;
 * open-source form: EP Limited OSEA qrsdet2.c). It was chosen over newer detectors because its
 * rules are few, each is published with its measured effect on MIT-BIH, it is causal with a
 * bounded look-ahead, and it needs O(1) work and memory per sample. The rules:
 *  - a candidate is a peak of the integrated slope not exceeded within 195 ms (pre-blanking);
 *  - threshold = noise median + 0.25 × (QRS level − noise median) over the last 8 peaks of each
 *    (OSEA uses 0.3125 on medians; 0.25 is Pan & Tompkins' THRESHOLD I1, and on the MIT-BIH
 *    records at hand it trades 3 more false beats for 65 fewer missed ones);
 *  - search-back: no QRS for 1.5 × mean RR → take the largest noise peak above half the
 *    threshold that came at least 360 ms after the last QRS;
 *  - baseline-shift rejection: a QRS has both a rising and a falling slope within 150 ms;
 *  - T-wave rejection (Pan & Tompkins 1985, §II.F): within 360 ms of a QRS, a candidate whose
 *    maximal slope is under half that QRS's is a T wave;
 *  - 8 s without a QRS → thresholds re-learnt from the last 8 one-second maxima.
 * Changes for ectopy (issue 20), each measured in BENCHMARKS.md "Issue 20":
 *  - the QRS level is the mean of the two middle values of the 8 QRS peaks, not OSEA's upper
 *    middle value: in bigeminy that value is the smallest beat of the larger kind, and beats of
 *    the smaller kind fell under a quarter of it (the lower middle value alone finds more of them
 *    but lets more noise and, at 125 Hz, P waves through);
 *  - search-back waits for 1.5 × the mean RR (Pan & Tompkins' RR AVERAGE1), not the median: in
 *    bigeminy the median is the long interval, so a missed short-coupled beat never triggered it;
 *  - a search-back candidate must also reach 15 % of the median R amplitude (band-passed): the
 *    largest noise peak of a long pause in noise is otherwise taken for a beat (15 % chosen by
 *    scripts/qrs-cv.ts; 30 % halves those false beats in heavy noise but loses small real beats);
 *  - a candidate in the T-wave zone whose integrated slope reaches the median QRS peak is a
 *    premature beat, not a T wave, whatever its maximal slope: a wide ventricular beat has a lower
 *    slope than the narrow beat before it, a T wave does not have a QRS's integrated slope (the
 *    median peak, not a lower level: against the lower middle value lead 1's tall T waves gave 10
 *    more false beats).
 * Additions here: every window is in ms and converted with `rateHz`; the R peak is put back on the
 * raw time axis (filter delay removed) at the largest band-passed deflection within ±80 ms of the
 * integrator's estimate; a 3 s learning period instead of OSEA's 8 s; beats closer than 200 ms
 * (above 300 /min) are merged; re-learning never drops the threshold under a floor (asystole).
 *
 * Detection delay (fixed, documented): an ordinary beat is delivered exactly `releaseDelaySamples`
 * after its R peak (filter delay + 95 ms peak wait + 195 ms pre-blank + 80 ms localisation + one
 * integration window: 0.578 s at 360 Hz, 0.562 s at 130 Hz, 0.568 s at 125 Hz). A beat
 * recovered by search-back is delivered as soon as it is found, at most 1.5 × mean RR + 0.3 s
 * after the previous beat.
 * Memory: fixed-size typed arrays sized from rateHz at construction; nothing grows.
 */
import { QrsFilter } from './qrs-filter.js'
import { HighFrequencyNoise } from './noise.js'
import { ReleaseQueue, type BeatSink } from './release-queue.js'
import { SortedWindow } from './sorted-window.js'

export type { BeatSink }

/**
 * Peaks of the integrated slope (µV per 10 ms) below MIN_PEAK_UV are never candidates; peaks below
 * NOISE_MIN_UV may still be a QRS (if above the threshold of a low-amplitude lead) but never enter
 * the noise estimate. OSEA has one limit, MIN_PEAK_AMP = 7 units at 200 ADC/mV ≈ 35 µV. Measured on
 * MIT-BIH lead 1 (V1/V2/V4/V5, used only as a generalisation check, never scored as the goal): one
 * limit at 35 misses 2,228 beats of low-amplitude leads (988 in 205's tiny V1); candidates from 20
 * with the noise estimate from 35 miss 1,001 (Se 98.4 %, +P 99.3 %); letting the small peaks into
 * the noise median too lowers the threshold: lead 1 Se 99.5 % but +P falls under added noise
 * (white 100 µV rms: 99.87 → 99.29 %), so it is not done. Lead 0 is the same either way within
 * 0.05 %. 20 µV rms of white noise peaks at 15 µV/10 ms at 125 Hz and 8 at 360 Hz.
 */
const MIN_PEAK_UV = 20
const NOISE_MIN_UV = 35

/**
 * The detector's free parameters. The agent uses DEFAULT_TUNING; other values exist only for the
 * cross-validation tool (scripts/qrs-cv.ts), which tunes them on one half of the records and
 * scores the other.
 */
export interface QrsTuning {
  /** Threshold = noise level + this × (QRS level − noise level). */
  readonly thresholdFraction: number
  /** Search-back starts after this many mean RR intervals without a QRS. */
  readonly searchBackRr: number
  /** A search-back candidate's band-passed amplitude must reach this fraction of the median R amplitude. */
  readonly searchBackMinAmplitude: number
}

export const DEFAULT_TUNING: QrsTuning = Object.freeze({ thresholdFraction: 0.25, searchBackRr: 1.5, searchBackMinAmplitude: 0.15 })

const LEARN_SECONDS = 3

export class QrsDetector {
  readonly rateHz: number
  /** Samples between an ordinary beat's R peak and its delivery to the sink. */
  readonly releaseDelaySamples: number
  private readonly filter: QrsFilter
  // windows in samples, from rateHz (Hamilton & Tompkins / OSEA values in ms)
  private readonly peakWait: number // 95 ms
  private readonly preBlankLength: number // 195 ms
  private readonly tWaveZone: number // 360 ms
  private readonly minRr: number // 200 ms
  private readonly locateHalf: number // 80 ms
  private readonly shiftHalf: number // 110 ms
  private readonly slopePairMax: number // 150 ms
  // ring buffers on the raw time axis (index & mask)
  private readonly raw: Float64Array
  private readonly bp: Float64Array
  private readonly mask: number
  private n = 0
  // peak finder (OSEA Peak): a local maximum of the integrator output
  private pkMax = 0
  private pkIdx = 0
  private pkAge = 0
  private lastY = 0
  // pre-blanking: hold a peak 195 ms in case a bigger one follows
  private heldPeak = 0
  private heldIdx = 0
  private heldCount = 0
  // adaptive thresholds
  private readonly qrsPeaks = new SortedWindow(8)
  private readonly noisePeaks = new SortedWindow(8)
  private readonly rrs = new SortedWindow(8)
  private threshold = 0
  private thresholdFloor = 0
  private learning = true
  private secondMax = 0
  private secondCount = 0
  private readonly secondMaxima = new Float64Array(8)
  private secondsSinceQrs = 0
  // last accepted QRS (integrator time for intervals, raw time for the R peak)
  private lastQrsPeakIdx = -1e15
  private lastR = -1e15
  private lastSlope = 0
  /** Search-back waits 1.5 mean RR from here: the last QRS, or the end of (re)learning. */
  private searchFromIdx = 0
  // search-back candidate
  private sbPeak = 0
  private sbPeakIdx = 0
  private sbR = 0
  private sbSlope = 0
  private sbAmplitude = 0
  // beats waiting for their fixed release time
  private readonly pending: ReleaseQueue
  // noise estimate (noise.ts) and the R amplitudes it is measured against
  private readonly rAmplitudes = new SortedWindow(8)
  private readonly hfNoise: HighFrequencyNoise
  private strongRejects = 0
  // scratch results of locate()
  private locR = 0
  private locAmplitude = 0
  private locSlope = 0
  private locBaselineShift = false

  private readonly tuning: QrsTuning

  constructor(rateHz: number, sink: BeatSink, tuning: Partial<QrsTuning> = {}) {
    this.tuning = { ...DEFAULT_TUNING, ...tuning }
    if (!(rateHz >= 50 && rateHz <= 2000)) throw new RangeError(`QRS detector: rateHz ${rateHz} outside 50–2000`)
    this.rateHz = rateHz
    const ms = (t: number) => Math.max(1, Math.round((t * rateHz) / 1000))
    this.peakWait = ms(95)
    this.preBlankLength = ms(195)
    this.tWaveZone = ms(360)
    this.minRr = ms(200)
    this.locateHalf = ms(80)
    this.shiftHalf = ms(110)
    this.slopePairMax = ms(150)
    this.hfNoise = new HighFrequencyNoise(ms(100))
    this.filter = new QrsFilter(rateHz)
    const size = 1 << Math.ceil(Math.log2(rateHz * 2))
    this.raw = new Float64Array(size)
    this.bp = new Float64Array(size)
    this.mask = size - 1
    this.releaseDelaySamples = Math.ceil(this.filter.integratorDelay) + ms(80 + 95 + 195) + this.filter.windowLength
    this.pending = new ReleaseQueue(this.releaseDelaySamples, sink)
  }

  /** Samples consumed so far (the index the next pushed sample will get). */
  get sampleCount(): number {
    return this.n
  }

  /**
   * High-frequency noise since the last call as a fraction of the median R amplitude
   * (band-passed) of the last 8 beats (noise.ts); NaN before the first beats.
   */
  takeNoiseRatio(): number {
    return this.hfNoise.take(this.rAmplitudes.median())
  }

  /**
   * Candidates rejected since the last call although above half the threshold (T waves, baseline
   * shifts, artefact). A clean ECG has at most one per beat (its T wave); several per second mean
   * QRS-like artefact in the band the detector works in, which the high-frequency ratio misses.
   */
  takeStrongRejects(): number {
    const k = this.strongRejects
    this.strongRejects = 0
    return k
  }

  private trackNoise(n: number): void {
    const v = this.raw[(n - this.filter.lpLength + 1) & this.mask]! - this.filter.lowpass
    this.hfNoise.add(v < 0 ? -v : v)
  }

  /**
   * Consumes a chunk of samples in µV; calls `sink.onBeat` for every beat whose release time is
   * reached. A non-finite sample (a decoder's "no value") is replaced by the previous one: one NaN
   * in a running sum would otherwise silence the detector for good.
   */
  push(samples: ArrayLike<number>): void {
    for (let i = 0; i < samples.length; i++) this.step(samples[i]!)
  }

  private step(value: number): void {
    const n = this.n
    const x = Number.isFinite(value) ? value : this.raw[(n - 1) & this.mask]!
    const y = this.filter.step(x)
    this.raw[n & this.mask] = x
    this.trackNoise(n)
    this.bp[(n - this.filter.bandpassDelay) & this.mask] = this.filter.bandpass
    const peak = this.findPeak(y, n)
    const candidate = this.preBlank(peak)
    if (candidate > 0) this.classify(candidate, this.heldIdx)
    this.everySecond(peak)
    if (!this.learning) this.searchBack(n)
    this.n = n + 1
    if (this.pending.size > 0) this.pending.releaseDue(this.n)
  }

  /** OSEA Peak(): a maximum is reported once the signal falls below half of it or 95 ms pass. */
  private findPeak(y: number, n: number): number {
    let pk = 0
    if (this.pkAge > 0) this.pkAge++
    if (y > this.lastY && y > this.pkMax) {
      this.pkMax = y
      this.pkIdx = n
      this.pkAge = 1
    } else if (this.pkMax > 0 && (y < this.pkMax / 2 || this.pkAge > this.peakWait)) {
      pk = this.pkMax
      this.pkMax = 0
      this.pkAge = 0
    }
    this.lastY = y
    return pk >= MIN_PEAK_UV ? pk : 0
  }

  /** Holds a peak for 195 ms; a bigger one within that time replaces it (one QRS per 195 ms). */
  private preBlank(peak: number): number {
    if (peak > 0 && (this.heldCount === 0 || peak > this.heldPeak)) {
      this.heldPeak = peak
      this.heldIdx = this.pkIdx
      this.heldCount = this.preBlankLength
      return 0
    }
    if (this.heldCount > 0 && --this.heldCount === 0) return this.heldPeak
    return 0
  }

  private classify(peak: number, peakIdx: number): void {
    if (this.learning) return
    this.locate(peakIdx)
    if (this.locBaselineShift) return
    const sinceQrs = peakIdx - this.lastQrsPeakIdx
    const tWave = sinceQrs < this.tWaveZone && this.locSlope < this.lastSlope / 2 && peak < this.qrsPeaks.median()
    if (peak > this.threshold && !tWave && this.locR - this.lastR >= this.minRr) {
      this.accept(peak, peakIdx, this.locR, this.locSlope, this.locAmplitude)
      return
    }
    if (peak < NOISE_MIN_UV) return
    if (peak > this.threshold / 2) this.strongRejects++
    this.noisePeaks.push(peak)
    this.updateThreshold()
    if (peak > this.sbPeak && sinceQrs >= this.tWaveZone && this.locR - this.lastR >= this.minRr) {
      this.sbPeak = peak
      this.sbPeakIdx = peakIdx
      this.sbR = this.locR
      this.sbSlope = this.locSlope
      this.sbAmplitude = this.locAmplitude
    }
  }

  private accept(peak: number, peakIdx: number, r: number, slope: number, amplitude: number): void {
    this.qrsPeaks.push(peak)
    this.rAmplitudes.push(amplitude)
    if (this.lastQrsPeakIdx > 0) this.rrs.push(peakIdx - this.lastQrsPeakIdx)
    this.updateThreshold()
    this.lastQrsPeakIdx = peakIdx
    this.searchFromIdx = peakIdx
    this.lastR = r
    this.lastSlope = slope
    this.sbPeak = 0
    this.secondsSinceQrs = 0
    this.thresholdFloor = 0
    this.pending.add(r)
  }

  /**
   * Search-back (Hamilton & Tompkins rule): no QRS for 1.5 × mean RR → the best noise peak, if above
   * threshold/2 and with an R amplitude that is not a fraction of the beats'.
   */
  private searchBack(n: number): void {
    if (this.sbPeak === 0) return
    const rr = this.rrs.size > 0 ? this.rrs.mean() : this.rateHz
    if (n - this.preBlankLength - this.searchFromIdx <= rr * this.tuning.searchBackRr + this.filter.windowLength) return
    if (this.sbPeak > this.threshold / 2 && this.sbAmplitude >= this.tuning.searchBackMinAmplitude * this.rAmplitudes.median()) {
      this.accept(this.sbPeak, this.sbPeakIdx, this.sbR, this.sbSlope, this.sbAmplitude)
    }
  }

  private updateThreshold(): void {
    const q = this.qrsPeaks.middleMean()
    const nz = this.noisePeaks.size > 0 ? this.noisePeaks.median() : 0
    this.threshold = Math.max(this.thresholdFloor, nz + this.tuning.thresholdFraction * (q - nz))
  }

  /**
   * Once per second: keep the second's largest peak. Ends the learning period, and re-learns the
   * thresholds after 8 s without a QRS. The re-learnt threshold keeps a floor, 1/8 of the QRS
   * median at the first re-learning and halved at each further one, so that P waves or noise in
   * asystole do not become "beats" 8 s later, while a lead whose amplitude really dropped is
   * picked up again within tens of seconds.
   */
  private everySecond(peak: number): void {
    if (peak > this.secondMax) this.secondMax = peak
    if (++this.secondCount < this.rateHz) return
    this.secondCount = 0
    this.secondMaxima[this.secondsSinceQrs % 8] = this.secondMax
    this.secondMax = 0
    this.secondsSinceQrs++
    if (this.learning && this.secondsSinceQrs === LEARN_SECONDS) this.relearn(0)
    else if (this.secondsSinceQrs === 8) this.relearn(this.thresholdFloor > 0 ? this.thresholdFloor / 2 : this.qrsPeaks.median() / 8)
  }

  private relearn(floor: number): void {
    const k = Math.min(this.secondsSinceQrs, 8)
    this.qrsPeaks.clear()
    this.noisePeaks.clear()
    for (let i = 0; i < 8; i++) this.qrsPeaks.push(this.secondMaxima[i % k]!)
    this.rrs.clear()
    this.thresholdFloor = floor
    this.updateThreshold()
    this.learning = false
    this.secondsSinceQrs = 0
    this.sbPeak = 0
    this.searchFromIdx = this.n
    this.lastQrsPeakIdx = -1e15 // the interval across a re-learning is not an RR for the median
  }

  /**
   * Puts the candidate on the raw time axis: the largest |band-passed| sample within ±80 ms of the
   * integrator's estimate; also its maximal slope and the baseline-shift test (OSEA BLSCheck:
   * a rising and a falling raw slope, each at least 1/8 of the other, less than 150 ms apart).
   */
  private locate(peakIdx: number): void {
    const est = Math.round(peakIdx - this.filter.integratorDelay)
    const half = this.locateHalf
    let best = est
    let bestAbs = -1
    let slope = 0
    for (let k = est - half; k <= est + half; k++) {
      const v = this.bp[k & this.mask]!
      const a = v < 0 ? -v : v
      if (a > bestAbs) {
        bestAbs = a
        best = k
      }
      const d = v - this.bp[(k - 1) & this.mask]!
      const ad = d < 0 ? -d : d
      if (ad > slope) slope = ad
    }
    this.locR = best
    this.locAmplitude = bestAbs
    this.locSlope = slope
    this.locBaselineShift = this.isBaselineShift(est)
  }

  private isBaselineShift(est: number): boolean {
    const lag = this.filter.derivLag
    let max = 0
    let min = 0
    let maxAt = 0
    let minAt = 0
    const w = this.shiftHalf
    for (let k = est - w; k <= est + w; k++) {
      const d = this.raw[k & this.mask]! - this.raw[(k - lag) & this.mask]!
      if (d > max) {
        max = d
        maxAt = k
      } else if (d < min) {
        min = d
        minAt = k
      }
    }
    min = -min
    return !(max > min / 8 && min > max / 8 && Math.abs(maxAt - minAt) < this.slopePairMax)
  }

  /**
   * End of stream (end of a record, or a patch that stops streaming): holds the last sample for
   * the detection delay so that a beat in the final half second is still judged, then delivers
   * every waiting beat whose R peak lies within the samples really pushed. The detector is
   * finished afterwards; make a new one for a new stream.
   */
  finish(): void {
    const end = this.n
    const last = this.raw[(end - 1) & this.mask]!
    for (let i = 0; i < this.releaseDelaySamples; i++) this.step(last)
    this.pending.drain(end)
  }
}
