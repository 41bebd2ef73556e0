/**
 * Ventricular fibrillation/flutter feature on the ECG itself (not on detected beats): the "VF
 * filter" leakage of Kuo & Dillman (Computer detection of ventricular fibrillation, Computers in
 * Cardiology 1978:347-349), as evaluated among VF detectors by Amann, Tratnig & Unterkofler
 * (Reliability of old and new ventricular fibrillation detection algorithms for automated
 * external defibrillators, BioMed Eng OnLine 4:60, 2005).
 *
 * VF and flutter are close to a sinusoid of one dominant period; QRS complexes and noise are not.
 * Half the mean period is estimated as N = round(π Σ|v| / Σ|Δv|) samples (exact for a sinusoid:
 * Σ|v| = 2A/π and Σ|Δv| = 4Af/fs per sample); the narrow-band elimination filter v[i] + v[i−N]
 * cancels that sinusoid (a half period apart it has the opposite sign), and the leakage
 *     l = Σ|v[i] + v[i−N]| / Σ(|v[i]| + |v[i−N]|)
 * is what passes: near 0 for a pure sinusoid, near 1 for sharp QRS complexes or broadband noise.
 * Pure function over a ring buffer; O(window) per call, no allocation.
 */

/**
 * Leakage of the `length` samples of `ring` ending at index `end` (exclusive, absolute; read as
 * `ring[i & mask]`), taking every `stride`-th sample (VF lies under 10 Hz: ~100 samples/s are
 * enough). Returns 1 (not VF) when the window is flat or the period does not fit in it.
 */
export function vfLeakage(ring: Float32Array, mask: number, end: number, length: number, stride = 1): number {
  const from = end - length
  let sumAbs = 0
  let sumDiff = 0
  for (let i = from + stride; i < end; i += stride) {
    const v = ring[i & mask]!
    const d = v - ring[(i - stride) & mask]!
    sumAbs += v < 0 ? -v : v
    sumDiff += d < 0 ? -d : d
  }
  if (!(sumDiff > 0)) return 1
  const period = Math.floor((Math.PI * sumAbs) / sumDiff + 0.5) * stride
  if (period < 2 * stride || period * 2 >= length) return 1
  let num = 0
  let den = 0
  for (let i = from + period; i < end; i += stride) {
    const a = ring[i & mask]!
    const b = ring[(i - period) & mask]!
    const s = a + b
    num += s < 0 ? -s : s
    den += (a < 0 ? -a : a) + (b < 0 ? -b : b)
  }
  return den > 0 ? num / den : 1
}
