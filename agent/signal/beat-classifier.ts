/**
 * Beat classification for rhythm analysis: is a beat ventricular? Compared with the patient's
 * learnt dominant beat, as bedside arrhythmia monitors do (template matching of QRS shape and
 * width; e.g. Hamilton & Tompkins' OSEA classifier, EP Limited bdac.c, matches each beat against
 * up to 8 templates and calls a beat ventricular from width and morphology against the dominant
 * one). Here, smaller: two templates (the dominant and a challenger), each the running average of
 * the beats that matched it; the challenger takes over when it has matched more beats recently.
 *
 * A beat is a fixed-length vector of TEMPLATE_POINTS values sampled from −100 to +150 ms around the
 * R peak of the baseline-removed signal, so templates do not depend on the sampling rate.
 * Thresholds (measured against the MIT-BIH V labels of the 34 public records, one setting for all):
 *  - match: Pearson correlation ≥ MATCH_CORRELATION with a template and a width within WIDER_BY_MS;
 *  - ventricular: premature or WIDER_BY_MS wider than the dominant beat, and either that wide or
 *    of another shape (correlation < VENTRICULAR_CORRELATION) with its area of the other sign; or
 *    premature, WIDER_PREMATURE_MS wider and not quite the dominant shape.
 *    The QRS width of a PVC is ≥ 120 ms against ~80–100 ms for a conducted beat (standard ECG
 *    criterion, e.g. AHA/ACCF/HRS 2009 recommendations for ECG interpretation, part III).
 * Memory: three Float64Arrays of TEMPLATE_POINTS; no allocation per beat.
 */
export const TEMPLATE_POINTS = 32
export const TEMPLATE_BEFORE_MS = 100
export const TEMPLATE_AFTER_MS = 150
const MATCH_CORRELATION = 0.9
const VENTRICULAR_CORRELATION = 0.75
const WIDER_BY_MS = 30
/** A premature beat this much wider (2.5 template points) and correlating under MATCH_SAME is ventricular too. */
const WIDER_PREMATURE_MS = 20
const MATCH_SAME = 0.95
/** A challenger wider than the dominant beat takes over only when it has matched this many times more beats recently. */
const SWAP_MARGIN_WIDER = 2
/** Beats a template needs before its shape is trusted for classification. */
const MIN_BEATS = 4
/** Weight of a new beat in a template's running average. */
const ADAPT = 1 / 8
/**
 * The QRS ends where the slope has stayed under the width limit for 7 points (56 ms): a slow
 * stretch that long is past the QRS (a PVC's slurred limbs have none that long). Before, the width
 * ran to the last fast point within 150 ms of R, so 222's flutter waves made its narrow beats
 * 90–170 ms "wide" (12 false EC57 VT runs). Chosen by two-fold cross-validation over the halves of
 * scripts/qrs-cv.ts (gaps 4–9 points and none; VT episode F-measure, then V-beat errors FN + FP):
 * tuned on B (18 of the 19 reference VT episodes) 7, scored on A VT +P 1/5 (1/13 with no gap), Se
 * 1/1; tuned on A 5, scored on B Se 9/18 +P 8/8 (the same as with no gap). BENCHMARKS.md, Rhythm.
 */
const WIDTH_GAP_POINTS = 7
const MS_PER_POINT = (TEMPLATE_BEFORE_MS + TEMPLATE_AFTER_MS) / (TEMPLATE_POINTS - 1)

export type BeatClass = 'normal' | 'ventricular' | 'unknown'

class Template {
  readonly shape = new Float64Array(TEMPLATE_POINTS)
  /** Beats matched, decaying: the recent weight of this template. */
  score = 0
  count = 0
  width = 0

  set(beat: Float64Array, width: number): void {
    this.shape.set(beat)
    this.width = width
    this.count = 1
    this.score = 1
  }

  adapt(beat: Float64Array, width: number): void {
    const a = this.count < 1 / ADAPT ? 1 / (this.count + 1) : ADAPT
    for (let i = 0; i < TEMPLATE_POINTS; i++) this.shape[i] = this.shape[i]! + a * (beat[i]! - this.shape[i]!)
    this.width += a * (width - this.width)
    this.count++
    this.score++
  }
}

export class BeatClassifier {
  private dominant = new Template()
  private challenger = new Template()
  /** Width (ms) and correlation of the last classified beat, for tests and tuning. */
  lastWidthMs = 0
  /** Whether the last beat was at least WIDER_BY_MS wider than the dominant beat. */
  lastWide = false
  lastCorrelation = 0

  /** Classifies `beat` (TEMPLATE_POINTS values, baseline removed) and learns from it. */
  classify(beat: Float64Array, premature: boolean): BeatClass {
    const width = qrsWidthMs(beat)
    this.lastWidthMs = width
    this.lastWide = this.dominant.count > 0 && width >= this.dominant.width + WIDER_BY_MS
    this.dominant.score *= 0.98
    this.challenger.score *= 0.98
    if (this.dominant.count === 0) {
      this.dominant.set(beat, width)
      return 'unknown'
    }
    const cd = correlation(beat, this.dominant.shape)
    this.lastCorrelation = cd
    if (matches(cd, width, this.dominant)) {
      this.dominant.adapt(beat, width)
      return this.dominant.count > MIN_BEATS ? 'normal' : 'unknown'
    }
    const cc = this.challenger.count > 0 ? correlation(beat, this.challenger.shape) : -1
    if (matches(cc, width, this.challenger)) this.challenger.adapt(beat, width)
    else this.challenger.set(beat, width)
    // a wider challenger (ectopic beats in bigeminy are half the beats) must clearly outnumber the dominant beat
    const margin = this.challenger.width >= this.dominant.width + WIDER_BY_MS ? SWAP_MARGIN_WIDER : 1
    if (this.challenger.score > margin * this.dominant.score) {
      // the new shape has become the usual one (a rhythm change, or a first template learnt on an ectopic beat)
      const t = this.dominant
      this.dominant = this.challenger
      this.challenger = t
      return 'normal'
    }
    if (this.dominant.count <= MIN_BEATS) return 'unknown'
    const wider = width >= this.dominant.width + WIDER_BY_MS
    const flipped = area(beat) * area(this.dominant.shape) < 0
    // premature and a little wider, of a shape not quite the dominant one (106's PVCs in lead MLII)
    if (premature && width >= this.dominant.width + WIDER_PREMATURE_MS && cd < MATCH_SAME) return 'ventricular'
    return (premature || wider) && (wider || (cd < VENTRICULAR_CORRELATION && flipped)) && (premature || cd < VENTRICULAR_CORRELATION) ? 'ventricular' : 'normal'
  }

  reset(): void {
    this.dominant = new Template()
    this.challenger = new Template()
  }
}

/** Same shape and width: a wider beat of similar shape (a PVC in some leads) must not blend into the template. */
function matches(corr: number, widthMs: number, t: Template): boolean {
  return corr >= MATCH_CORRELATION && Math.abs(widthMs - t.width) < WIDER_BY_MS
}

function correlation(a: Float64Array, b: Float64Array): number {
  let sa = 0
  let sb = 0
  for (let i = 0; i < TEMPLATE_POINTS; i++) {
    sa += a[i]!
    sb += b[i]!
  }
  const ma = sa / TEMPLATE_POINTS
  const mb = sb / TEMPLATE_POINTS
  let ab = 0
  let aa = 0
  let bb = 0
  for (let i = 0; i < TEMPLATE_POINTS; i++) {
    const x = a[i]! - ma
    const y = b[i]! - mb
    ab += x * y
    aa += x * x
    bb += y * y
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0
}

/** Signed area of the QRS part (−50…+80 ms around R): its sign tells the main deflection. */
function area(beat: Float64Array): number {
  const from = Math.round((TEMPLATE_BEFORE_MS - 50) / MS_PER_POINT)
  const to = Math.round((TEMPLATE_BEFORE_MS + 80) / MS_PER_POINT)
  let s = 0
  for (let i = from; i <= to; i++) s += beat[i]!
  return s
}

/**
 * QRS width: the span around R where the slope exceeds 1/5 of its maximum (the QRS is where the
 * signal moves fast; P and T waves move slowly), searched from R outwards. The span is contiguous:
 * it ends where the slope stays under the limit for WIDTH_GAP_POINTS points, so that a fast wave
 * after a pause (flutter waves, noise, a peaked T) does not count as QRS.
 */
function qrsWidthMs(beat: Float64Array): number {
  let max = 0
  for (let i = 1; i < TEMPLATE_POINTS; i++) max = Math.max(max, Math.abs(beat[i]! - beat[i - 1]!))
  if (max === 0) return 0
  const limit = max / 5
  const r = Math.round(TEMPLATE_BEFORE_MS / MS_PER_POINT)
  // slope i is between points i − 1 and i
  const fast = (i: number) => Math.abs(beat[i]! - beat[i - 1]!) >= limit
  let first = r
  for (let i = r, quiet = 0; i >= 1 && quiet < WIDTH_GAP_POINTS; i--) {
    if (fast(i)) {
      first = i - 1
      quiet = 0
    } else quiet++
  }
  let last = r
  for (let i = r + 1, quiet = 0; i < TEMPLATE_POINTS && quiet < WIDTH_GAP_POINTS; i++) {
    if (fast(i)) {
      last = i
      quiet = 0
    } else quiet++
  }
  return (last - first) * MS_PER_POINT
}
