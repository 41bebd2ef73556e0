/**
 * Test utility: the rhythm side of ANSI/AAMI EC57 scoring on MIT-BIH.
 * Reads the rhythm annotations (type 28 `+` with an aux string such as `(AFIB`, `(VT`, `(VFL`;
 * shared/data/README.md §1.6) and the beat labels, turns them into reference episodes, and scores
 * detected episodes the way EC57 does (after WFDB epic):
 *  - duration sensitivity = time of reference episodes overlapped by detection / reference time,
 *    duration positive predictivity = overlapped time / detected time (used for AF);
 *  - episode sensitivity = reference episodes overlapped by a detection / reference episodes,
 *    episode positive predictivity = detected episodes overlapping a reference / detected episodes
 *    (used for VT and VF).
 * Only the scoring period counts (from 05:00, as for beats); episodes are clipped to it.
 */
import { readFileSync } from 'node:fs'

const RHYTHM = 28
const SKIP = 59
const SUB = 61
const AUX = 63
const NOISE = 14
/** WFDB isqrs(): annotation codes that are beats. */
const QRS_CODES = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 25, 30, 31, 34, 35, 38, 41])
/** Ventricular beat labels (V = 5, E = 10 ventricular escape; EC57 counts F = 6 apart). */
const VENTRICULAR = new Set([5, 10])

export interface AuxAnnotation {
  readonly sample: number
  readonly code: number
  readonly subtype: number
  readonly aux: string
}

/** Parses MIT-format annotation bytes keeping SUB and AUX (which modify the annotation before them). */
export function parseAtrAux(b: Uint8Array): AuxAnnotation[] {
  const out: Array<{ sample: number; code: number; subtype: number; aux: string }> = []
  let t = 0
  for (let i = 0; i + 1 < b.length; ) {
    const w = b[i]! | (b[i + 1]! << 8)
    i += 2
    const a = w >> 10
    const v = w & 0x3ff
    if (a === 0 && v === 0) break
    const last = out[out.length - 1]
    if (a === SKIP) {
      t += (((b[i]! | (b[i + 1]! << 8)) << 16) | (b[i + 2]! | (b[i + 3]! << 8))) | 0
      i += 4
    } else if (a === AUX) {
      if (last) last.aux = Buffer.from(b.subarray(i, i + v)).toString('latin1').replace(/\0+$/, '')
      i += v + (v & 1)
    } else if (a === SUB) {
      if (last) last.subtype = v
    } else if (a < 59) {
      t += v
      out.push({ sample: t, code: a, subtype: 0, aux: '' })
    }
  }
  return out
}

export function readAtrAux(record: string): AuxAnnotation[] {
  return parseAtrAux(readFileSync(`${record}.atr`))
}

export interface Episode {
  readonly start: number
  readonly end: number
  readonly label: string
}

/** Reference rhythm episodes: each `(LABEL` runs until the next rhythm annotation or the end of the record. */
export function rhythmEpisodes(annotations: readonly AuxAnnotation[], recordLength: number): Episode[] {
  const out: Episode[] = []
  let open: { start: number; label: string } | undefined
  for (const a of annotations) {
    if (a.code !== RHYTHM || !a.aux.startsWith('(')) continue
    if (open) out.push({ start: open.start, end: a.sample, label: open.label })
    open = { start: a.sample, label: a.aux.slice(1) }
  }
  if (open) out.push({ start: open.start, end: recordLength, label: open.label })
  return out
}

/** Runs of at least `minBeats` consecutive ventricular beats (V, E), ignoring non-beat annotations. */
export function ventricularRuns(annotations: readonly AuxAnnotation[], minBeats: number): Episode[] {
  const out: Episode[] = []
  let first = -1
  let last = -1
  let count = 0
  const close = () => {
    if (count >= minBeats) out.push({ start: first, end: last, label: 'VRUN' })
    count = 0
  }
  for (const a of annotations) {
    if (!QRS_CODES.has(a.code)) continue
    if (VENTRICULAR.has(a.code)) {
      if (count === 0) first = a.sample
      last = a.sample
      count++
    } else close()
  }
  close()
  return out
}

/** Reference beat samples (isqrs codes). */
export function beatSamples(annotations: readonly AuxAnnotation[]): number[] {
  return annotations.filter((a) => QRS_CODES.has(a.code)).map((a) => a.sample)
}

/** Stretches the annotators marked as unreadable noise on signal 0 (`~` with subtype bit 4): [start, next `~`). */
export function unreadableStretches(annotations: readonly AuxAnnotation[], recordLength: number): Episode[] {
  const out: Episode[] = []
  let open = -1
  for (const a of annotations) {
    if (a.code !== NOISE) continue
    const unreadable = a.subtype !== 0 && (a.subtype === 1023 || (a.subtype & 0x10) !== 0)
    if (open >= 0) out.push({ start: open, end: a.sample, label: 'NOISE' })
    open = unreadable ? a.sample : -1
  }
  if (open >= 0) out.push({ start: open, end: recordLength, label: 'NOISE' })
  return out
}

function clip(e: readonly Episode[], from: number): Episode[] {
  return e.filter((x) => x.end > from).map((x) => ({ ...x, start: Math.max(x.start, from) }))
}

function overlap(a: Episode, b: Episode): number {
  return Math.max(0, Math.min(a.end, b.end) - Math.max(a.start, b.start))
}

export interface DurationScore {
  /** Reference time (samples) in the scoring period. */
  ref: number
  /** Detected time (samples). */
  det: number
  /** Time both reference and detection. */
  both: number
}

/** EC57 duration statistics of detections against references, from `from` (samples). */
export function scoreDuration(reference: readonly Episode[], detected: readonly Episode[], from: number): DurationScore {
  const ref = clip(reference, from)
  const det = clip(detected, from)
  let both = 0
  for (const r of ref) for (const d of det) both += overlap(r, d)
  return { ref: ref.reduce((s, e) => s + e.end - e.start, 0), det: det.reduce((s, e) => s + e.end - e.start, 0), both }
}

export interface EpisodeScore {
  /** Reference episodes overlapped by a detection, and those missed. */
  tp: number
  fn: number
  /** Detected episodes overlapping a reference, and those that do not. */
  tpp: number
  fp: number
}

/**
 * EC57 episode statistics; `slack` (samples) widens each reference on both sides, for detections
 * that are delayed by the analysis window.
 */
export function scoreEpisodes(reference: readonly Episode[], detected: readonly Episode[], from: number, slack = 0): EpisodeScore {
  const ref = clip(reference, from).map((r) => ({ ...r, start: r.start - slack, end: r.end + slack }))
  const det = clip(detected, from)
  const hit = (a: Episode, b: Episode) => Math.min(a.end, b.end) >= Math.max(a.start, b.start)
  const tp = ref.filter((r) => det.some((d) => hit(r, d))).length
  const tpp = det.filter((d) => ref.some((r) => hit(r, d))).length
  return { tp, fn: ref.length - tp, tpp, fp: det.length - tpp }
}

export function pct(num: number, den: number): string {
  return den === 0 ? '   -  ' : ((100 * num) / den).toFixed(1).padStart(6)
}
