/**
 * Outbox row → wire Envelope, pseudonymizing on the way out: the patient by MRN, the device by its
 * serial (or configured id), never either in clear. Runs on the sync path, off the ingest path.
 */
import { SCHEMA_VERSION, SCHEMA_VERSION_RUN, SubjectKind, encodeEnvelope, encodeEnvelopeWithBody, envelopeAroundRun, type AlarmMsg, type AuditMsg, type EnvelopeMsg, type ObservationMsg } from '../../proto/codec.js'
import { isTypedBody, readAlarmBody, readAuditBody } from '../store/bodies.js'
import { RecordKind } from '../store/commit.js'
import { Col, recordsOf, type OutboxRow } from '../store/outbox.js'
import { countRunItems, forEachRunItemFrom, RunItemLayout, RunItemPresent, RunItemsError } from '../store/run-items.js'
import type { Admission, Admissions } from '../store/admissions.js'
import { Quality } from '../../drivers/records.js'
import { encounterIdentifier } from './encounter.js'
import type { DeviceRegistry } from '../pipeline/devices.js'
import type { DeviceIdentities } from '../store/device-identities.js'
import type { EpochKey, Pseudonymizer } from './pseudonym.js'
import { subjectTimeMs } from './subject-time.js'
import { encodeRunEntries, entryCount, isPacked } from './run-field.js'

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

/**
 * What the Envelope says about where an event comes from (issue 24), from the config: the site,
 * whether the hub runs the demo ward, human-readable labels. Absent (tests, benches): site and
 * labels empty, demo only where a reading's own quality says so.
 */
export interface EnvelopeContext {
  readonly site: string
  /** The hub runs the demo ward (`demo: true`, or `bedside-hub run` without a config): every event is demo data. */
  readonly demo: boolean
  readonly wardLabel: string
  /** A bed's label (beds[].label, default its id). */
  readonly bedLabel: (bedId: string) => string
}

const NO_CONTEXT: EnvelopeContext = { site: '', demo: false, wardLabel: '', bedLabel: () => '' }

/** The Envelope fields of issue 24 that one record shares with its run. */
export interface Provenance {
  readonly encounter: string
  readonly encounterKeyEpoch: string
  readonly demo: boolean
  readonly deviceType: string
}

export interface EncodedRecord {
  readonly topic: TopicName
  /** Kafka key: the subject pseudonym, so one patient's events stay ordered in one partition. */
  readonly key: string
  readonly value: Uint8Array
}

/** What every observation of a run shares with the run's other entries: its Envelope head. */
export interface RunHead {
  /** The (first) observation's hub_seq. */
  readonly hubSeq: number
  /** Kafka key and Envelope.subject. */
  readonly subject: string
  readonly subjectKind: number
  readonly keyEpoch: string
  readonly bedId: string
  readonly hubTimeMs: number
  /** Issue 24: the stay, demo flag and device type (run heads differ when these do). */
  readonly provenance?: Provenance
}

/** One observation of a single row. */
export interface ObservationItem extends RunHead {
  readonly observation: ObservationMsg
}

/**
 * Consecutive observations of one run row that share every Envelope field but their own: `count`
 * packed items from byte `at` of the row's `blob` (store/run-items.ts), hub_seqs `hubSeq` ..
 * `hubSeq + count - 1`. The head is worked out once for them and the items are written into the
 * run straight from the blob (run-field.ts): no object per observation.
 */
export interface PackedObservations extends RunHead {
  /** Every item's device pseudonym. */
  readonly device: string
  readonly blob: Buffer
  readonly at: number
  readonly count: number
}

/** What a run holds: observations of single rows, and stretches of run rows. */
export type RunEntry = ObservationItem | PackedObservations

/** Where `observationSpans` hands its stretches (ObservationRuns). */
export interface RunSink {
  add(entry: RunEntry): void
}

/**
 * A stay's encounter (or none), with the Provenance objects of its records made once per device
 * and demo flag: the sync path takes one from a map per record instead of building one.
 */
interface EncounterRef {
  readonly encounter: string
  readonly encounterKeyEpoch: string
  /** [not demo, demo]: device id ('' for none) → Provenance. */
  readonly provenances: readonly [Map<string, Provenance>, Map<string, Provenance>]
}

const encounterRef = (encounter: string, encounterKeyEpoch: string): EncounterRef => ({ encounter, encounterKeyEpoch, provenances: [new Map(), new Map()] })

export class EnvelopeEncoder {
  constructor(
    readonly hubId: string,
    private readonly admissions: Admissions,
    private readonly devices: DeviceRegistry,
    private readonly pseudonyms: Pseudonymizer,
    /** The identity each device had when a record was accepted (without it: the registry's current one). */
    private readonly identities?: DeviceIdentities,
    private readonly context: EnvelopeContext = NO_CONTEXT,
  ) {}

  /** The Envelope fields of issue 24 that do not vary per record of a run (site, labels). */
  private where(bedId: string): Pick<EnvelopeMsg, 'site' | 'wardLabel' | 'bedLabel' | 'deviceModel'> {
    return { site: this.context.site, wardLabel: this.context.wardLabel, bedLabel: bedId ? this.context.bedLabel(bedId) : '', deviceModel: '' }
  }

  /** The stay, demo flag and device type of a record: demo when the hub runs the demo ward or the reading says so (quality bit 128). */
  private provenance(row: OutboxRow, ref: EncounterRef): Provenance {
    return this.provenanceOf(row[Col.DEVICE_ID] ?? '', this.context.demo || ((row[Col.QUALITY] ?? 0) & Quality.DEMO) !== 0, ref)
  }

  private provenanceOf(deviceId: string, demo: boolean, ref: EncounterRef): Provenance {
    const byDevice = ref.provenances[demo ? 1 : 0]
    let p = byDevice.get(deviceId)
    if (p === undefined) {
      p = { encounter: ref.encounter, encounterKeyEpoch: ref.encounterKeyEpoch, demo, deviceType: deviceId ? (this.devices.get(deviceId)?.config.type ?? '') : '' }
      byDevice.set(deviceId, p)
    }
    return p
  }

  /** The identity a device had when record `hubSeq` was accepted, however it changed since (or was unpaired). */
  private deviceIdentity(deviceId: string, hubSeq: number): string {
    return this.identities?.at(deviceId, hubSeq) ?? this.devices.get(deviceId)?.identity ?? deviceId
  }

  /** An observation row's Envelope fields and body, pseudonymized, not yet encoded (for a run). */
  observationItem(row: OutboxRow): ObservationItem {
    const hubTimeMs = row[Col.HUB_TIME_MS]
    const deviceId = row[Col.DEVICE_ID]
    // The epoch in force when the record was accepted (subject-time.ts), or when the patient's stay began.
    const { subject, kind, encounter, epoch } = this.subjectOf(row, hubTimeMs)
    const device = deviceId ? this.pseudonyms.pseudonymIn(epoch, 'device', this.deviceIdentity(deviceId, row[Col.HUB_SEQ])) : ''
    return {
      hubSeq: row[Col.HUB_SEQ], subject, subjectKind: kind, keyEpoch: epoch.id, bedId: row[Col.BED_ID] ?? '', hubTimeMs, provenance: this.provenance(row, encounter),
      observation: { code: row[Col.CODE] ?? 0, value: row[Col.VALUE] ?? Number.NaN, unit: row[Col.UNIT] ?? '', deviceTimeMs: row[Col.DEVICE_TIME_MS] ?? 0, hubTimeMs, deviceSeq: row[Col.DEVICE_SEQ] ?? 0, quality: row[Col.QUALITY] ?? 0, device },
    }
  }

  /**
   * A run row's observations (kind observation, `items` set) handed to `sink` in hub_seq order as
   * PackedObservations: the whole row as one, unless what the head holds changes within it, which
   * the expanded rows would have shown per record: the demo flag (quality bit 128 of an item) or
   * the device's identity (a re-pairing recorded inside the row's hub_seqs: deviceIdentity is per
   * hub_seq). Each stretch gets its head as `observationItem` would give its first record; the
   * Envelopes per hub_seq are the expanded path's. Throws RunItemsError, having handed on nothing,
   * for packed items this agent cannot read.
   */
  observationSpans(row: OutboxRow, sink: RunSink): void {
    const blob = row[Col.ITEMS]!
    const first = row[Col.HUB_SEQ]
    const n = recordsOf(row)
    const count = countRunItems(blob)
    if (count !== n) throw new RunItemsError(`run row ${first} says ${n} observations but packs ${count}`)
    const deviceId = row[Col.DEVICE_ID]
    let start = 0
    let startAt = 1
    let demo = false
    let identity: string | null = null
    let at = 1
    for (let i = 0; i < n; i++) {
      const d = this.context.demo || ((blob[at + RunItemLayout.PRESENT]! & RunItemPresent.QUALITY) !== 0 && (blob.readUInt32LE(at + RunItemLayout.QUALITY) & Quality.DEMO) !== 0)
      const id = deviceId === null ? null : this.deviceIdentity(deviceId, first + i)
      if (i === 0) {
        demo = d
        identity = id
      } else if (d !== demo || id !== identity) {
        sink.add(this.span(row, first + start, startAt, i - start, demo, identity))
        start = i
        startAt = at
        demo = d
        identity = id
      }
      at += RunItemLayout.FIXED + blob[at + RunItemLayout.UNIT_LENGTH]!
    }
    sink.add(this.span(row, first + start, startAt, n - start, demo, identity))
  }

  /** The head of a run row's items from `hubSeq` on, sharing one demo flag and device identity. */
  private span(row: OutboxRow, hubSeq: number, at: number, count: number, demo: boolean, identity: string | null): PackedObservations {
    const hubTimeMs = row[Col.HUB_TIME_MS]
    const deviceId = row[Col.DEVICE_ID]
    const { subject, kind, encounter, epoch } = this.subjectOf(row, hubTimeMs, hubSeq)
    return {
      hubSeq, subject, subjectKind: kind, keyEpoch: epoch.id, bedId: row[Col.BED_ID] ?? '', hubTimeMs,
      provenance: this.provenanceOf(deviceId ?? '', demo, encounter),
      device: deviceId && identity !== null ? this.pseudonyms.pseudonymIn(epoch, 'device', identity) : '',
      blob: row[Col.ITEMS]!, at, count,
    }
  }

  /** A run entry as the observation items `observationItem` gives for its expanded rows (the fallbacks). */
  itemsOf(e: RunEntry): ObservationItem[] {
    if (!isPacked(e)) return [e]
    const out: ObservationItem[] = []
    forEachRunItemFrom(e.blob, e.at, e.count, (it, i) => out.push({
      hubSeq: e.hubSeq + i, subject: e.subject, subjectKind: e.subjectKind, keyEpoch: e.keyEpoch, bedId: e.bedId, hubTimeMs: e.hubTimeMs, provenance: e.provenance,
      observation: { code: it.code, value: it.value ?? Number.NaN, unit: it.unit ?? '', deviceTimeMs: it.deviceTimeMs ?? 0, hubTimeMs: e.hubTimeMs, deviceSeq: it.deviceSeq ?? 0, quality: it.quality ?? 0, device: e.device },
    }))
    return out
  }

  /**
   * One schema_version 2 Envelope for a run of one subject (same subject, subject_kind, key_epoch
   * and bed_id; hub_seq increasing): the head is the first entry's. Run rows' stretches are
   * written from their packed items (run-field.ts), or, with a value outside that one-pass path,
   * expanded and encoded as the observations of rows would be: the same bytes either way.
   * Throws a SyncRejectError('encode-failed') naming the first item when protobuf refuses it.
   */
  encodeRun(entries: readonly RunEntry[]): Uint8Array {
    const first = entries[0]!
    const env: EnvelopeMsg = {
      schemaVersion: SCHEMA_VERSION_RUN, hubId: this.hubId, hubSeq: first.hubSeq, subject: first.subject, subjectKind: first.subjectKind,
      keyEpoch: first.keyEpoch, bedId: first.bedId, hubTimeMs: first.hubTimeMs,
      ...this.where(first.bedId), ...first.provenance,
      // One device type for the run, or '' when its items come from devices of several types.
      deviceType: entries.every((i) => i.provenance?.deviceType === first.provenance?.deviceType) ? (first.provenance?.deviceType ?? '') : '',
    }
    try {
      const { head, tail } = envelopeAroundRun(env)
      const whole = encodeRunEntries(entries, head, tail)
      if (whole !== null) return whole
      const items = entries.flatMap((e) => this.itemsOf(e))
      return encodeEnvelope({ ...env, observations: { items: items.map((i) => i.observation), hubSeq: items.map((i) => i.hubSeq) } })
    } catch (err) {
      throw new SyncRejectError('encode-failed', first.hubSeq, `protobuf encoding of a run of ${entries.reduce((n, e) => n + entryCount(e), 0)} observations failed (${(err as Error).message})`, { cause: err })
    }
  }

  /** A schema_version 1 Envelope of one observation item (what `encode` sends for an observation row). */
  encodeItem(item: ObservationItem): Uint8Array {
    const env: EnvelopeMsg = {
      schemaVersion: SCHEMA_VERSION, hubId: this.hubId, hubSeq: item.hubSeq, subject: item.subject, subjectKind: item.subjectKind, keyEpoch: item.keyEpoch, bedId: item.bedId, hubTimeMs: item.hubTimeMs, observation: item.observation,
      ...this.where(item.bedId), ...item.provenance,
    }
    try {
      return encodeEnvelope(env)
    } catch (err) {
      throw new SyncRejectError('encode-failed', item.hubSeq, `protobuf encoding failed (${(err as Error).message})`, { cause: err })
    }
  }

  encode(row: OutboxRow): EncodedRecord {
    if (row[Col.KIND] === RecordKind.OBSERVATION) {
      const item = this.observationItem(row)
      return { topic: 'raw_vitals', key: item.subject, value: this.encodeItem(item) }
    }
    const hubTimeMs = row[Col.HUB_TIME_MS]
    const deviceId = row[Col.DEVICE_ID]
    // The key of the epoch in force when the record was accepted, or its alarm episode started
    // (subject-time.ts), or the patient's stay began.
    const { subject, kind, encounter, epoch } = this.subjectOf(row, subjectTimeMs(row))
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
      ...this.where(row[Col.BED_ID] ?? ''), ...this.provenance(row, encounter),
    }
    let typed: { kind: 'alarm' | 'audit'; bytes: Uint8Array } | null = null
    switch (row[Col.KIND]) {
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
    return this.notice(row[Col.HUB_SEQ], row[Col.BED_ID] ?? '', row[Col.HUB_TIME_MS])
  }

  /** The same notice for an observation item of a run that could not be encoded. */
  rejectedItemNotice(item: ObservationItem): Uint8Array {
    return this.notice(item.hubSeq, item.bedId, item.hubTimeMs)
  }

  private notice(hubSeq: number, bedId: string, hubTimeMs: number): Uint8Array {
    return encodeEnvelope({ schemaVersion: SCHEMA_VERSION, hubId: this.hubId, hubSeq, subject: '', subjectKind: SubjectKind.UNSPECIFIED, keyEpoch: '', bedId, hubTimeMs })
  }

  /**
   * Who a record is about (docs/analytics.md, "Subjects"), and the key epoch that names it: the
   * admitted patient, with the stay's encounter; else the bed, `{hub_id}/{bed_id}` in clear (a bed
   * is no person; one subject for its readings and alarms alike, stable across key epochs); else the
   * device of no bed; else the hub.
   *
   * A patient's records take the epoch in force when the STAY began, like its encounter: a rotation
   * during the stay (a week-long stay crossed every weekly boundary) does not give the patient a
   * second pseudonym mid-stay, and an alarm episode within the stay cannot be split. This links
   * nothing the encounter does not already link; the next stay is named under the key then in
   * force. Any other record: the epoch at `atMs` (its hub time, or an alarm episode's start:
   * subject-time.ts).
   */
  private subjectOf(row: OutboxRow, atMs: number, hubSeq = row[Col.HUB_SEQ]): { subject: string; kind: number; encounter: EncounterRef; epoch: EpochKey } {
    const admissionId = row[Col.ADMISSION_ID]
    const a = admissionId === null ? undefined : this.admissions.get(admissionId)
    if (a) {
      const epoch = this.pseudonyms.epochAt(Math.min(a.stayStartMs, atMs))
      return { subject: this.pseudonyms.pseudonymIn(epoch, 'patient', a.mrn), kind: SubjectKind.PATIENT, encounter: this.encounterOf(a), epoch }
    }
    const epoch = this.pseudonyms.epochAt(atMs)
    const bedId = row[Col.BED_ID]
    if (bedId) {
      let subject = this.bedSubjects.get(bedId)
      if (subject === undefined) this.bedSubjects.set(bedId, (subject = `${this.hubId}/${bedId}`))
      return { subject, kind: SubjectKind.BED, encounter: this.noEncounter, epoch }
    }
    const deviceId = row[Col.DEVICE_ID]
    if (deviceId !== null) {
      const identity = this.deviceIdentity(deviceId, hubSeq)
      return { subject: this.pseudonyms.pseudonymIn(epoch, 'device', identity), kind: SubjectKind.DEVICE, encounter: this.noEncounter, epoch }
    }
    return { subject: this.hubId, kind: SubjectKind.HUB, encounter: this.noEncounter, epoch }
  }

  /**
   * The stay's encounter pseudonym (encounter.ts): under the key of the epoch in force when the stay
   * began, so a rotation during the stay does not change it. Cached: one HMAC per admission.
   */
  private encounterOf(a: Admission): EncounterRef {
    let e = this.encounters.get(a)
    if (e === undefined) {
      const epoch = this.pseudonyms.epochAt(a.stayStartMs)
      e = encounterRef(this.pseudonyms.pseudonymIn(epoch, 'encounter', encounterIdentifier(this.hubId, a)), epoch.id)
      this.encounters.set(a, e)
    }
    return e
  }

  /**
   * Per Admission object: Admissions hands out one object per admission until it changes (an ADT
   * update of the visit number makes a new one), so a changed visit is never served from here.
   */
  private readonly encounters = new WeakMap<Admission, EncounterRef>()
  private readonly noEncounter = encounterRef('', '')
  private readonly bedSubjects = new Map<string, string>()
}
