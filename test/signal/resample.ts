/**
 * Test utility: resamples a record to another rate, to score the same detector at the rates of
 * real patches (Polar PMD 130 Hz, 500 Hz monitors) on the MIT-BIH reference beats. Downsampling
 * first low-passes at 0.4 × the new rate (61-tap Hamming-windowed sinc); then linear interpolation.
 */
export function resample(x: Int32Array, fromHz: number, toHz: number): Int32Array {
  const src = toHz < fromHz ? lowpass(x, fromHz, 0.4 * toHz) : Float64Array.from(x)
  const n = Math.floor((x.length * toHz) / fromHz)
  const y = new Int32Array(n)
  for (let i = 0; i < n; i++) {
    const t = (i * fromHz) / toHz
    const k = Math.floor(t)
    const f = t - k
    y[i] = Math.round(src[k]! * (1 - f) + src[Math.min(k + 1, src.length - 1)]! * f)
  }
  return y
}

function lowpass(x: Int32Array, fs: number, cutHz: number): Float64Array {
  const taps = 61
  const half = (taps - 1) / 2
  const h = new Float64Array(taps)
  let sum = 0
  for (let k = 0; k < taps; k++) {
    const m = k - half
    const sinc = m === 0 ? (2 * cutHz) / fs : Math.sin((2 * Math.PI * cutHz * m) / fs) / (Math.PI * m)
    h[k] = sinc * (0.54 - 0.46 * Math.cos((2 * Math.PI * k) / (taps - 1)))
    sum += h[k]!
  }
  const y = new Float64Array(x.length)
  for (let i = 0; i < x.length; i++) {
    let a = 0
    for (let k = Math.max(0, half - i); k < taps && i + k - half < x.length; k++) a += h[k]! * x[i + k - half]!
    y[i] = a / sum
  }
  return y
}
