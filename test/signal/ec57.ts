/**
 * Test utility: MIT annotation (.atr) reader and an ANSI/AAMI EC57 beat-by-beat scorer, with the
 * same rules as WFDB bxb and shared/checks/score_qrs.py: reference beats are the isqrs() codes,
 * a detection matches the nearest unmatched reference beat within 150 ms, scoring starts at
 * 05:00, and reference beats and detections inside [ ] flutter episodes are ignored.
 * Format: shared/data/README.md §1.6 (MIT annotation format), §1.7 (scoring).
 */
import { readFileSync } from 'node:fs'
import { parseAtrAux } from '../../scripts/testkit/ec57-rhythm.js'

/** WFDB isqrs(): annotation codes that are beats. */
const QRS_CODES = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 25, 30, 31, 34, 35, 38, 41])
const FLUTTER_START = 32
const FLUTTER_END = 33

export interface Annotation {
  readonly sample: number
  readonly code: number
}

/** Parses MIT-format annotation bytes (the one reader: scripts/testkit/ec57-rhythm.ts), keeping sample and code. */
export function parseAtr(b: Uint8Array): Annotation[] {
  return parseAtrAux(b).map(({ sample, code }) => ({ sample, code }))
}

export function readAtr(record: string): Annotation[] {
  return parseAtr(readFileSync(`${record}.atr`))
}

export interface Score {
  tp: number
  fn: number
  fp: number
}

/** Scores detections (sample indices) against annotations, EC57 style. */
export function scoreBeats(annotations: readonly Annotation[], detections: readonly number[], rateHz: number): Score {
  return scoreMisses(annotations, detections, rateHz).score
}

/** The same score, with the annotation code of every missed reference beat (for error analysis). */
export function scoreMisses(annotations: readonly Annotation[], detections: readonly number[], rateHz: number): { score: Score; missedCodes: number[] } {
  const window = Math.round(0.15 * rateHz)
  const start = Math.round(300 * rateHz)
  const flutter = flutterEpisodes(annotations)
  const inFlutter = (s: number) => flutter.some(([a, b]) => s >= a && s <= b)
  const ref = annotations.filter((a) => QRS_CODES.has(a.code) && a.sample >= start && !inFlutter(a.sample))
  const det = detections.filter((s) => s >= start && !inFlutter(s)).sort((x, y) => x - y)
  const used = new Uint8Array(det.length)
  const missedCodes: number[] = []
  let tp = 0
  let lo = 0
  for (const { sample: r, code } of ref) {
    while (lo < det.length && det[lo]! < r - window) lo++
    let best = -1
    for (let k = lo; k < det.length && det[k]! <= r + window; k++) {
      if (!used[k] && (best < 0 || Math.abs(det[k]! - r) < Math.abs(det[best]! - r))) best = k
    }
    if (best >= 0) {
      used[best] = 1
      tp++
    } else missedCodes.push(code)
  }
  return { score: { tp, fn: ref.length - tp, fp: det.length - tp }, missedCodes }
}

function flutterEpisodes(annotations: readonly Annotation[]): Array<[number, number]> {
  const out: Array<[number, number]> = []
  let open: number | undefined
  for (const a of annotations) {
    if (a.code === FLUTTER_START) open = a.sample
    else if (a.code === FLUTTER_END && open !== undefined) {
      out.push([open, a.sample])
      open = undefined
    }
  }
  return out
}

export function sePercent(s: Score): number {
  return (100 * s.tp) / (s.tp + s.fn)
}
export function ppPercent(s: Score): number {
  return (100 * s.tp) / (s.tp + s.fp)
}
