/**
 * ECG analyzer for one patch: raw ECG chunks in, heart-rate Observations out at a steady cadence,
 * plus every beat with its RR interval and the technical conditions the alarm engine uses.
 *
 * Lifecycle: one analyzer per ECG stream (device + lead), fed its chunks in order by one caller;
 * `finish()` when the stream ends. Pure: device time comes from the chunks (t0Us, rateHz),
 * hub time from chunk.hubTimeMs; no clock is read. Memory is fixed at construction.
 *
 * HR (MDC_ECG_HEART_RATE, /min), one value per `cadenceMs` of device time (tick times are
 * multiples of cadenceMs since the epoch, so beds line up): 60000 / mean of the last ≤ 8 RR
 * intervals within the last 10 s (ECG monitor standards ask the HR averaging to be disclosed:
 * this is it). When the time since the last beat (less the detector's fixed delay)
 * exceeds that mean, it is used instead, so the rate falls during a pause rather than holding;
 * no beat for 6 s gives 0 /min (asystole). Before the detector has learnt: NaN + UNAVAILABLE.
 *
 * RR (MDC_ECG_TIME_PD_RR_GL, ms), one observation per beat after the first of a stream, at the
 * beat's R-peak time, with the flags known when the beat is delivered: those of the blocks since
 * the previous beat and of the chunks of the block under way (its noise verdict comes at the
 * tick, after the beat). Its deviceSeq comes from the same sequence as the HR, so both stay
 * unique per device.
 * Quality: the HR carries the OR of the quality of every block (one cadence interval) from its
 * oldest beat to the tick: LEADS_OFF (chunk flag or flat line), OUT_OF_RANGE (saturation),
 * QUESTIONABLE for samples lost and bridged,
 * QUESTIONABLE (noise: high-frequency ratio above 0.08, or 3 or more QRS-like rejects per second;
 * see QrsDetector.takeNoiseRatio and takeStrongRejects), plus the chunks' own
 * flags. So HR from a noisy or leads-off stretch is never valid.
 * Conditions: `leads-off`, `ecg-noise`, `ecg-saturation` turn active after 2 consecutive bad
 * blocks and clear after 3 consecutive good ones (hysteresis against flicker).
 */
import { codeOf } from '../../drivers/codes.js'
import { Quality, type Observation, type WaveformChunk } from '../../drivers/records.js'
import type { DeviceSequence } from '../../drivers/types.js'
import { BlockConditions, type EcgCondition } from './conditions.js'
import { QrsDetector, type BeatSink } from './qrs.js'
import { EC57_RUN_BEATS, RhythmAnalyzer, type RhythmEpisodeEvent, type RhythmLabel } from './rhythm.js'
import { SignalQualityMeter } from './quality.js'

export type { EcgCondition } from './conditions.js'

export interface BeatEvent {
  readonly deviceId: string
  /** Device time of the R peak, ms since the Unix epoch. */
  readonly deviceTimeMs: number
  /** Interval from the previous beat of the same stream; NaN for the first. */
  readonly rrMs: number
}

/** A rhythm episode's onset or offset (rhythm.ts), with device times. */
export interface RhythmEvent {
  readonly deviceId: string
  readonly label: RhythmLabel
  readonly phase: 'onset' | 'offset'
  /** Device time of the episode's first sample, whole ms since the Unix epoch. */
  readonly startMs: number
  /** Device time of the decision (onset) or of the episode's last sample (offset). */
  readonly endMs: number
  /** The same as sample indices counted from the start of the stream (a restart after a gap starts again at 0). */
  readonly startSample: number
  readonly endSample: number
}

export interface EcgSink {
  observation(o: Observation): void
  beat?(b: BeatEvent): void
  condition(c: EcgCondition): void
  rhythm?(e: RhythmEvent): void
}

export interface EcgAnalyzerOptions {
  readonly deviceId: string
  readonly sink: EcgSink
  /** HR cadence in device time (default 1000 ms). */
  readonly cadenceMs?: number
  /** |µV| at which the device's ADC saturates, when known. */
  readonly railUv?: number
  /** Gaps up to this long are bridged by holding the last sample; longer ones restart detection (default 1000 ms). */
  readonly maxGapMs?: number
  /** The patch's sequence, continued by the HR observations (a reconnect makes a new analyzer, not new numbers). */
  readonly seq?: DeviceSequence
  /** Rhythm analysis (rhythm.ts) beside QRS detection (default true). */
  readonly rhythm?: boolean
  /** Ventricular beats a run needs to be VT (rhythm.ts; default VT_MIN_BEATS, the alarm's). */
  readonly vtMinBeats?: number
}

const HEART_RATE_CODE = codeOf('MDC_ECG_HEART_RATE')
const RR_INTERVAL_CODE = codeOf('MDC_ECG_TIME_PD_RR_GL')
/** Noise limits (measurements in QrsDetector.takeNoiseRatio / takeStrongRejects). */
export const NOISE_RATIO_LIMIT = 0.08
export const NOISE_REJECTS_PER_S = 3
const HR_WINDOW_MS = 10_000
const HR_MAX_INTERVALS = 8
const ASYSTOLE_MS = 6_000
const LEARN_MS = 3_000

export class EcgAnalyzer implements BeatSink {
  readonly deviceId: string
  private readonly sink: EcgSink
  private readonly cadenceMs: number
  private readonly maxGapMs: number
  private readonly meter: SignalQualityMeter
  private readonly conditions: BlockConditions
  private detector: QrsDetector | undefined
  private rhythm: RhythmAnalyzer | undefined
  private readonly rhythmOn: boolean
  private readonly vtMinBeats: number | undefined
  private rateHz = 0
  private originUs = 0
  private nextTickMs = 0
  private streamStartMs = 0
  private blockQuality = 0
  private hubTimeMs = 0
  private readonly seq: DeviceSequence
  private lastSample = 0
  private readonly heldSample = new Float64Array(1)
  // recent beat times (ms) and block qualities, fixed rings
  private readonly beatMs = new Float64Array(HR_MAX_INTERVALS + 1)
  private beatCount = 0
  private readonly blockEndMs: Float64Array
  private readonly blockFlags: Int32Array
  private blockCount = 0

  constructor(opts: EcgAnalyzerOptions) {
    this.deviceId = opts.deviceId
    this.sink = opts.sink
    this.seq = opts.seq ?? { nextSeq: 0 }
    this.cadenceMs = opts.cadenceMs ?? 1000
    this.maxGapMs = opts.maxGapMs ?? 1000
    this.rhythmOn = opts.rhythm ?? true
    this.vtMinBeats = opts.vtMinBeats
    if (opts.vtMinBeats !== undefined && !(Number.isInteger(opts.vtMinBeats) && opts.vtMinBeats >= EC57_RUN_BEATS)) throw new RangeError(`ECG analyzer: vtMinBeats ${opts.vtMinBeats} is not an integer ≥ ${EC57_RUN_BEATS}`)
    if (!(this.cadenceMs >= 100)) throw new RangeError(`ECG analyzer: cadenceMs ${this.cadenceMs} below 100`)
    this.meter = new SignalQualityMeter(opts.railUv)
    this.conditions = new BlockConditions(this.deviceId, opts.sink)
    const blocks = Math.ceil((HR_WINDOW_MS + 2 * 1000) / this.cadenceMs) + 1
    this.blockEndMs = new Float64Array(blocks)
    this.blockFlags = new Int32Array(blocks)
  }

  /**
   * Feeds one chunk (µV). Chunks must come in device-time order: re-sent samples are dropped, a gap
   * up to maxGapMs is bridged, a longer gap or a jump of the device clock restarts detection.
   */
  push(chunk: WaveformChunk): void {
    if (chunk.samplesUv.length === 0) return
    let from = 0
    if (!this.detector || chunk.rateHz !== this.rateHz) this.start(chunk)
    else {
      const lagSamples = Math.round(((chunk.t0Us - this.expectedT0Us()) * this.rateHz) / 1e6)
      if ((Math.abs(lagSamples) * 1000) / this.rateHz > this.maxGapMs) this.start(chunk) // long gap or clock jump
      else if (lagSamples < 0) from = Math.min(-lagSamples, chunk.samplesUv.length) // re-sent samples
      else if (lagSamples > 0) this.feed(null, 0, lagSamples)
    }
    this.hubTimeMs = chunk.hubTimeMs
    this.blockQuality |= chunk.quality
    this.feed(chunk.samplesUv, from, chunk.samplesUv.length)
  }

  /** The stream ended: judges and delivers the last beats; the unfinished block is dropped. A later push starts afresh. */
  finish(): void {
    this.detector?.finish()
    this.rhythm?.finish()
    this.detector = undefined
    this.rhythm = undefined
  }

  /** BeatSink: called by the detector with the R-peak sample index. */
  onBeat(rPeakIndex: number): void {
    const tMs = (this.originUs + (rPeakIndex * 1e6) / this.rateHz) / 1000
    const prev = this.beatCount > 0 ? this.beatMs[(this.beatCount - 1) % this.beatMs.length]! : NaN
    this.beatMs[this.beatCount % this.beatMs.length] = tMs
    this.beatCount++
    this.rhythm?.onBeat(rPeakIndex)
    this.sink.beat?.({ deviceId: this.deviceId, deviceTimeMs: tMs, rrMs: tMs - prev })
    if (!Number.isNaN(prev)) this.emitRrInterval(tMs, tMs - prev, prev)
  }

  private emitRrInterval(tMs: number, rrMs: number, prevMs: number): void {
    this.sink.observation({
      kind: 'obs',
      deviceId: this.deviceId,
      code: RR_INTERVAL_CODE,
      value: Math.round(rrMs * 10) / 10,
      unit: 'ms',
      deviceTimeMs: tMs,
      hubTimeMs: this.hubTimeMs,
      deviceSeq: this.seq.nextSeq++,
      quality: this.qualitySince(prevMs) | this.blockQuality,
    })
  }

  private start(chunk: WaveformChunk): void {
    this.detector?.finish()
    this.rhythm?.finish()
    this.rateHz = chunk.rateHz
    this.detector = new QrsDetector(chunk.rateHz, this)
    this.rhythm = this.rhythmOn ? new RhythmAnalyzer(chunk.rateHz, { rhythm: (e) => this.onRhythm(e) }, this.detector.releaseDelaySamples, this.vtMinBeats) : undefined
    this.originUs = chunk.t0Us
    this.streamStartMs = chunk.t0Us / 1000
    this.beatCount = 0
    this.nextTickMs = (Math.floor(this.streamStartMs / this.cadenceMs) + 1) * this.cadenceMs
    this.meter.take()
    this.blockQuality = 0
  }

  private expectedT0Us(): number {
    return this.originUs + (this.detector!.sampleCount * 1e6) / this.rateHz
  }

  /** Feeds samples [from, to) (or `to − from` held copies of the last sample when `samples` is null), closing blocks at ticks. */
  private feed(samples: Int32Array | null, from: number, to: number): void {
    const detector = this.detector!
    while (from < to) {
      const tickIndex = Math.ceil(((this.nextTickMs * 1000 - this.originUs) * this.rateHz) / 1e6)
      const end = Math.min(to, Math.max(from, tickIndex - detector.sampleCount + from))
      if (samples) {
        this.rhythm?.push(samples, from, end) // first: the ring must hold the signal around a beat when it is delivered
        detector.push(samples.subarray(from, end))
        this.meter.add(samples, from, end)
        if (end > from) this.lastSample = samples[end - 1]!
      } else this.hold(end - from)
      from = end
      if (detector.sampleCount >= tickIndex) this.tick()
    }
  }

  /**
   * Bridges lost samples by holding the last value: the detector's time axis stays continuous.
   * The held samples do not count for flat-line or saturation, but a beat may hide in the gap,
   * so the block's HR is QUESTIONABLE.
   */
  private hold(count: number): void {
    const detector = this.detector!
    this.heldSample[0] = this.lastSample
    for (let i = 0; i < count; i++) {
      this.rhythm?.push(this.heldSample)
      detector.push(this.heldSample)
    }
    if (count > 0) this.blockQuality |= Quality.QUESTIONABLE
  }

  private tick(): void {
    const tickMs = this.nextTickMs
    this.nextTickMs += this.cadenceMs
    let flags = this.blockQuality | this.meter.take()
    const noise = this.detector!.takeNoiseRatio()
    const rejectsPerS = (this.detector!.takeStrongRejects() * 1000) / this.cadenceMs
    if (noise > NOISE_RATIO_LIMIT || rejectsPerS >= NOISE_REJECTS_PER_S) flags |= Quality.QUESTIONABLE
    this.blockQuality = 0
    this.blockEndMs[this.blockCount % this.blockEndMs.length] = tickMs
    this.blockFlags[this.blockCount % this.blockFlags.length] = flags
    this.blockCount++
    this.conditions.update(flags, tickMs)
    this.rhythm?.block(flags, noise > NOISE_RATIO_LIMIT)
    this.emitHeartRate(tickMs)
  }

  private onRhythm(e: RhythmEpisodeEvent): void {
    // whole ms: alarm ids and the stored int64 times carry them
    const ms = (sample: number) => Math.round((this.originUs + (sample * 1e6) / this.rateHz) / 1000)
    this.sink.rhythm?.({ deviceId: this.deviceId, label: e.label, phase: e.phase, startMs: ms(e.startSample), endMs: ms(e.endSample), startSample: e.startSample, endSample: e.endSample })
  }

  private emitHeartRate(tickMs: number): void {
    const { value, sinceMs } = this.heartRate(tickMs)
    const quality = Number.isNaN(value) ? Quality.UNAVAILABLE | this.qualitySince(tickMs - this.cadenceMs) : this.qualitySince(sinceMs)
    this.sink.observation({
      kind: 'obs',
      deviceId: this.deviceId,
      code: HEART_RATE_CODE,
      value,
      unit: '/min',
      deviceTimeMs: tickMs,
      hubTimeMs: this.hubTimeMs,
      deviceSeq: this.seq.nextSeq++,
      quality,
    })
  }

  /** HR at `tickMs` and the start of the stretch of signal it rests on. */
  private heartRate(tickMs: number): { value: number; sinceMs: number } {
    const delayMs = (this.detector!.releaseDelaySamples * 1000) / this.rateHz
    const seenUpToMs = tickMs - delayMs
    const last = this.beatCount > 0 ? this.beatMs[(this.beatCount - 1) % this.beatMs.length]! : NaN
    if (!(seenUpToMs - last <= ASYSTOLE_MS)) {
      const learnt = seenUpToMs - this.streamStartMs >= LEARN_MS + ASYSTOLE_MS
      return { value: learnt ? 0 : NaN, sinceMs: seenUpToMs - ASYSTOLE_MS }
    }
    let k = 0
    let first = last
    while (k < HR_MAX_INTERVALS && k + 1 < this.beatCount) {
      const t = this.beatMs[(this.beatCount - 2 - k) % this.beatMs.length]!
      if (seenUpToMs - t > HR_WINDOW_MS) break
      first = t
      k++
    }
    if (k === 0) {
      // one beat in the window: a rhythm slower than 6 /min, or the first beat of the stream
      const prev = this.beatCount > 1 ? this.beatMs[(this.beatCount - 2) % this.beatMs.length]! : NaN
      return { value: Number.isNaN(prev) ? NaN : Math.round(600_000 / Math.max(last - prev, seenUpToMs - last)) / 10, sinceMs: seenUpToMs - HR_WINDOW_MS }
    }
    const rrMs = Math.max((last - first) / k, seenUpToMs - last)
    return { value: Math.round(600_000 / rrMs) / 10, sinceMs: first }
  }

  /** OR of the block flags of every block that ends after `sinceMs` (and the one containing it). */
  private qualitySince(sinceMs: number): number {
    let q = 0
    const n = Math.min(this.blockCount, this.blockFlags.length)
    for (let i = 1; i <= n; i++) {
      const k = (this.blockCount - i) % this.blockFlags.length
      q |= this.blockFlags[k]!
      if (this.blockEndMs[k]! - this.cadenceMs <= sinceMs) break
    }
    return q
  }
}
