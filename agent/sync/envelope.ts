/**
 * Outbox row → wire Envelope, pseudonymizing on the way out: the patient by MRN, the device by its
 * serial (or configured id), never either in clear. Runs on the sync path, off the ingest path.
 */
import { SCHEMA_VERSION, SubjectKind, encodeEnvelope, encodeEnvelopeWithBody, type AlarmMsg, type AuditMsg, type EnvelopeMsg } from '../../proto/codec.js'
import { isTypedBody, readAlarmBody, readAuditBody } from '../store/bodies.js'
import { RecordKind } from '../store/commit.js'
import { Col, type OutboxRow } from '../store/outbox.js'
import type { Admissions } from '../store/admissions.js'
import type { DeviceRegistry } from '../pipeline/devices.js'
import type { DeviceIdentities } from '../store/device-identities.js'
import type { EpochKey, Pseudonymizer } from './pseudonym.js'
import { subjectTimeMs } from './subject-time.js'

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

/** An alarm or audit row's body, checked to be what its kind says (store/bodies.ts), or a reject naming the row. */
function checkedBody(row: OutboxRow, kind: 'alarm' | 'audit'): { bytes: Uint8Array; msg: AlarmMsg | AuditMsg } {
  const bytes = row[Col.BODY]
  if (!bytes || bytes.length === 0) throw new SyncRejectError('bad-body', row[Col.HUB_SEQ], `${kind} record without a body`)
  try {
    return { bytes, msg: kind === 'alarm' ? readAlarmBody(bytes) : readAuditBody(bytes, row[Col.HUB_TIME_MS]) }
  } catch (err) {
    throw new SyncRejectError('bad-body', row[Col.HUB_SEQ], `${kind} body is neither a ${kind === 'alarm' ? 'bedside.v1.Alarm' : 'bedside.v1.AuditEvent'} nor legacy JSON (${(err as Error).message})`, { cause: err })
  }
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
    // The key of the epoch in force when the record was accepted, or its alarm episode started (subject-time.ts).
    const epoch = this.pseudonyms.epochAt(subjectTimeMs(row))
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
    let typed: { kind: 'alarm' | 'audit'; bytes: Uint8Array } | null = null
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
      case RecordKind.ALARM:
      case RecordKind.AUDIT: {
        const kind = row[Col.KIND] === RecordKind.ALARM ? 'alarm' : 'audit'
        const body = checkedBody(row, kind)
        // A typed body goes into the Envelope as stored; a legacy JSON one (pre-v3 rows) as its message.
        if (isTypedBody(body.bytes)) typed = { kind, bytes: body.bytes }
        else if (kind === 'alarm') env.alarm = body.msg as AlarmMsg
        else env.audit = body.msg as AuditMsg
        break
      }
      default:
        throw new SyncRejectError('unknown-kind', row[Col.HUB_SEQ], `unknown kind ${row[Col.KIND]}`)
    }
    let value: Uint8Array
    try {
      value = typed ? encodeEnvelopeWithBody(env, typed.kind, typed.bytes) : encodeEnvelope(env)
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
