/**
 * The QRS detector's front end: band-pass, derivative, absolute value, moving-window integration.
 *
 * Source: Hamilton PS, Tompkins WJ, "Quantitative investigation of QRS detection rules using the
 * MIT/BIH arrhythmia database", IEEE TBME 33(12):1157-1165, 1986, and its open-source
 * implementation (EP Limited OSEA, qrsfilt.c). That front end is designed at 200 Hz with window
 * lengths in milliseconds; here every length is derived from `rateHz` (125–500 Hz) so the same
 * code runs on Polar PMD (130 Hz), MIT-BIH (360 Hz) and BIDMC (125 Hz).
 *
 * All stages are linear-phase FIR (moving sums), so the group delay is an exact, documented number
 * of samples, which is what lets the detector put the R peak back where it was.
 *
 * Stages (lengths at rateHz):
 *  - low-pass: two cascaded 25 ms moving averages (first null 40 Hz; OSEA lpfilt)
 *  - high-pass: x delayed by (H−1)/2 minus the mean over H ≈ 125 ms, H odd (OSEA hpfilt, ~5 Hz)
 *  - derivative over 10 ms, scaled to µV per 10 ms so thresholds do not depend on rateHz
 *  - |·| and an 80 ms moving average (OSEA mvwint)
 */

export class QrsFilter {
  readonly lpLength: number
  readonly hpLength: number
  readonly derivLag: number
  readonly windowLength: number
  /** Samples between a raw sample and its band-passed copy (`bandpass` output). */
  readonly bandpassDelay: number

  private readonly lp1: Float64Array
  private readonly lp2: Float64Array
  private readonly hp: Float64Array
  private readonly der: Float64Array
  private readonly mwi: Float64Array
  private lp1Sum = 0
  private lp2Sum = 0
  private hpSum = 0
  private mwiSum = 0
  private i = 0
  private readonly derivScale: number
  /** Band-passed sample of the last `step` (delayed by `bandpassDelay`). */
  bandpass = 0
  /** Low-passed sample of the last `step` (delayed by `lpLength − 1`). */
  lowpass = 0
  /** Derivative of the band-passed signal of the last `step`, µV per 10 ms. */
  slope = 0

  constructor(rateHz: number) {
    this.lpLength = Math.max(2, Math.round(0.025 * rateHz))
    this.hpLength = oddAtLeast3(Math.round(0.125 * rateHz))
    this.derivLag = Math.max(1, Math.round(0.01 * rateHz))
    this.windowLength = Math.max(2, Math.round(0.08 * rateHz))
    this.bandpassDelay = this.lpLength - 1 + (this.hpLength - 1) / 2
    this.derivScale = (0.01 * rateHz) / this.derivLag
    this.lp1 = new Float64Array(this.lpLength)
    this.lp2 = new Float64Array(this.lpLength)
    this.hp = new Float64Array(this.hpLength)
    this.der = new Float64Array(this.derivLag)
    this.mwi = new Float64Array(this.windowLength)
  }

  /** Samples between a raw sample and the centre of the integration window it lands in. */
  get integratorDelay(): number {
    return this.bandpassDelay + this.derivLag / 2 + (this.windowLength - 1) / 2
  }

  /**
   * Feeds one raw sample (µV); returns the integrated |slope| (µV per 10 ms) and sets
   * `bandpass` and `slope`. The running sums' float64 rounding error random-walks at about
   * 1e-16 of the sum per sample: negligible after months of input.
   */
  step(x: number): number {
    const i = this.i++
    const k1 = i % this.lpLength
    this.lp1Sum += x - this.lp1[k1]!
    this.lp1[k1] = x
    const a = this.lp1Sum / this.lpLength
    this.lp2Sum += a - this.lp2[k1]!
    this.lp2[k1] = a
    const b = this.lp2Sum / this.lpLength
    const kh = i % this.hpLength
    this.hpSum += b - this.hp[kh]!
    this.hp[kh] = b
    const mid = this.hp[(i + (this.hpLength + 1) / 2) % this.hpLength]!
    const bp = mid - this.hpSum / this.hpLength
    const kd = i % this.derivLag
    const d = (bp - this.der[kd]!) * this.derivScale
    this.der[kd] = bp
    const ad = d < 0 ? -d : d
    const kw = i % this.windowLength
    this.mwiSum += ad - this.mwi[kw]!
    this.mwi[kw] = ad
    this.bandpass = bp
    this.lowpass = b
    this.slope = d
    return this.mwiSum / this.windowLength
  }
}

function oddAtLeast3(n: number): number {
  const m = Math.max(3, n)
  return m % 2 === 1 ? m : m + 1
}
