/**
 * Test utility: a deterministic synthetic ECG (sum of Gaussian P, Q, R, S, T waves per beat, in the
 * spirit of McSharry et al., IEEE TBME 50(3), 2003), with QT scaled by Bazett's √RR so that fast
 * rhythms stay physiological. Amplitudes in µV, integer samples like a device's.
 */
export interface SyntheticEcg {
  readonly samplesUv: Int32Array
  /** True R-peak sample indices. */
  readonly rPeaks: number[]
}

export interface SyntheticOptions {
  readonly rateHz: number
  readonly seconds: number
  readonly bpm: number
  readonly rAmplitudeUv?: number
  /** T-wave amplitude relative to R (default 0.25). */
  readonly tRelative?: number
  /** Gaussian white noise, µV rms. */
  readonly noiseUv?: number
  /** Returns the beat times (s) to use instead of a regular rhythm at `bpm`. */
  readonly beatTimesS?: readonly number[]
  readonly seed?: number
}

const WAVES = [
  // [offset at RR = 1 s (s), width σ (s), amplitude relative to R]
  [-0.2, 0.025, 0.12],
  [-0.03, 0.008, -0.08],
  [0, 0.01, 1],
  [0.03, 0.01, -0.2],
  [0.26, 0.045, 0.25],
] as const

export function makeRng(seed = 1): () => number {
  let s = seed >>> 0 || 1
  return () => {
    s ^= s << 13
    s ^= s >>> 17
    s ^= s << 5
    return (s >>> 0) / 4294967296
  }
}

export function gaussianNoise(rng: () => number): number {
  return Math.sqrt(-2 * Math.log(rng() + 1e-12)) * Math.cos(2 * Math.PI * rng())
}

export function syntheticEcg(o: SyntheticOptions): SyntheticEcg {
  const n = Math.round(o.seconds * o.rateHz)
  const amp = o.rAmplitudeUv ?? 1200
  const times = o.beatTimesS ?? Array.from({ length: Math.floor(o.seconds * (o.bpm / 60)) }, (_, i) => 0.5 + (i * 60) / o.bpm)
  const x = new Float64Array(n)
  const rPeaks: number[] = []
  for (let b = 0; b < times.length; b++) {
    const rrS = b > 0 ? times[b]! - times[b - 1]! : 60 / o.bpm
    const qt = Math.sqrt(Math.min(rrS, 1.2))
    const r = Math.round(times[b]! * o.rateHz)
    if (r >= n) break
    rPeaks.push(r)
    for (const [offset, width, relDefault] of WAVES) {
      const rel = width === 0.045 && o.tRelative !== undefined ? o.tRelative : relDefault
      const centre = times[b]! + (Math.abs(offset) > 0.05 ? offset * qt : offset)
      const from = Math.max(0, Math.floor((centre - 4 * width) * o.rateHz))
      const to = Math.min(n, Math.ceil((centre + 4 * width) * o.rateHz))
      for (let i = from; i < to; i++) x[i] += rel * amp * Math.exp(-0.5 * ((i / o.rateHz - centre) / width) ** 2)
    }
  }
  const rng = makeRng(o.seed ?? 7)
  const out = new Int32Array(n)
  for (let i = 0; i < n; i++) out[i] = Math.round(x[i]! + (o.noiseUv ? o.noiseUv * gaussianNoise(rng) : 0))
  return { samplesUv: out, rPeaks }
}
