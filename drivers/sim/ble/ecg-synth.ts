/**
 * Synthetic ECG for the demo ward and tests: a sum-of-Gaussians PQRST per beat, in the spirit of
 * McSharry et al. (ECGSYN, IEEE TBME 2003), evaluated on a beat-phase grid so any rate works.
 * Amplitudes are typical lead-I values in µV; the shape is plausible, not diagnostic.
 * Rhythms (`rhythm`), for the demo ward's arrhythmias and the rhythm-alarm tests:
 *  - `sinus`: the PQRST at `heartRateBpm`;
 *  - `afib`: no P wave, small fibrillatory waves, each RR drawn ±40 % around the mean (irregularly
 *    irregular);
 *  - `vt`: wide (≈160 ms) ventricular complexes without P wave at `heartRateBpm`;
 *  - `vf`: a coarse 4–6 Hz oscillation of wandering frequency and amplitude, no complexes;
 *  - `asystole`: the baseline and its noise only.
 */

export type SynthRhythm = 'sinus' | 'afib' | 'vt' | 'vf' | 'asystole'

/** A ventricular beat: wide R and deep S, discordant T ([centre, width, amplitude µV] as for WAVES). */
const VENTRICULAR: ReadonlyArray<readonly [number, number, number]> = [
  [0.3, 0.06, 1000],
  [0.42, 0.06, -600],
  [0.75, 0.08, -300],
]

/** [centre as a fraction of the RR interval, width as a fraction, amplitude µV] for P, Q, R, S, T. */
const WAVES: ReadonlyArray<readonly [number, number, number]> = [
  [0.2, 0.025, 120], // P
  [0.335, 0.01, -100], // Q
  [0.35, 0.011, 1100], // R
  [0.365, 0.01, -250], // S
  [0.6, 0.045, 300], // T
]

/** ECG value in µV at `phase` ∈ [0, 1) of one beat. */
export function pqrstUv(phase: number, waves: ReadonlyArray<readonly [number, number, number]> = WAVES, from = 0): number {
  return beatUv(phase, 1, waves, from)
}

/**
 * The same with the waves' distances from the R wave and their widths scaled by `k` rather than
 * by the beat's length: k = √(RR / 0.833 s) keeps the QRS narrow and the T wave after it at fast
 * rates, as QT shortens only with the square root of RR (Bazett).
 */
function beatUv(phase: number, k: number, waves: ReadonlyArray<readonly [number, number, number]>, from: number): number {
  const r = WAVES[2]![0] * (1 - k) // shift so that R stays where it is
  let v = 0
  for (let i = from; i < waves.length; i++) {
    const [centre, width, amp] = waves[i]!
    const w = width * k
    const d = phase - (r + centre * k)
    v += amp * Math.exp(-(d * d) / (2 * w * w))
  }
  return v
}

/** A running ECG source: call `next` for each block of samples; the heart rate and rhythm may change between blocks. */
export class EcgSynth {
  private phase = 0
  /** This beat's rate (the mean rate, or an AF beat's own). */
  private beatBpm: number
  private t = 0
  private vfPhase = 0
  rhythm: SynthRhythm = 'sinus'
  constructor(readonly rateHz: number, public heartRateBpm: number, private readonly noiseUv = 0, private seed = 1) {
    this.beatBpm = heartRateBpm
  }

  /** Fills `out` with the next samples (integers, µV). */
  next(out: Int32Array): Int32Array {
    for (let i = 0; i < out.length; i++) {
      out[i] = Math.round(this.value() + this.noise())
      this.t += 1 / this.rateHz
      this.phase += (this.rhythm === 'sinus' ? this.heartRateBpm : this.beatBpm) / 60 / this.rateHz
      if (this.phase >= 1) this.newBeat()
    }
    return out
  }

  private value(): number {
    // phase units are beats: scale the complex by √RR/RR (in phase units) around the R wave
    const k = Math.sqrt(this.beatBpm / 72)
    switch (this.rhythm) {
      case 'sinus':
        return beatUv(this.phase, Math.sqrt(this.heartRateBpm / 72), WAVES, 0)
      case 'afib': // QRST without P, on 5.5 Hz fibrillatory waves of 40 µV
        return beatUv(this.phase, k, WAVES, 1) + 40 * Math.sin(2 * Math.PI * 5.5 * this.t)
      case 'vt':
        return pqrstUv(this.phase, VENTRICULAR)
      case 'vf': {
        const hz = 5 + Math.sin(2 * Math.PI * 0.23 * this.t) + 0.5 * Math.sin(2 * Math.PI * 0.61 * this.t)
        this.vfPhase += hz / this.rateHz
        return (500 + 200 * Math.sin(2 * Math.PI * 0.17 * this.t)) * Math.sin(2 * Math.PI * this.vfPhase)
      }
      default:
        return 0
    }
  }

  private newBeat(): void {
    this.phase -= 1
    this.beatBpm = this.heartRateBpm
    if (this.rhythm === 'afib') {
      // RR ±40 % of the mean (uniform): irregularly irregular, successive RR differing by ~20 % (median), as in MIT-BIH's AF
      this.seed = (this.seed * 48271) % 0x7fffffff
      const rr = (60 / this.heartRateBpm) * (1 + 0.8 * (this.seed / 0x7fffffff - 0.5))
      this.beatBpm = 60 / rr
    }
  }

  // Park–Miller PRNG: seeded, so a demo or test run is reproducible.
  private noise(): number {
    if (this.noiseUv === 0) return 0
    this.seed = (this.seed * 48271) % 0x7fffffff
    return (this.seed / 0x7fffffff - 0.5) * 2 * this.noiseUv
  }
}
