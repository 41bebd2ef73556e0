/**
 * Rhythm analysis of one ECG stream (IEC 60601-2-27's life-threatening rhythms, and AF): samples
 * and the QRS detector's beats in, episode onsets and offsets out, in sample indices of the stream.
 *
 * Order of calls (EcgAnalyzer does this): `push` the samples of a chunk before the QRS detector
 * sees them, so that the signal around a beat is in the ring when the beat is delivered; `onBeat`
 * for each beat the detector delivers; `block` at each quality block end (1 s) with the block's
 * quality flags; `finish` at the end of the stream, which closes the open episodes. After
 * `finish` the analyzer is done: a new stream gets a new analyzer.
 *
 * Labels and conditions (thresholds and their sources in the constants below):
 *  - ASYS: no QRS for ASYSTOLE_MS while the last ASYS_CLEAN_BLOCKS quality blocks were clean
 *    (leads on, not noise, not saturated). Checked on every sample: raised as soon as the
 *    detector would have delivered a beat inside the pause (its fixed release delay).
 *  - VF: ventricular fibrillation or flutter from the ECG itself (vf-detector.ts), judged every
 *    0.5 s on its samples; not while the QRS detector sees an organised rhythm (ORGANISED_BEATS).
 *  - VT: a run of at least VT_MIN_BEATS ventricular beats (beat-classifier.ts) faster than VT_MIN_RATE
 *    (the alarm's definition); scoring and `bedside-hub rhythm` ask for EC57's runs of
 *    EC57_RUN_BEATS instead (the `vtMinBeats` argument).
 *  - BRADY, TACHY: extreme bradycardia and tachycardia of the mean of the last 8 RR intervals.
 *  - AFIB: af-detector.ts.
 * Bad signal suppresses rhythm calls: no episode starts on a block flagged leads-off, noise or
 * saturation, nor do the RR intervals it touches count; two such blocks in a row end the open
 * episodes (they cannot be judged) and the beat history starts afresh. Asystole needs the last
 * three blocks clean. VF is judged apart: through the noise flag's rejected candidates (to the
 * QRS detector VF looks like noise), but no VF episode starts after a block with high-frequency
 * noise (artefact; VF has none), nor while leads are off or the signal saturates.
 *
 * Memory: one Float32Array ring of RING_SECONDS of filtered signal, small fixed windows; nothing
 * grows with time. Hot path: a DC-blocking high-pass, a 20 ms moving average and VF's second
 * difference per sample.
 */
import { Quality } from '../../drivers/records.js'
import { AfDetector } from './af-detector.js'
import { BeatClassifier, TEMPLATE_AFTER_MS, TEMPLATE_BEFORE_MS, TEMPLATE_POINTS, type BeatClass } from './beat-classifier.js'
import { P_POINTS, PR_FROM_MS, PR_TO_MS, PWaveTracker } from './p-wave.js'
import { SortedWindow } from './sorted-window.js'
import { VfDetector } from './vf-detector.js'

export type RhythmLabel = 'ASYS' | 'VF' | 'VT' | 'AFIB' | 'BRADY' | 'TACHY'
export const RHYTHM_LABELS: readonly RhythmLabel[] = ['ASYS', 'VF', 'VT', 'AFIB', 'BRADY', 'TACHY']

export interface RhythmEpisodeEvent {
  readonly label: RhythmLabel
  readonly phase: 'onset' | 'offset'
  /** First sample of the episode (stream sample index). */
  readonly startSample: number
  /** At onset the sample at which the condition was decided; at offset the episode's last sample. */
  readonly endSample: number
}

export interface RhythmSink {
  rhythm(e: RhythmEpisodeEvent): void
}

/**
 * Asystole: no QRS for 4 s. The definition; monitors' defaults are 3–10 s adjustable
 * (Mindray ePM "Asystole Delay 3 s to 10 s", easymanua.ls/mindray/epm-12mc/manual?p=102) and
 * 5 s in Spacelabs' table of events ("absence of QRS for 5 seconds or more", Spacelabs Ultraview
 * user's manual, Arrhythmia 9-7).
 */
export const ASYSTOLE_MS = 4000
const ASYS_CLEAN_BLOCKS = 3
/** Clean blocks in a row before beats count for VT, AF and the extreme rates again (noise leaves misshapen beats behind it). */
const CLEAN_BLOCKS_FOR_BEATS = 2
/** Consecutive bad blocks that end the open episodes (conditions.ts raises its technical conditions after 2 too). */
const SUSPEND_AFTER_BAD_BLOCKS = 2
/**
 * An open AF episode outlasts up to this many bad blocks in a row (10 s at the default 1 s
 * cadence); a longer stretch ends it where the other episodes ended (the second bad block). AF does not stop for a few
 * seconds of artefact, and ending the episode there split it in two: the detector needs 32 usable
 * intervals (20–30 s) to call it again. On the public records this was 221 at 19:44, 24 s of its
 * AF lost (AF duration Se 93.1 → 94.0 %, +P unchanged at 63.7 %); any hold of 1 to 30 blocks gives
 * the same figures there. Not a lethal call: asystole, VF and VT still end at the second bad block.
 */
const AF_HOLD_BAD_BLOCKS = 10
/**
 * A pause is only asystole if nothing QRS-like happened in it: its largest deflection (from
 * PAUSE_AFTER_BEAT_MS after the last beat, past that beat's QRS and T wave: QT is ≤ 0.55 s down to
 * 40 /min by Bazett's 0.44 s QTc) stays under PAUSE_MAX_FRACTION of the median R amplitude (both
 * band-limited as the templates are). Beats the detector missed (116 at 22:34: beats at half the
 * usual R amplitude in a baseline swing) are not silence; P waves (typically ≤ 0.25 of R in lead
 * II) and baseline noise are.
 */
const PAUSE_AFTER_BEAT_MS = 600
const PAUSE_MAX_FRACTION = 0.3
/**
 * After bad signal, a pause is counted from RESUME_SETTLE_MS after the signal became clean again:
 * an amplifier recovering from saturation shows no QRS for seconds (116 at 23:11: 5 s of
 * exponential recovery from the rail), and the QRS detector's thresholds may need re-learning.
 */
const RESUME_SETTLE_MS = 4000
/**
 * A baseline that moves by more than BASELINE_STEP_UV between 1 s blocks (their means) is an
 * electrode or amplifier event, not a pause: 116 at 22:34 steps by 3.4 mV and shows no QRS on
 * lead 0 during the 5 s of recovery (the annotators marked it noisy); breathing moves the
 * baseline by tenths of a mV per second. Asystole then waits as after bad signal.
 */
const BASELINE_STEP_UV = 500
/** The QRS detector's learning period (qrs.ts LEARN_SECONDS): no beats can come before it ends. */
const DETECTOR_LEARN_MS = 3000
/** The detector's search-back (qrs.ts) may deliver a beat 1.5 median RR after the last one, plus its windows. */
const SEARCH_BACK_RR = 1.5
const SEARCH_BACK_EXTRA_MS = 500
/**
 * VT: Philips IntelliVue default "V-Tach: run ≥ 5 PVCs and HR ≥ 100" (IntelliVue MX800/MP2
 * configuration guide, Arrhythmia Alarms, manualslib.com/manual/1424773 p. 43); shorter runs at
 * that rate are "non-sustained VT", not a high-priority alarm there.
 */
export const VT_MIN_BEATS = 5
export const VT_MIN_RATE = 100
/**
 * ANSI/AAMI EC57:2012 scores ventricular tachycardia as runs of three or more consecutive
 * ventricular ectopic beats (its "run" of ≥ 3 beats; the MIT-BIH `(VT` annotations mark such runs,
 * 12 of the 19 from 05:00 in the 34 public records of 3 beats): what `bedside-hub rhythm` reports,
 * so that it scores as EC57 does. The alarm keeps VT_MIN_BEATS.
 */
export const EC57_RUN_BEATS = 3
/**
 * Extreme bradycardia < 40 /min and extreme tachycardia > 140 /min: the high-priority HR
 * escalations of agent/rules/defaults.ts (≤ 40 scores NEWS2 pulse 3 [NEWS2]; 140 = the 120 high
 * limit + 20, the way Philips sets its extreme limits as the HR limits ± a Δ [PHILIPS-MP5]).
 */
export const EXTREME_BRADY_RATE = 40
export const EXTREME_TACHY_RATE = 140
/** Hysteresis of the extreme rates, /min (so that a rate at the limit does not flicker). */
const RATE_HYSTERESIS = 5
const RATE_BEATS = 8
/** A beat ≥ 15 % early is premature (Spacelabs Ultraview, Arrhythmia 9-7: "15% premature as compared to the average R-R interval"). */
const PREMATURE_FRACTION = 0.85
/**
 * VF (vf-detector.ts) does not start while the QRS detector sees an organised rhythm in the VF
 * window: at least ORGANISED_BEATS of the (up to ORGANISED_OF) RR intervals ending in it within
 * ±15 % of their median, slower than ORGANISED_MAX_RATE (a few false detections in the noise do
 * not hide the rhythm). An oscillation with regular QRS complexes through it is tremor or motion;
 * in VF and flutter the detector finds no regular beats, or waves faster than 150 /min. Measured
 * with rhythm-noise.test.ts: the false VF calls under tremor/motion are 46/30 (103/712 with the
 * VF filter's features alone), and VF is called 4–6 s after its onset on the simulated patch.
 * [LOCAL]
 */
const ORGANISED_BEATS = 3
const ORGANISED_OF = 8
const ORGANISED_MAX_RATE = 150
const BAD_SIGNAL = Quality.LEADS_OFF | Quality.QUESTIONABLE | Quality.OUT_OF_RANGE
const NO_ECG = Quality.LEADS_OFF | Quality.OUT_OF_RANGE
const RING_SECONDS = 8
// indices into RHYTHM_LABELS
const ASYS = 0
const VF = 1
const VT = 2
const AFIB = 3
const BRADY = 4
const TACHY = 5

export class RhythmAnalyzer {
  readonly rateHz: number
  private readonly sink: RhythmSink
  private readonly releaseDelaySamples: number
  // filtered signal: DC blocker (≈1 Hz) then a 20 ms moving average (zeros at 50 and 100 Hz mains)
  private readonly ring: Float32Array
  private readonly mask: number
  private readonly maLength: number
  private readonly maDelay: number
  private readonly ma: Float64Array
  private maSum = 0
  private dcPole: number
  private dcX = 0
  private dcY = 0
  // per quality block: the mean of the raw ECG, for baselineStepped
  private rawSum = 0
  private rawCount = 0
  private lastBlockMean = Number.NaN
  private readonly vf: VfDetector
  private n = 0
  // beats
  private readonly classifier = new BeatClassifier()
  private readonly pWave = new PWaveTracker()
  /** Whether the last classified beat had its usual P wave. */
  private lastHadP = true
  private readonly beatVector = new Float64Array(TEMPLATE_POINTS)
  private readonly rr = new Float64Array(RATE_BEATS)
  private rrCount = 0
  /** RR intervals between two beats that were not ventricular: the rhythm a premature beat is early against. */
  private readonly nnRr = new Float64Array(RATE_BEATS)
  private nnCount = 0
  private lastBeat = -1
  /** The last RATE_BEATS + 1 beats delivered, kept through bad signal (for organised()). */
  private readonly beats = new Float64Array(RATE_BEATS + 1)
  private beatCount = 0
  private readonly rAmplitudes = new SortedWindow(8)
  private readonly rrMedian = new SortedWindow(RATE_BEATS)
  private readonly organisedRr = new SortedWindow(ORGANISED_OF)
  /** Largest |filtered sample| since PAUSE_AFTER_BEAT_MS after the last beat. */
  private pauseMax = 0
  /** Samples after the last beat before a pause can be called (release delay, search-back, ASYSTOLE_MS). */
  private asysWait = 0
  private readonly learnSamples: number
  /** PAUSE_AFTER_BEAT_MS in samples. */
  private readonly pauseStart: number
  private maIndex = 0
  /** Where the signal last became judgeable again (after a bad block): a pause is counted from here at the earliest. */
  private resumedAt = 0
  private readonly settleSamples: number
  private lastClass: BeatClass = 'unknown'
  /** The last beat was wide (beat-classifier.ts lastWide), whatever its class. */
  private lastWide = false
  // VT run
  private runStart = 0
  private runLast = 0
  private runBeats = 0
  private runWide = 0
  private vtEndedAt = -1
  // quality blocks
  private cleanBlocks = 0
  private lastBlockBad = false
  private badBlocks = 0
  /**
   * Bad blocks since beats last counted (CLEAN_BLOCKS_FOR_BEATS clean blocks in a row): what an
   * open AF episode is held through. A clean block between bad ones does not restart it, or a
   * pattern of 8 bad and 1 clean would hold AF for ever without an interval to judge.
   */
  private heldBadBlocks = 0
  /** Where bad signal first suspended the analysis since beats last counted (−1: not since), to date a held AF episode's end. */
  private suspendedAt = -1
  /** The last quality block had no ECG (leads off, saturation): VF is not judged until a block has. */
  private noEcg = false
  /** The last quality block had high-frequency noise: no VF episode starts until a block without. */
  private hfNoise = false
  private readonly af = new AfDetector()
  // open episodes: start sample, or −1
  private readonly open = new Float64Array(RHYTHM_LABELS.length).fill(-1)
  private finished = false

  /** Ventricular beats a run needs to be VT: VT_MIN_BEATS for the alarm, EC57_RUN_BEATS for scoring. */
  private readonly vtMinBeats: number

  constructor(rateHz: number, sink: RhythmSink, releaseDelaySamples: number, vtMinBeats = VT_MIN_BEATS) {
    if (!(rateHz >= 50 && rateHz <= 2000)) throw new RangeError(`rhythm analyzer: rateHz ${rateHz} outside 50–2000`)
    if (!(Number.isInteger(vtMinBeats) && vtMinBeats >= EC57_RUN_BEATS)) throw new RangeError(`rhythm analyzer: vtMinBeats ${vtMinBeats} is not an integer ≥ ${EC57_RUN_BEATS}`)
    this.vtMinBeats = vtMinBeats
    this.rateHz = rateHz
    this.sink = sink
    this.releaseDelaySamples = releaseDelaySamples
    const size = 1 << Math.ceil(Math.log2(rateHz * RING_SECONDS))
    this.ring = new Float32Array(size)
    this.mask = size - 1
    this.maLength = Math.max(1, Math.round(rateHz / 50))
    this.vf = new VfDetector(rateHz)
    this.maDelay = (this.maLength - 1) / 2
    this.ma = new Float64Array(this.maLength)
    this.dcPole = 1 - (2 * Math.PI * 1) / rateHz
    this.learnSamples = Math.round((DETECTOR_LEARN_MS * rateHz) / 1000)
    this.pauseStart = Math.round((PAUSE_AFTER_BEAT_MS * rateHz) / 1000)
    this.settleSamples = Math.round((RESUME_SETTLE_MS * rateHz) / 1000)
    this.resumedAt = -this.settleSamples
    this.asysWait = this.pauseSamples(0)
  }

  /** Samples from the last beat to the asystole decision, given the median RR (0 when unknown). */
  private pauseSamples(medianRr: number): number {
    const searchBack = SEARCH_BACK_RR * medianRr + (SEARCH_BACK_EXTRA_MS * this.rateHz) / 1000
    return Math.max((ASYSTOLE_MS * this.rateHz) / 1000 + this.releaseDelaySamples, searchBack)
  }

  /** Samples consumed so far. */
  get sampleCount(): number {
    return this.n
  }

  /** Is `label` in an open episode? */
  isActive(label: RhythmLabel): boolean {
    return this.open[RHYTHM_LABELS.indexOf(label)]! >= 0
  }

  /** Samples [from, to) of a chunk, µV, before the QRS detector gets them. */
  push(samples: ArrayLike<number>, from = 0, to = samples.length): void {
    for (let i = from; i < to; i++) this.step(samples[i]!)
  }

  private step(x: number): void {
    const v = Number.isFinite(x) ? x : this.dcX
    const y = v - this.dcX + this.dcPole * this.dcY
    this.rawSum += v
    this.rawCount++
    this.dcY = y
    this.dcX = v
    const k = this.maIndex
    this.maIndex = k + 1 === this.maLength ? 0 : k + 1
    this.maSum += this.dcY - this.ma[k]!
    this.ma[k] = this.dcY
    const f = this.maSum / this.maLength
    this.ring[this.n & this.mask] = f
    this.vf.addSample(f)
    // the pause is judged up to n − releaseDelay, where the detector has delivered every beat
    const seen = this.n - this.releaseDelaySamples
    if (seen - this.lastBeat >= this.pauseStart && seen >= 0) {
      const g = this.ring[seen & this.mask]!
      if ((g < 0 ? -g : g) > this.pauseMax) this.pauseMax = g < 0 ? -g : g
    }
    this.n++
    if (this.n % this.vf.stepSamples === 0) this.checkVf()
    this.checkAsystole()
  }


  /** Asystole: beats up to n − releaseDelay (and any search-back) have been delivered, so the pause is certain up to there. */
  private checkAsystole(): void {
    if (this.cleanBlocks < ASYS_CLEAN_BLOCKS || this.open[ASYS]! >= 0) return
    const since = Math.max(this.lastBeat, this.learnSamples, this.resumedAt + this.settleSamples)
    if (this.n - since < this.asysWait) return
    if (this.rAmplitudes.size > 0 && this.pauseMax >= PAUSE_MAX_FRACTION * this.rAmplitudes.median()) return
    this.onset(ASYS, since, this.n - 1)
    this.closeEpisode(BRADY, this.n - 1)
  }

  /** A beat delivered by the QRS detector, R peak at sample `r`. */
  onBeat(r: number): void {
    this.beats[this.beatCount++ % this.beats.length] = r
    const cls = this.classifyBeat(r)
    // beats count for rhythm calls once the signal has been clean for CLEAN_BLOCKS_FOR_BEATS blocks
    const gated = this.lastBlockBad || this.cleanBlocks < CLEAN_BLOCKS_FOR_BEATS
    if (this.open[ASYS]! >= 0) {
      // the pause is not an RR interval: the rate starts again from this beat
      this.closeEpisode(ASYS, r)
      this.rrCount = 0
      this.nnCount = 0
      this.af.interval(0, r, false)
    } else if (this.lastBeat >= 0 && r > this.lastBeat) {
      const rr = r - this.lastBeat
      this.rr[this.rrCount % RATE_BEATS] = rr
      this.rrCount++
      if (cls !== 'ventricular' && this.lastClass !== 'ventricular') this.nnRr[this.nnCount++ % RATE_BEATS] = rr
      // a wide beat (ventricular, paced, fused, aberrant) is not AF conducted through the AV node:
      // its intervals are left out whatever its class (217's pacemaker fusion beats, which the
      // classifier rightly calls not ventricular, would otherwise look regular)
      const usable = !gated && cls === 'normal' && this.lastClass === 'normal' && !this.classifier.lastWide && !this.lastWide
      const t = this.af.interval(rr, r, usable, this.lastHadP)
      if (t && t.onset && !gated) this.onset(AFIB, t.atSample, r)
      else if (t && !t.onset) this.closeEpisode(AFIB, t.atSample)
    }
    this.trackRun(r, cls, gated)
    if (!gated) this.checkRate(r, false)
    this.lastBeat = r
    this.lastClass = cls
    this.lastWide = this.classifier.lastWide
    this.startPause(r)
  }

  /** A new pause starts at beat `r`: its largest deflection so far, and when it may be called asystole. */
  private startPause(r: number): void {
    let max = 0
    for (let i = Math.max(r + this.pauseStart, this.n - this.ring.length); i < this.n - this.releaseDelaySamples; i++) max = Math.max(max, Math.abs(this.ring[i & this.mask]!))
    this.pauseMax = max
    const k = Math.min(this.rrCount, RATE_BEATS)
    this.rrMedian.clear()
    for (let i = 0; i < k; i++) this.rrMedian.push(this.rr[i]!)
    this.asysWait = this.pauseSamples(k > 0 ? this.rrMedian.median() : 0)
  }

  /**
   * End of a quality block (now, at sampleCount) with its quality flags; `hfNoise`: its
   * high-frequency noise (above the QRS band: muscle, electrode crackle) is over the quality
   * limit, which VF, a low-frequency signal, does not cause by itself.
   */
  block(flags: number, hfNoise = false): void {
    const bad = (flags & BAD_SIGNAL) !== 0
    this.lastBlockBad = bad
    if (this.baselineStepped()) this.resumedAt = this.n
    // VF is judged on the raw ECG (every VF_STEP_MS, in step), whose broadband noise its features
    // reject by themselves; the QRS detector's noise flag (many rejected candidates) is what VF
    // looks like to it. Leads off and saturation do stop it: there is no ECG to judge.
    this.noEcg = (flags & NO_ECG) !== 0
    this.hfNoise = hfNoise
    if (this.noEcg || hfNoise) this.vf.reset()
    if (this.noEcg) {
      this.vf.reset()
      this.closeEpisode(VF, Math.max(0, this.n - 1))
    }
    if (bad) {
      this.cleanBlocks = 0
      // one bad second only spoils the intervals it touches; a second one in a row ends the
      // episodes (the same 2-block rule as the technical conditions, conditions.ts)
      this.heldBadBlocks++
      if (++this.badBlocks >= SUSPEND_AFTER_BAD_BLOCKS) this.suspend()
      else this.af.interval(0, this.n, false)
      return
    }
    this.badBlocks = 0
    if (this.cleanBlocks + 1 >= CLEAN_BLOCKS_FOR_BEATS) {
      this.heldBadBlocks = 0
      this.suspendedAt = -1
    }
    this.cleanBlocks++
    if (this.lastBeat >= 0 && this.open[ASYS]! < 0) this.checkRate(this.n - this.releaseDelaySamples, true)
  }

  /** End of the stream: closes the open episodes at the last sample. */
  finish(): void {
    if (this.finished) return
    this.finished = true
    for (let i = 0; i < RHYTHM_LABELS.length; i++) this.closeEpisode(i, Math.max(0, this.n - 1))
  }

  private judgePWave(center: number): void {
    const from = (PR_FROM_MS * this.rateHz) / 1000
    const to = (PR_TO_MS * this.rateHz) / 1000
    const seg = this.pWave.segment
    const step = (from - to) / (P_POINTS - 1)
    for (let k = 0; k < P_POINTS; k++) {
      const t = center - from + k * step
      const i = Math.floor(t)
      const f = t - i
      seg[k] = this.ring[i & this.mask]! * (1 - f) + this.ring[(i + 1) & this.mask]! * f
    }
    this.lastHadP = this.pWave.judge()
  }

  private classifyBeat(r: number): BeatClass {
    const before = (TEMPLATE_BEFORE_MS * this.rateHz) / 1000
    const after = (TEMPLATE_AFTER_MS * this.rateHz) / 1000
    const center = r + this.maDelay
    if (center + after >= this.n || center - before < this.n - this.ring.length) return 'unknown'
    const step = (before + after) / (TEMPLATE_POINTS - 1)
    for (let k = 0; k < TEMPLATE_POINTS; k++) {
      const t = center - before + k * step
      const i = Math.floor(t)
      const f = t - i
      this.beatVector[k] = this.ring[i & this.mask]! * (1 - f) + this.ring[(i + 1) & this.mask]! * f
    }
    this.rAmplitudes.push(Math.abs(this.ring[Math.round(center) & this.mask]!))
    this.judgePWave(center)
    const base = this.beatVector[0]!
    for (let k = 0; k < TEMPLATE_POINTS; k++) this.beatVector[k] = this.beatVector[k]! - base
    return this.classifier.classify(this.beatVector, this.isPremature(r))
  }

  /**
   * Premature: RR under PREMATURE_FRACTION of the mean of the last intervals between two beats
   * that were not ventricular (Spacelabs' "average R-R interval" is the underlying rhythm's), so
   * the beats of a run stay premature against the rhythm the run interrupted. Before, any beat after
   * a ventricular one counted as premature, and the conducted beat after a PVC (or a flutter beat
   * after a misclassified one) was then judged ventricular on a slightly wider, not quite dominant
   * shape: MIT-BIH 34 records from 05:00, non-V beats called V 1000 → 738, V beats 1697 → 1700 of
   * 2287 (both halves of scripts/qrs-cv.ts: A 179 → 177 and 480 → 476, B 821 → 561 and 1217 → 1224).
   */
  private isPremature(r: number): boolean {
    const k = Math.min(this.nnCount, RATE_BEATS)
    if (k === 0 || this.lastBeat < 0) return this.lastClass === 'ventricular'
    let sum = 0
    for (let i = 0; i < k; i++) sum += this.nnRr[i]!
    return r - this.lastBeat < (PREMATURE_FRACTION * sum) / k
  }

  private trackRun(r: number, cls: BeatClass, gated: boolean): void {
    if (cls !== 'ventricular' || gated) {
      if (this.open[VT]! >= 0) {
        this.closeEpisode(VT, this.runLast)
        this.vtEndedAt = this.runLast
      }
      this.runBeats = 0
      return
    }
    if (this.runBeats === 0) {
      this.runStart = r
      this.runWide = 0
    }
    this.runLast = r
    this.runBeats++
    if (this.classifier.lastWide) this.runWide++
    // not while the ECG looks like VF (the detector's "beats" are then its waves), nor while an
    // oscillation in the VF band dominates the window with QRS complexes on it (tremor: each beat
    // is distorted by it and looks ventricular; MIT-BIH under a 5 Hz tremor, 211 VT calls in its
    // noisy minutes → 13, rhythm-noise.test.ts; none lost on the clean records' VT)
    if (this.runBeats < this.vtMinBeats || this.open[VT]! >= 0 || this.open[VF]! >= 0 || this.vf.pending || this.vf.oscillation) return
    // VT is a wide-complex tachycardia: most of the run wide, not only of another shape (aberrant supraventricular runs)
    if (this.runWide * 2 < this.runBeats) return
    const rate = (60 * this.rateHz * (this.runBeats - 1)) / (r - this.runStart)
    if (rate >= VT_MIN_RATE) {
      this.onset(VT, this.runStart, r)
      this.closeEpisode(TACHY, r)
    }
  }

  /**
   * Extreme rates from the mean of the last RATE_BEATS RR intervals. Between beats (`pending`
   * true), the interval still running counts in place of the oldest once it is longer than the
   * mean, so a rate that falls to nothing is seen without waiting for a beat.
   */
  private checkRate(at: number, pending: boolean): void {
    if (this.rrCount < RATE_BEATS || this.open[VF]! >= 0) return
    let sum = 0
    for (let i = 0; i < RATE_BEATS; i++) sum += this.rr[i]!
    const running = at - this.lastBeat
    if (pending && running > sum / RATE_BEATS) sum += running - this.rr[this.rrCount % RATE_BEATS]!
    const rate = (60 * this.rateHz * RATE_BEATS) / sum
    const windowStart = Math.max(0, at - sum)
    // as for asystole, a slow rate right after bad signal or a baseline step is more likely missed beats
    const settled = at >= this.resumedAt + this.settleSamples
    if (rate < EXTREME_BRADY_RATE && this.open[ASYS]! < 0 && settled) this.onset(BRADY, windowStart, at)
    else if (rate >= EXTREME_BRADY_RATE + RATE_HYSTERESIS) this.closeEpisode(BRADY, at)
    // a VT run's rate is the VT alarm's, not a second one (the window must start after the run)
    if (rate > EXTREME_TACHY_RATE && this.open[VT]! < 0 && windowStart > this.vtEndedAt) this.onset(TACHY, windowStart, at)
    else if (rate <= EXTREME_TACHY_RATE - RATE_HYSTERESIS) this.closeEpisode(TACHY, at)
  }

  private checkVf(): void {
    if (this.noEcg) return this.vf.skip()
    const verdict = this.vf.judge(this.ring, this.mask, this.n, this.open[VF]! >= 0, this.organised() || this.hfNoise)
    if (verdict === 'onset') {
      this.onset(VF, this.vf.firstAt, this.n - 1)
      this.closeEpisode(TACHY, this.n - 1)
      this.closeEpisode(VT, this.n - 1)
    } else if (verdict === 'offset') this.closeEpisode(VF, this.n - this.vf.windowSamples)
  }

  /** The block's mean moved by more than BASELINE_STEP_UV from the previous block's. */
  private baselineStepped(): boolean {
    const mean = this.rawCount > 0 ? this.rawSum / this.rawCount : Number.NaN
    const stepped = Math.abs(mean - this.lastBlockMean) > BASELINE_STEP_UV
    this.lastBlockMean = mean
    this.rawSum = 0
    this.rawCount = 0
    return stepped
  }

  /**
   * The detector sees regular beats slower than ORGANISED_MAX_RATE in the VF window (see the
   * constant). From every beat it delivered, bad signal or not: VF is judged through noise too.
   */
  private organised(): boolean {
    // the intervals that end within the VF window (up to where the detector has delivered beats)
    const from = this.n - this.releaseDelaySamples - this.vf.windowSamples
    let k = 0
    while (k < ORGANISED_OF && k + 1 < this.beatCount && this.beatAt(k) >= from) k++
    if (k < ORGANISED_BEATS) return false
    this.organisedRr.clear()
    for (let i = 1; i <= k; i++) this.organisedRr.push(this.beatAt(i - 1) - this.beatAt(i))
    const median = this.organisedRr.median()
    let near = 0
    for (let i = 1; i <= k; i++) if (Math.abs(this.beatAt(i - 1) - this.beatAt(i) - median) <= 0.15 * median) near++
    return near >= ORGANISED_BEATS && (60 * this.rateHz) / median <= ORGANISED_MAX_RATE
  }

  /** R peak of the k-th last beat delivered (0 = the last). */
  private beatAt(k: number): number {
    return this.beats[(this.beatCount - 1 - k) % this.beats.length]!
  }

  /** Leakage of the last VF window (for tests and tuning). */
  get lastLeakage(): number {
    return this.vf.lastLeakage
  }

  /** Bad signal: open episodes (but VF, judged apart, and AF, held for a while) end here and the beat history is forgotten. */
  private suspend(): void {
    const at = Math.max(0, this.n - 1)
    if (this.suspendedAt < 0) this.suspendedAt = at
    for (let i = 0; i < RHYTHM_LABELS.length; i++) if (i !== VF && i !== AFIB) this.closeEpisode(i, at)
    if (this.open[AFIB]! >= 0 && this.heldBadBlocks <= AF_HOLD_BAD_BLOCKS) {
      // held: the intervals before the artefact stay in the window, none spans it
      this.af.interval(0, this.n, false)
    } else {
      this.closeEpisode(AFIB, Math.min(at, this.suspendedAt))
      this.af.reset()
    }
    this.runBeats = 0
    // an interval across bad signal is not an RR interval, nor silence
    this.rrCount = 0
    this.nnCount = 0
    this.lastBeat = -1
    this.lastClass = 'unknown'
    this.resumedAt = this.n
    this.pauseMax = 0
    this.asysWait = this.pauseSamples(0)
  }

  private onset(label: number, start: number, at: number): void {
    if (this.open[label]! >= 0 || this.finished) return
    const startSample = Math.max(0, Math.round(start))
    this.open[label] = startSample
    this.sink.rhythm({ label: RHYTHM_LABELS[label]!, phase: 'onset', startSample, endSample: Math.max(startSample, Math.round(at)) })
  }

  private closeEpisode(label: number, at: number): void {
    const start = this.open[label]!
    if (start < 0) return
    this.open[label] = -1
    this.sink.rhythm({ label: RHYTHM_LABELS[label]!, phase: 'offset', startSample: start, endSample: Math.max(start, Math.round(at)) })
  }
}
