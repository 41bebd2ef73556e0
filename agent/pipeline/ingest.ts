/**
 * The record bus: every canonical record from every source passes here, in this order:
 *   validate → normalize → plausibility → associate (device → bed → admission) → rules → store (group commit)
 * Alarms are decided in memory the moment a record arrives and published at once; the durable
 * commit of the record and of the alarm follows in the same group commit (DESIGN.md, Data flow).
 */
import type { Logger } from 'pino'
import { Quality, type Observation, type WaveformChunk } from '../../drivers/records.js'
import type { Admissions } from '../store/admissions.js'
import type { AuditAction } from '../audit-actions.js'
import { alarmBody, auditBody } from '../store/bodies.js'
import { RecordKind, type GroupCommitter } from '../store/commit.js'
import type { AlarmChange, RuleEngine } from '../rules/index.js'
import type { Metrics } from '../serve/metrics.js'
import type { DeviceRegistry } from './devices.js'
import type { LatestVitals } from './latest.js'
import { normalizeObservation } from './normalize.js'
import type { AlarmCodes } from './alarm-codes.js'
import { EcgAnalysis, type EcgCondition, type RhythmEvent } from '../signal/index.js'
import { isImplausible, plausibleRange } from './plausibility.js'
import { OutOfRangeCounter, RejectCounter } from './rejects.js'

/** A device clock further off than this from the hub clock is re-timed (flagged RETIMED). */
export const DEFAULT_CLOCK_DRIFT_BOUND_MS = 10 * 60_000
const NO_VALUE_FLAGS = Quality.UNAVAILABLE | Quality.OUT_OF_RANGE

export interface PipelineDeps {
  readonly devices: DeviceRegistry
  readonly admissions: Admissions
  readonly committer: GroupCommitter
  readonly engine: RuleEngine
  readonly latest: LatestVitals
  readonly metrics: Metrics
  readonly log: Logger
  /** Publishes one alarm change to every live output (MQTT, WebSocket). Must not throw. */
  readonly publishAlarm: (change: AlarmChange, hubSeq: number) => void
  readonly clockDriftBoundMs?: number
  /** issue 7: while `refusing`, the store's quota holds only numerics, alarms and audit: non-alarm input is refused, alarming continues. */
  readonly storeGate?: { readonly refusing: boolean }
  /** Issue 24: the numeric code of each alarm (Alarm.mdc_code); absent: 0 (tests that do not sync). */
  readonly alarmCodes?: AlarmCodes
}

/**
 * accepted: queued for the next group commit. rejected: malformed or invalid, counted, never
 * valid on a re-send. refused: valid but the store is full (quota): the sender should keep it.
 */
export type IngestResult = 'accepted' | 'rejected' | 'refused'

export class Pipeline {
  readonly rejects: RejectCounter
  private readonly outOfRange: OutOfRangeCounter
  private readonly driftBoundMs: number
  /** Raw ECG → HR observations and signal-quality conditions, per patch (agent/signal). */
  readonly ecg: EcgAnalysis

  constructor(private readonly d: PipelineDeps) {
    this.rejects = new RejectCounter(d.metrics, d.log)
    this.outOfRange = new OutOfRangeCounter(d.metrics, d.log)
    this.driftBoundMs = d.clockDriftBoundMs ?? DEFAULT_CLOCK_DRIFT_BOUND_MS
    this.ecg = new EcgAnalysis({
      sequenceOf: (deviceId) => d.devices.get(deviceId),
      sink: {
        observation: (o) => void this.ingestObservation(o),
        condition: (c) => this.ecgCondition(c),
        rhythm: (e) => this.rhythmEpisode(e),
      },
    })
  }

  /** A technical condition of a device (link, battery, leads, ECG quality) → the alarm engine. */
  deviceCondition(deviceId: string, condition: Parameters<RuleEngine['technical']>[2], active: boolean, detail?: string): void {
    const device = this.d.devices.get(deviceId)
    if (!device) return
    if (active) this.d.metrics.deviceConditions.inc({ condition })
    const changes = this.d.engine.technical(device.bedId, deviceId, condition, active, Date.now(), detail)
    if (changes.length > 0) this.handleAlarms(changes)
  }

  private ecgCondition(c: EcgCondition): void {
    this.deviceCondition(c.deviceId, c.condition, c.active, c.detail)
  }

  /** A rhythm episode of a patch (agent/signal/rhythm.ts) → the alarm engine, on device time. */
  private rhythmEpisode(e: RhythmEvent): void {
    const device = this.d.devices.get(e.deviceId)
    if (!device) return
    const changes = this.d.engine.rhythm(device.bedId, e.deviceId, e.label, e.phase === 'onset', e.startMs, e.endMs)
    if (changes.length > 0) this.handleAlarms(changes)
  }

  reject(reason: string, source: string, detail?: string): void {
    this.rejects.reject(reason, source, detail)
  }

  /** Validates, evaluates and queues one observation for the next group commit. */
  ingestObservation(input: Observation): IngestResult {
    // A double, not hrtime.bigint(): a BigInt is a heap allocation per record.
    const arrivedMs = performance.now()
    const device = this.d.devices.get(input.deviceId)
    if (!device) return this.refuse('unknown-device', input.deviceId)
    // "No value" markers carry NaN: IEEE 11073 NaN/NRes (UNAVAILABLE), Datex UNDER/OVER_RANGE (OUT_OF_RANGE, §6.6).
    if (!Number.isFinite(input.value) && (input.quality & NO_VALUE_FLAGS) === 0) return this.refuse('bad-value', input.deviceId, 'value is not finite and not flagged unavailable or out-of-range')
    const norm = normalizeObservation(input)
    if ('reject' in norm) return this.refuse(norm.reject, input.deviceId, norm.detail)
    let obs = this.retimeIfDrifted(norm)
    // issue 16: the one plausibility check of every source (MQTT, BLE, Datex, HL7, sim, ECG-derived
    // HR all enter here), after normalize so that the range is in the canonical unit. Flagged, the
    // value is still stored below; the engine ignores it and latest.ts shows no number for it.
    if (isImplausible(obs.code, obs.value)) obs = this.flagImplausible(obs)
    const bedId = device.bedId
    const admission = this.d.admissions.current(bedId)
    this.d.latest.update(bedId, obs)
    const changes = this.d.engine.observe(bedId, obs)
    if (this.d.storeGate?.refusing) { // issue 7: evaluated for alarms above, not stored
      if (changes.length > 0) this.handleAlarms(changes, arrivedMs)
      this.refuse('store-full', input.deviceId, 'store quota full of numerics, alarms and audit events')
      return 'refused'
    }
    // Columns, not a row object: nothing of the record outlives this call but its place in the batch (commit.ts).
    this.d.committer.appendRecord(RecordKind.OBSERVATION, bedId, obs.deviceId, admission ? admission.id : null, obs.code, obs.value, obs.unit,
      obs.deviceTimeMs, obs.hubTimeMs, obs.deviceSeq, obs.quality, null)
    this.d.metrics.observationsIngested.inc()
    if (changes.length > 0) this.handleAlarms(changes, arrivedMs)
    return 'accepted'
  }

  /** Queues one waveform chunk; the ECG analysis hook turns it into HR observations. */
  ingestWaveform(chunk: WaveformChunk): IngestResult {
    const device = this.d.devices.get(chunk.deviceId)
    if (!device) return this.refuse('unknown-device', chunk.deviceId)
    if (this.d.storeGate?.refusing) { // issue 7: the HR derived from it still reaches the alarm engine
      this.ecg.push(chunk)
      this.refuse('store-full', chunk.deviceId, 'store quota full of numerics, alarms and audit events')
      return 'refused'
    }
    const admission = this.d.admissions.current(device.bedId)
    const s = chunk.samplesUv
    this.d.committer.append({
      kind: RecordKind.WAVEFORM, bedId: device.bedId, deviceId: chunk.deviceId, admissionId: admission ? admission.id : null,
      code: chunk.code, value: chunk.rateHz /* a waveform's value is its rate in Hz */, unit: 'uV', deviceTimeMs: Math.floor(chunk.t0Us / 1000),
      hubTimeMs: chunk.hubTimeMs, deviceSeq: chunk.deviceSeq, quality: chunk.quality,
      body: Buffer.from(s.buffer, s.byteOffset, s.byteLength), t0Us: chunk.t0Us,
    })
    this.d.metrics.waveformChunksIngested.inc()
    // After the chunk is queued: the HR derived from it follows it in hub_seq order.
    this.ecg.push(chunk)
    return 'accepted'
  }

  /** Records and publishes alarm changes that did not come from a record (ticks, technical, acks). */
  handleAlarms(changes: readonly AlarmChange[], arrivedMs?: number): void {
    for (let i = 0; i < changes.length; i++) {
      const c = changes[i]!
      const admission = this.d.admissions.current(c.bedId)
      const hubSeq = this.d.committer.append({
        kind: RecordKind.ALARM, bedId: c.bedId, deviceId: null, admissionId: admission ? admission.id : null,
        code: null, value: c.value ?? null, unit: null, deviceTimeMs: c.atMs, hubTimeMs: Date.now(), deviceSeq: null, quality: null,
        body: alarmBody(c, this.d.alarmCodes?.of(c.ruleId, c.code) ?? 0),
      })
      this.d.publishAlarm(c, hubSeq)
      this.d.metrics.alarmChanges.inc({ state: c.state })
      if (c.state === 'raised' || c.state === 'escalated') this.d.metrics.alarms.inc({ priority: c.priority })
      if (arrivedMs !== undefined) this.d.metrics.alarmLatency.observe((performance.now() - arrivedMs) / 1000)
      this.d.log.info({ event: 'alarm', alarmId: c.alarmId, bedId: c.bedId, state: c.state, priority: c.priority, ruleId: c.ruleId }, c.message)
    }
  }

  /** Appends an audit event (admission, acknowledgement, key rotation…) to the durable log. */
  /**
   * Appends an audit event keyed to `admissionId`'s patient and stay when given (a discharge: the
   * admission it closes, no longer current), else to the bed's current admission, else the bed or the hub.
   */
  audit(action: AuditAction, actor: string, bedId: string | null, detail: string, admissionId?: number): number {
    const admission = admissionId !== undefined ? { id: admissionId } : bedId ? this.d.admissions.current(bedId) : undefined
    const nowMs = Date.now()
    return this.d.committer.append({
      kind: RecordKind.AUDIT, bedId, deviceId: null, admissionId: admission ? admission.id : null, code: null, value: null, unit: null,
      deviceTimeMs: null, hubTimeMs: nowMs, deviceSeq: null, quality: null, body: auditBody(action, actor, nowMs, detail),
    })
  }

  /** A copy with OUT_OF_RANGE set: only implausible values pay for it, the common path allocates nothing. */
  private flagImplausible(obs: Observation): Observation {
    this.outOfRange.flagged(obs.deviceId, obs.code, obs.value, plausibleRange(obs.code))
    return { ...obs, quality: obs.quality | Quality.OUT_OF_RANGE }
  }

  private retimeIfDrifted(obs: Observation): Observation {
    const drift = obs.deviceTimeMs - obs.hubTimeMs
    if (drift <= this.driftBoundMs && drift >= -this.driftBoundMs) return obs
    this.d.metrics.retimed.inc()
    return { ...obs, deviceTimeMs: obs.hubTimeMs, quality: obs.quality | Quality.RETIMED }
  }

  private refuse(reason: string, source: string, detail?: string): 'rejected' {
    this.rejects.reject(reason, source, detail)
    return 'rejected'
  }
}
