/**
 * Test and bench utility: runs `bedside-hub rhythm`'s analysis (agent/commands/rhythm.ts) over the
 * public MIT-BIH records and scores it against their rhythm annotations, EC57 style
 * (ec57-rhythm.ts), from 05:00:
 *  - AFIB: duration Se and +P against the `(AFIB` episodes;
 *  - VT: episode Se and +P against the `(VT` episodes;
 *  - VF: episode Se and +P against the `(VFL`/`(VF` episodes (and episodes found over the whole
 *    record, since most of 207's flutter lies before 05:00);
 *  - ASYS: a call is true only where the reference has no beat for ≥ 4 s (232's sinus pauses);
 *    any other is false.
 */
import { existsSync, readFileSync } from 'node:fs'
import { detectRhythm, type Episode as Detected } from '../../agent/commands/rhythm.js'
import { readFirstSignalUv } from '../../agent/commands/qrs.js'
import { ASYSTOLE_MS, VT_MIN_BEATS } from '../../agent/signal/rhythm.js'
import { beatSamples, pct, readAtrAux, rhythmEpisodes, scoreDuration, scoreEpisodes, type DurationScore, type Episode, type EpisodeScore } from './ec57-rhythm.js'

export const MITDB = new URL('../../../shared/data/mitdb/', import.meta.url).pathname

export function publicRecords(): string[] {
  return readFileSync(`${MITDB}RECORDS`, 'utf8').split(/\s+/).filter((r) => r && existsSync(`${MITDB}${r}.hea`))
}

export interface RecordScore {
  readonly record: string
  readonly af: DurationScore
  readonly vt: EpisodeScore
  /** VT sensitivity against the `(VT` episodes of at least VT_MIN_BEATS ventricular beats (the alarm's own criterion). */
  readonly vtLong: EpisodeScore
  readonly vf: EpisodeScore
  /** VF over the whole record (from 00:00). */
  readonly vfWhole: EpisodeScore
  readonly asysTrue: number
  readonly asysFalse: number
  readonly detected: readonly Detected[]
}

/** Reference pauses: stretches of ≥ ASYSTOLE_MS between consecutive reference beats. */
export function referencePauses(beats: readonly number[], rateHz: number): Episode[] {
  const min = (ASYSTOLE_MS * rateHz) / 1000
  const out: Episode[] = []
  for (let i = 1; i < beats.length; i++) if (beats[i]! - beats[i - 1]! >= min) out.push({ start: beats[i - 1]!, end: beats[i]!, label: 'PAUSE' })
  return out
}

/** Two seconds either side: an episode's start is dated from windows of beats or seconds of signal. */
const SLACK_S = 2

export function scoreRecord(record: string, detected?: readonly Detected[]): RecordScore {
  const { rateHz, samplesUv } = readFirstSignalUv(`${MITDB}${record}`)
  const det = detected ?? detectRhythm(samplesUv, rateHz)
  const ann = readAtrAux(`${MITDB}${record}`)
  const ref = rhythmEpisodes(ann, samplesUv.length)
  const from = 300 * rateHz
  const slack = SLACK_S * rateHz
  const of = (label: string) => det.filter((e) => e.label === label)
  const vfRef = ref.filter((e) => e.label === 'VFL' || e.label === 'VF')
  const pauses = referencePauses(beatSamples(ann), rateHz)
  const asys = scoreEpisodes(pauses, of('ASYS'), 0, slack)
  const vBeats = ann.filter((a) => a.code === 5 || a.code === 10).map((a) => a.sample)
  const vtRef = ref.filter((e) => e.label === 'VT')
  const vtLong = vtRef.filter((e) => vBeats.filter((b) => b >= e.start && b <= e.end).length >= VT_MIN_BEATS)
  return {
    record,
    af: scoreDuration(ref.filter((e) => e.label === 'AFIB'), of('AFIB'), from),
    vt: scoreEpisodes(vtRef, of('VT'), from, slack),
    vtLong: scoreEpisodes(vtLong, of('VT'), from, slack),
    vf: scoreEpisodes(vfRef, of('VF'), from, slack),
    vfWhole: scoreEpisodes(vfRef, of('VF'), 0, slack),
    asysTrue: asys.tpp,
    asysFalse: asys.fp,
    detected: det,
  }
}

export interface Totals {
  af: DurationScore
  vt: EpisodeScore
  vtLong: EpisodeScore
  vf: EpisodeScore
  vfWhole: EpisodeScore
  asysFalse: number
}

export function total(scores: readonly RecordScore[]): Totals {
  const t: Totals = { af: { ref: 0, det: 0, both: 0 }, vt: { tp: 0, fn: 0, tpp: 0, fp: 0 }, vtLong: { tp: 0, fn: 0, tpp: 0, fp: 0 }, vf: { tp: 0, fn: 0, tpp: 0, fp: 0 }, vfWhole: { tp: 0, fn: 0, tpp: 0, fp: 0 }, asysFalse: 0 }
  for (const s of scores) {
    for (const k of ['ref', 'det', 'both'] as const) t.af[k] += s.af[k]
    for (const k of ['tp', 'fn', 'tpp', 'fp'] as const) {
      t.vt[k] += s.vt[k]
      t.vtLong[k] += s.vtLong[k]
      t.vf[k] += s.vf[k]
      t.vfWhole[k] += s.vfWhole[k]
    }
    t.asysFalse += s.asysFalse
  }
  return t
}

export function table(scores: readonly RecordScore[], rateHz = 360): string {
  const sec = (n: number) => (n / rateHz).toFixed(0).padStart(5)
  const lines = ['record  AF ref s  det s  both s   Se %   +P % | VT ref tp fn  det fp | VF ref tp  det fp | ASYS true false']
  const row = (name: string, s: { af: DurationScore; vt: EpisodeScore; vf: EpisodeScore }, asys: string) =>
    `${name.padEnd(6)}   ${sec(s.af.ref)}  ${sec(s.af.det)}   ${sec(s.af.both)} ${pct(s.af.both, s.af.ref)} ${pct(s.af.both, s.af.det)} | ` +
    `${String(s.vt.tp + s.vt.fn).padStart(6)} ${String(s.vt.tp).padStart(2)} ${String(s.vt.fn).padStart(2)} ${String(s.vt.tpp + s.vt.fp).padStart(4)} ${String(s.vt.fp).padStart(2)} | ` +
    `${String(s.vf.tp + s.vf.fn).padStart(6)} ${String(s.vf.tp).padStart(2)} ${String(s.vf.tpp + s.vf.fp).padStart(4)} ${String(s.vf.fp).padStart(2)} | ${asys}`
  for (const s of scores) lines.push(row(s.record, s, `${String(s.asysTrue).padStart(9)} ${String(s.asysFalse).padStart(5)}`))
  const t = total(scores)
  lines.push(row('gross', t, `${''.padStart(9)} ${String(t.asysFalse).padStart(5)}`))
  lines.push(`AF duration Se ${pct(t.af.both, t.af.ref).trim()} %, +P ${pct(t.af.both, t.af.det).trim()} %; VT episode Se ${pct(t.vt.tp, t.vt.tp + t.vt.fn).trim()} % (runs of ≥ ${VT_MIN_BEATS} V beats: ${t.vtLong.tp}/${t.vtLong.tp + t.vtLong.fn}), +P ${pct(t.vt.tpp, t.vt.tpp + t.vt.fp).trim()} %; ` +
    `VF episodes from 05:00 ${t.vf.tp}/${t.vf.tp + t.vf.fn}, whole records ${t.vfWhole.tp}/${t.vfWhole.tp + t.vfWhole.fn}, false VF ${t.vfWhole.fp}; false ASYS ${t.asysFalse}`)
  return lines.join('\n')
}
