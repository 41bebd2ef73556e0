/**
 * Outbox row → wire Envelope, pseudonymizing on the way out: the patient by MRN, the device by its
 * serial (or configured id), never either in clear. Runs on the sync path, off the ingest path.
 */
import { SCHEMA_VERSION, SubjectKind, encodeEnvelope, type EnvelopeMsg } from '../../proto/codec.js'
import { RecordKind } from '../store/commit.js'
import { Col, type OutboxRow } from '../store/outbox.js'
import type { Admissions } from '../store/admissions.js'
import type { DeviceRegistry } from '../pipeline/devices.js'
import type { DeviceIdentities } from '../store/device-identities.js'
import type { EpochKey, Pseudonymizer } from './pseudonym.js'

export type TopicName = 'raw_vitals' | 'waveforms' | 'alert_events' | 'audit_log'

/** Why a stored record can never become an Envelope (the local dead-letter's reasons). */
export type SyncRejectReason = 'unknown-kind' | 'bad-body' | 'encode-failed'

/** A row no retry will encode: the sync sets it aside (store/dead-letter.ts) and moves on. */
export class SyncRejectError extends Error {
  readonly code = 'BEDSIDE_ERR_SYNC_REJECT'
  constructor(readonly reason: SyncRejectReason, readonly hubSeq: number, message: string, options?: { cause?: unknown }) {
    super(`record ${hubSeq}: ${message}`, options)
    this.name = 'SyncRejectError'
  }
}

/** The JSON body of an alarm or audit row as an object, or a reject naming the row. */
function jsonBody(row: OutboxRow): Record<string, unknown> {
  let doc: unknown
  try {
    doc = JSON.parse(String(row[Col.BODY]))
  } catch (err) {
    throw new SyncRejectError('bad-body', row[Col.HUB_SEQ], `body is not JSON (${(err as Error).message})`, { cause: err })
  }
  if (doc === null || typeof doc !== 'object') throw new SyncRejectError('bad-body', row[Col.HUB_SEQ], 'body is not a JSON object')
  return doc as Record<string, unknown>
}

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
    readonly hubId: string,
    private readonly admissions: Admissions,
    private readonly devices: DeviceRegistry,
    private readonly pseudonyms: Pseudonymizer,
    /** The identity each device had when a record was accepted (without it: the registry's current one). */
    private readonly identities?: DeviceIdentities,
  ) {}

  /** The identity a device had when record `hubSeq` was accepted, however it changed since (or was unpaired). */
  private deviceIdentity(deviceId: string, hubSeq: number): string {
    return this.identities?.at(deviceId, hubSeq) ?? this.devices.get(deviceId)?.identity ?? deviceId
  }

  encode(row: OutboxRow): EncodedRecord {
    const hubTimeMs = row[Col.HUB_TIME_MS]
    const deviceId = row[Col.DEVICE_ID]
    // The key of the epoch in force when the record was accepted (pseudonym.ts, Epochs).
    const epoch = this.pseudonyms.epochAt(hubTimeMs)
    const { subject, kind } = this.subjectOf(row, epoch)
    const device = deviceId ? this.pseudonyms.pseudonymIn(epoch, 'device', this.deviceIdentity(deviceId, row[Col.HUB_SEQ])) : ''
    const env: EnvelopeMsg = {
      schemaVersion: SCHEMA_VERSION,
      hubId: this.hubId,
      hubSeq: row[Col.HUB_SEQ],
      subject,
      subjectKind: kind,
      keyEpoch: epoch.id,
      bedId: row[Col.BED_ID] ?? '',
      hubTimeMs,
    }
    switch (row[Col.KIND]) {
      case RecordKind.OBSERVATION:
        env.observation = { code: row[Col.CODE] ?? 0, value: row[Col.VALUE] ?? Number.NaN, unit: row[Col.UNIT] ?? '', deviceTimeMs: row[Col.DEVICE_TIME_MS] ?? 0, hubTimeMs, deviceSeq: row[Col.DEVICE_SEQ] ?? 0, quality: row[Col.QUALITY] ?? 0, device }
        break
      case RecordKind.WAVEFORM: {
        const b = row[Col.BODY] ?? Buffer.alloc(0)
        // A view where the body is aligned (better-sqlite3 gives each BLOB its own memory), a copy
        // otherwise: the copy was a tenth of the waveform drain's CPU profile.
        const samples = b.byteOffset % 4 === 0 && b.byteLength % 4 === 0
          ? new Int32Array(b.buffer, b.byteOffset, b.byteLength / 4)
          : new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))
        env.waveform = { code: row[Col.CODE] ?? 0, rateHz: row[Col.VALUE] ?? 0, t0Us: row[Col.T0_US] ?? (row[Col.DEVICE_TIME_MS] ?? 0) * 1000, samplesUv: samples, hubTimeMs, deviceSeq: row[Col.DEVICE_SEQ] ?? 0, quality: row[Col.QUALITY] ?? 0, device }
        break
      }
      case RecordKind.ALARM: {
        const a = jsonBody(row)
        env.alarm = {
          alarmId: String(a.alarmId), ruleId: String(a.ruleId), state: String(a.state), priority: String(a.priority), category: String(a.category),
          code: typeof a.code === 'string' ? a.code : '', value: typeof a.value === 'number' ? a.value : Number.NaN, message: String(a.message ?? ''),
          conditionSinceMs: Number(a.conditionSinceMs ?? 0), atMs: Number(a.atMs ?? 0), latching: a.latching === true, ackBy: typeof a.ackBy === 'string' ? a.ackBy : '',
        }
        break
      }
      case RecordKind.AUDIT: {
        const a = jsonBody(row)
        env.audit = { action: String(a.action ?? ''), actor: String(a.actor ?? ''), atMs: hubTimeMs, detail: String(a.detail ?? '') }
        break
      }
      default:
        throw new SyncRejectError('unknown-kind', row[Col.HUB_SEQ], `unknown kind ${row[Col.KIND]}`)
    }
    let value: Uint8Array
    try {
      value = encodeEnvelope(env)
    } catch (err) {
      throw new SyncRejectError('encode-failed', row[Col.HUB_SEQ], `protobuf encoding failed (${(err as Error).message})`, { cause: err })
    }
    return { topic: TOPIC_OF_KIND[row[Col.KIND]]!, key: subject, value }
  }

  /**
   * The notice for `dead-letter` of a record set aside on the gateway: an Envelope with its hub_id,
   * hub_seq, bed and times but no body (the body is what could not be encoded), so the cloud knows
   * this hub_seq will never arrive and why (docs/analytics.md, dead-letter).
   */
  rejectedNotice(row: OutboxRow): Uint8Array {
    return encodeEnvelope({ schemaVersion: SCHEMA_VERSION, hubId: this.hubId, hubSeq: row[Col.HUB_SEQ], subject: '', subjectKind: SubjectKind.UNSPECIFIED, keyEpoch: '', bedId: row[Col.BED_ID] ?? '', hubTimeMs: row[Col.HUB_TIME_MS] })
  }

  private subjectOf(row: OutboxRow, epoch: EpochKey): { subject: string; kind: number } {
    const admissionId = row[Col.ADMISSION_ID]
    if (admissionId !== null) {
      const a = this.admissions.get(admissionId)
      if (a) return { subject: this.pseudonyms.pseudonymIn(epoch, 'patient', a.mrn), kind: SubjectKind.PATIENT }
    }
    const deviceId = row[Col.DEVICE_ID]
    if (deviceId !== null) {
      const identity = this.deviceIdentity(deviceId, row[Col.HUB_SEQ])
      return { subject: this.pseudonyms.pseudonymIn(epoch, 'device', identity), kind: SubjectKind.DEVICE }
    }
    // Bed- or hub-level events with nobody admitted: keyed by the bed label (not an identifier of a person).
    return { subject: `bed/${row[Col.BED_ID] ?? ''}`, kind: SubjectKind.UNSPECIFIED }
  }
}
