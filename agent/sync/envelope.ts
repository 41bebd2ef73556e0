/**
 * Outbox row → wire Envelope, pseudonymizing on the way out: the patient by MRN, the device by its
 * serial (or configured id), never either in clear. Runs on the sync path, off the ingest path.
 */
import { SCHEMA_VERSION, SubjectKind, encodeEnvelope, type EnvelopeMsg } from '../../proto/codec.js'
import { RecordKind } from '../store/commit.js'
import type { OutboxRow } from '../store/outbox.js'
import type { Admissions } from '../store/admissions.js'
import type { DeviceRegistry } from '../pipeline/devices.js'
import type { EpochKey, Pseudonymizer } from './pseudonym.js'

export type TopicName = 'raw_vitals' | 'waveforms' | 'alert_events' | 'audit_log'

export const TOPIC_OF_KIND: Readonly<Record<number, TopicName>> = {
  [RecordKind.OBSERVATION]: 'raw_vitals',
  [RecordKind.WAVEFORM]: 'waveforms',
  [RecordKind.ALARM]: 'alert_events',
  [RecordKind.AUDIT]: 'audit_log',
}

export interface EncodedRecord {
  readonly topic: TopicName
  /** Kafka key: the subject pseudonym, so one patient's events stay ordered in one partition. */
  readonly key: string
  readonly value: Uint8Array
}

export class EnvelopeEncoder {
  constructor(
    private readonly hubId: string,
    private readonly admissions: Admissions,
    private readonly devices: DeviceRegistry,
    private readonly pseudonyms: Pseudonymizer,
  ) {}

  encode(row: OutboxRow): EncodedRecord {
    // The key of the epoch in force when the record was accepted (pseudonym.ts, Epochs).
    const epoch = this.pseudonyms.epochAt(row.hub_time_ms)
    const { subject, kind } = this.subjectOf(row, epoch)
    const device = row.device_id ? this.pseudonyms.pseudonymIn(epoch, 'device', this.devices.get(row.device_id)?.identity ?? row.device_id) : ''
    const env: EnvelopeMsg = {
      schemaVersion: SCHEMA_VERSION,
      hubId: this.hubId,
      hubSeq: row.hub_seq,
      subject,
      subjectKind: kind,
      keyEpoch: epoch.id,
      bedId: row.bed_id ?? '',
      hubTimeMs: row.hub_time_ms,
    }
    switch (row.kind) {
      case RecordKind.OBSERVATION:
        env.observation = { code: row.code ?? 0, value: row.value ?? Number.NaN, unit: row.unit ?? '', deviceTimeMs: row.device_time_ms ?? 0, hubTimeMs: row.hub_time_ms, deviceSeq: row.device_seq ?? 0, quality: row.quality ?? 0, device }
        break
      case RecordKind.WAVEFORM: {
        const b = row.body ?? Buffer.alloc(0)
        const samples = new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))
        env.waveform = { code: row.code ?? 0, rateHz: row.value ?? 0, t0Us: (row.device_time_ms ?? 0) * 1000, samplesUv: samples, hubTimeMs: row.hub_time_ms, deviceSeq: row.device_seq ?? 0, quality: row.quality ?? 0, device }
        break
      }
      case RecordKind.ALARM: {
        const a = JSON.parse(String(row.body)) as Record<string, unknown>
        env.alarm = {
          alarmId: String(a.alarmId), ruleId: String(a.ruleId), state: String(a.state), priority: String(a.priority), category: String(a.category),
          code: typeof a.code === 'string' ? a.code : '', value: typeof a.value === 'number' ? a.value : Number.NaN, message: String(a.message ?? ''),
          conditionSinceMs: Number(a.conditionSinceMs ?? 0), atMs: Number(a.atMs ?? 0), latching: a.latching === true, ackBy: typeof a.ackBy === 'string' ? a.ackBy : '',
        }
        break
      }
      case RecordKind.AUDIT: {
        const a = JSON.parse(String(row.body)) as { action: string; actor: string; detail: string }
        env.audit = { action: a.action, actor: a.actor, atMs: row.hub_time_ms, detail: a.detail }
        break
      }
      default:
        throw new Error(`BEDSIDE_ERR_OUTBOX: record ${row.hub_seq} has unknown kind ${row.kind}`)
    }
    return { topic: TOPIC_OF_KIND[row.kind]!, key: subject, value: encodeEnvelope(env) }
  }

  private subjectOf(row: OutboxRow, epoch: EpochKey): { subject: string; kind: number } {
    if (row.admission_id !== null) {
      const a = this.admissions.get(row.admission_id)
      if (a) return { subject: this.pseudonyms.pseudonymIn(epoch, 'patient', a.mrn), kind: SubjectKind.PATIENT }
    }
    if (row.device_id !== null) {
      const identity = this.devices.get(row.device_id)?.identity ?? row.device_id
      return { subject: this.pseudonyms.pseudonymIn(epoch, 'device', identity), kind: SubjectKind.DEVICE }
    }
    // Bed- or hub-level events with nobody admitted: keyed by the bed label (not an identifier of a person).
    return { subject: `bed/${row.bed_id ?? ''}`, kind: SubjectKind.UNSPECIFIED }
  }
}
