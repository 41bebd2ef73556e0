/**
 * Per-block signal quality of one ECG stream: flat line (leads off) and saturation (clipping).
 * Noise is measured by the QRS detector, which already has the filtered signal (qrs.ts,
 * takeNoiseRatio). Pure and allocation-free: a few numbers per block, reset by `take()`.
 *
 * Thresholds and why:
 *  - flat line: peak-to-peak under 10 µV over a whole block. Any electrode on skin picks up more
 *    than that (baseline noise of ambulatory ECG is tens of µV; MIT-BIH quantises at 5 µV, so a
 *    constant record reads 0). A true asystole still shows baseline noise and is not "flat".
 *  - saturation: at least 10 % of the block sits exactly at the block's maximum or minimum (an
 *    amplifier rail: real ECG has noise of at least one quantisation step, so its extremes are
 *    single samples), or at or beyond the device's rails when they are known. Flat-topped R waves
 *    alone (bidmc_13: 4.5 % of samples clipped) stay under 10 % and do not stop beat detection,
 *    so they do not flag the block.
 */
import { Quality } from '../../drivers/records.js'

export const FLAT_P2P_UV = 10
export const SATURATED_FRACTION = 0.1

export class SignalQualityMeter {
  private min = Infinity
  private max = -Infinity
  private atMin = 0
  private atMax = 0
  private count = 0
  private beyondRails = 0

  /** @param railUv |sample| at or beyond which the device's ADC is saturated, when known. */
  constructor(private readonly railUv = Infinity) {}

  /** Adds samples [from, to) of `samples` (µV) to the current block. */
  add(samples: ArrayLike<number>, from: number, to: number): void {
    for (let i = from; i < to; i++) this.addOne(samples[i]!)
  }

  addOne(x: number): void {
    this.count++
    if (x > this.max) {
      this.max = x
      this.atMax = 1
    } else if (x === this.max) this.atMax++
    if (x < this.min) {
      this.min = x
      this.atMin = 1
    } else if (x === this.min) this.atMin++
    if (x >= this.railUv || x <= -this.railUv) this.beyondRails++
  }

  /** Closes the block: LEADS_OFF for a flat line, OUT_OF_RANGE for saturation (both for a flat line at a known rail), 0 when fine (or empty). */
  take(): number {
    const q = this.count === 0 ? 0 : this.judge()
    this.min = Infinity
    this.max = -Infinity
    this.atMin = this.atMax = this.count = this.beyondRails = 0
    return q
  }

  private judge(): number {
    const p2p = this.max - this.min
    const limit = SATURATED_FRACTION * this.count
    const railed = this.beyondRails >= limit ? Quality.OUT_OF_RANGE : 0
    if (p2p < FLAT_P2P_UV) return Quality.LEADS_OFF | railed
    return railed | (this.atMax + this.atMin >= limit ? Quality.OUT_OF_RANGE : 0)
  }
}
