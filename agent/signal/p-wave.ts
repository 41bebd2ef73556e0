/**
 * Atrial activity before each QRS, for AF: sinus, ectopic atrial and most supraventricular rhythms
 * show the same P wave before every conducted beat; AF shows none, only fibrillatory waves that
 * differ from beat to beat. So a beat "has its P wave" when the stretch PR_FROM_MS…PR_TO_MS before
 * its R peak correlates with the running average of that stretch over the recent beats (P-wave
 * absence is the second criterion of AF besides RR irregularity: ESC 2020 AF guidelines, ECG
 * diagnosis "no discernible repeating P waves"; detectors combining both: Ladavich & Ghoraani,
 * Biomed Signal Process Control 18:274, 2015; Petrėnas et al. 2015 use f-wave activity).
 * Fixed memory: two vectors of P_POINTS; pure.
 */
export const P_POINTS = 16
export const PR_FROM_MS = 280
export const PR_TO_MS = 80
/** Correlation with the running P template at or above which a beat has its usual P wave. [LOCAL] */
const P_MATCH = 0.5
const ADAPT = 1 / 8

export class PWaveTracker {
  private readonly template = new Float64Array(P_POINTS)
  private count = 0
  readonly segment = new Float64Array(P_POINTS)
  lastCorrelation = 0

  /** Judges `segment` (filled by the caller) against the template, then learns from it. */
  judge(): boolean {
    const s = this.segment
    let mean = 0
    for (let i = 0; i < P_POINTS; i++) mean += s[i]!
    mean /= P_POINTS
    for (let i = 0; i < P_POINTS; i++) s[i] = s[i]! - mean
    const c = this.count >= 4 ? correlation(s, this.template) : 0
    this.lastCorrelation = c
    const a = this.count < 1 / ADAPT ? 1 / (this.count + 1) : ADAPT
    for (let i = 0; i < P_POINTS; i++) this.template[i] = this.template[i]! + a * (s[i]! - this.template[i]!)
    this.count++
    return c >= P_MATCH
  }

  reset(): void {
    this.template.fill(0)
    this.count = 0
  }
}

function correlation(a: Float64Array, b: Float64Array): number {
  let ab = 0
  let aa = 0
  let bb = 0
  let mb = 0
  for (let i = 0; i < P_POINTS; i++) mb += b[i]!
  mb /= P_POINTS
  for (let i = 0; i < P_POINTS; i++) {
    const y = b[i]! - mb
    ab += a[i]! * y
    aa += a[i]! * a[i]!
    bb += y * y
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0
}
