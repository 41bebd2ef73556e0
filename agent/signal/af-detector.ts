/**
 * Atrial fibrillation from RR irregularity, with onset and offset.
 *
 * AF is "irregularly irregular": successive RR intervals differ by a large and random fraction,
 * while sinus rhythm (even with respiratory sinus arrhythmia) changes gradually and isolated
 * ectopic beats disturb only the intervals next to them. The measure follows the RR-only part of
 * Petrėnas, Marozas, Sörnmo et al. (Low-complexity detection of atrial fibrillation in continuous
 * long-term monitoring, Comput Biol Med 65:184-191, 2015): intervals next to ectopic (here:
 * ventricular) beats are left out, and the irregularity is a median of successive RR differences,
 * which ignores the occasional ectopic pair that escapes classification. Here:
 *     d = |RR[i] − RR[i−1]| / ((RR[i] + RR[i−1]) / 2),  irregularity = median of the last 32 d.
 * Onset when the irregularity reaches ONSET, the same measure against the interval two back too
 * (not bigeminy), and the P waves are missing (AF_MAX_WITH_P); offset
 * when it falls under OFFSET (hysteresis, so an
 * episode is not cut by a few regular beats). An episode starts where the median started to
 * move: WINDOW/2 intervals before the decision; it ends likewise.
 *
 * Thresholds, measured on the reference beats of the 34 public MIT-BIH records (one setting for
 * all records, the 14 others held out): the median d over 32 intervals is 0.02–0.04 in sinus
 * rhythm (0.05–0.06 in the strong sinus arrhythmia of 115 and 123) and 0.13–0.21 in the AF of
 * 201, 202, 221 and 222 (5th percentile 0.05–0.15). Dash et al. (Ann Biomed Eng 37:1701, 2009)
 * set their normalised RMSSD limit at 0.1 for the same reason.
 * Measured with both: AF duration +P 57 → 63 % (106's bigeminy), Se 93.3 → 93.2 %.
 * Memory: fixed (four windows of 32).
 */
import { SortedWindow } from './sorted-window.js'

export const AF_WINDOW = 32
export const AF_ONSET = 0.09
export const AF_OFFSET = 0.06
/**
 * AF onset also needs the P wave missing (p-wave.ts) in at least half the window's beats: an
 * irregular rhythm with its P waves is sinus arrhythmia or atrial ectopy. Measured on the public
 * records: AF duration +P 40 % → 57 % (115, 123, 214, 232 no longer called), Se 94.9 → 93.3 %.
 */
export const AF_MAX_WITH_P = 0.5

export interface AfTransition {
  readonly onset: boolean
  /** Sample index where the episode started (onset) or ended (offset). */
  readonly atSample: number
}

export class AfDetector {
  private readonly diffs = new SortedWindow(AF_WINDOW)
  /** The same with the interval two back: small in bigeminy (short-long-short-long), large in AF. */
  private readonly diffs2 = new SortedWindow(AF_WINDOW)
  private lastRr2 = 0
  /** 1 where the interval's beat had its usual P wave (p-wave.ts), over the same window. */
  private readonly withP = new Uint8Array(AF_WINDOW)
  private pCount = 0
  /** End samples of the beats whose intervals are in `diffs`, to date onsets and offsets. */
  private readonly beatAt = new Float64Array(AF_WINDOW)
  private head = 0
  private lastRr = 0
  private inAf = false

  get active(): boolean {
    return this.inAf
  }

  /**
   * One RR interval (samples) ending at `endSample`; `usable` false when either of its beats is
   * ectopic or in a stretch of bad signal (the next interval then has no neighbour to compare with);
   * `hadP` whether its beat had its usual P wave.
   * Returns the transition it causes, if any.
   */
  interval(rrSamples: number, endSample: number, usable: boolean, hadP = false): AfTransition | undefined {
    if (!usable || !(rrSamples > 0)) {
      this.lastRr = 0
      this.lastRr2 = 0
      return undefined
    }
    const prev = this.lastRr
    const prev2 = this.lastRr2
    this.lastRr2 = prev
    this.lastRr = rrSamples
    if (prev === 0) return undefined
    this.diffs.push(Math.abs(rrSamples - prev) / ((rrSamples + prev) / 2))
    if (prev2 > 0) this.diffs2.push(Math.abs(rrSamples - prev2) / ((rrSamples + prev2) / 2))
    this.beatAt[this.head] = endSample
    this.pCount += (hadP ? 1 : 0) - this.withP[this.head]!
    this.withP[this.head] = hadP ? 1 : 0
    this.head = (this.head + 1) % AF_WINDOW
    if (this.diffs.size < AF_WINDOW) return undefined
    const m = this.diffs.median()
    // bigeminy suppression (Petrėnas et al. 2015): in short-long-short-long the interval two back is
    // the same, in AF it differs as much as the last one; the same onset level for both
    if (!this.inAf && m >= AF_ONSET && this.diffs2.median() >= AF_ONSET && this.pCount <= AF_MAX_WITH_P * AF_WINDOW) {
      this.inAf = true
      return { onset: true, atSample: this.midWindowSample() }
    }
    if (this.inAf && m < AF_OFFSET) {
      this.inAf = false
      return { onset: false, atSample: this.midWindowSample() }
    }
    return undefined
  }

  /** Forgets the intervals (a new stream, or analysis suspended); an open episode stays open for the caller to close. */
  reset(): void {
    this.diffs.clear()
    this.diffs2.clear()
    this.lastRr2 = 0
    this.withP.fill(0)
    this.pCount = 0
    this.lastRr = 0
    this.inAf = false
  }

  private midWindowSample(): number {
    return this.beatAt[(this.head + AF_WINDOW / 2) % AF_WINDOW]!
  }
}
