/**
 * Synthetic ECG for the demo ward and tests: a sum-of-Gaussians PQRST per beat, in the spirit of
 * McSharry et al. (ECGSYN, IEEE TBME 2003), evaluated on a beat-phase grid so any rate works.
 * Amplitudes are typical lead-I values in µV; the shape is plausible, not diagnostic.
 */

/** [centre as a fraction of the RR interval, width as a fraction, amplitude µV] for P, Q, R, S, T. */
const WAVES: ReadonlyArray<readonly [number, number, number]> = [
  [0.2, 0.025, 120], // P
  [0.335, 0.01, -100], // Q
  [0.35, 0.011, 1100], // R
  [0.365, 0.01, -250], // S
  [0.6, 0.045, 300], // T
]

/** ECG value in µV at `phase` ∈ [0, 1) of one beat. */
export function pqrstUv(phase: number): number {
  let v = 0
  for (const [centre, width, amp] of WAVES) {
    const d = phase - centre
    v += amp * Math.exp(-(d * d) / (2 * width * width))
  }
  return v
}

/** A running ECG source: call `next` for each block of samples; the heart rate may change between blocks. */
export class EcgSynth {
  private phase = 0
  constructor(readonly rateHz: number, public heartRateBpm: number, private readonly noiseUv = 0, private seed = 1) {}

  /** Fills `out` with the next samples (integers, µV). */
  next(out: Int32Array): Int32Array {
    const step = this.heartRateBpm / 60 / this.rateHz
    for (let i = 0; i < out.length; i++) {
      out[i] = Math.round(pqrstUv(this.phase) + this.noise())
      this.phase += step
      if (this.phase >= 1) this.phase -= 1
    }
    return out
  }

  // Park–Miller PRNG: seeded, so a demo or test run is reproducible.
  private noise(): number {
    if (this.noiseUv === 0) return 0
    this.seed = (this.seed * 48271) % 0x7fffffff
    return (this.seed / 0x7fffffff - 0.5) * 2 * this.noiseUv
  }
}
