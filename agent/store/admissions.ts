/**
 * Admissions: which patient lies in which bed. Patient identity (MRN, name, birth date) lives only
 * here, in the gateway's local store, sealed at rest (store/crypto.ts, issue 18): the columns hold
 * AES-256-GCM ciphertexts bound to their row, and only this class (and `relink`) opens them.
 * Everything that leaves carries a pseudonym instead.
 *
 * Cost (issue 18): three seals per admission and three opens per admission read from the store;
 * the current admissions are opened once at start and kept in memory, so the ingest path
 * (`current(bedId)`) never decrypts. Past admissions read back (the sync path, draining the
 * backlog of a discharged patient: one lookup per record) are kept in a small bounded map, so a
 * backlog costs one open per admission, not per record (`npm run bench -- admissions`).
 */
import type { FieldCipher } from './crypto.js'
import { fieldPurpose } from './crypto.js'
import { storeCipher, type Db } from './db.js'

/** Who put the patient in the bed (issue 21): the hospital's ADT feed, or a person through the API. */
export type AdmissionSource = 'adt' | 'manual'

/** Where an admission came from, and for ADT the identifiers the interface engine uses. */
export interface AdmissionOrigin {
  readonly source: AdmissionSource
  /** PID-3 CX-4 of the MRN (ADT); null for manual admissions. */
  readonly authority: string | null
  /** PV1-19 visit number (ADT); null when none. */
  readonly visit: string | null
  /** When the newest ADT event applied to the admission happened (EVN-6, else EVN-2, else MSH-7; ms); null when unknown or manual. */
  readonly eventMs: number | null
  /**
   * Issue 24, the stay this admission continues (a transfer: the admission it came from's stay);
   * absent: a new stay opened by this admission.
   */
  readonly stayOf?: number | undefined
  /** When the stay began: PV1-44 (admit date/time) when ADT sends it; absent: the admission time. */
  readonly stayStartMs?: number | undefined
}

export const MANUAL: AdmissionOrigin = Object.freeze({ source: 'manual', authority: null, visit: null, eventMs: null })

export interface Admission extends AdmissionOrigin {
  readonly id: number
  /** The admission that opened this stay (itself for a new stay): what the encounter is minted from without PV1-19. */
  readonly stayOf: number
  readonly stayStartMs: number
  readonly bedId: string
  readonly mrn: string
  readonly name: string | null
  readonly birthDate: string | null
  readonly admittedMs: number
}

/** A row as stored: identifying columns sealed. */
export interface SealedAdmissionRow {
  id: number; bed_id: string; mrn: Uint8Array; name: Uint8Array | null; birth_date: Uint8Array | null; admitted_ms: number; discharged_ms: number | null
  /** Issue 21 (schema v6). */
  source: string; mrn_authority: string | null; visit: Uint8Array | null; adt_event_ms: number | null
  /** Issue 24 (schema v8); NULL: this admission opened its stay, at admitted_ms. */
  stay_of: number | null; stay_start_ms: number | null
}

/** The identifying columns of `admissions`, each sealed under `fieldPurpose(column, id)`. */
export const SEALED_COLUMNS = ['mrn', 'name', 'birth_date', 'visit'] as const

/** Opens a stored row; throws FieldCipherError (never returns garbage) when a field was altered. */
export function openAdmissionRow(cipher: FieldCipher, r: SealedAdmissionRow): { mrn: string; name: string | null; birthDate: string | null } {
  return {
    mrn: cipher.open(r.mrn, fieldPurpose('admissions.mrn', r.id)),
    name: cipher.openNullable(r.name, fieldPurpose('admissions.name', r.id)),
    birthDate: cipher.openNullable(r.birth_date, fieldPurpose('admissions.birth_date', r.id)),
  }
}

const PAST_CACHE = 1024

export class Admissions {
  private readonly byBed = new Map<string, Admission>()
  private readonly byId = new Map<number, Admission>()
  /** Discharged admissions read back from the store; cleared when full (re-opening is cheap, ~30 µs). */
  private readonly past = new Map<number, Admission>()
  private readonly cipher: FieldCipher

  constructor(private readonly db: Db) {
    this.cipher = storeCipher(db) // loads the data keys now: a missing credential fails at start, not at the first admission
    const rows = db.prepare('SELECT * FROM admissions WHERE discharged_ms IS NULL').all() as SealedAdmissionRow[]
    for (const r of rows) this.remember(this.fromRow(r))
  }

  private fromRow(r: SealedAdmissionRow): Admission {
    return {
      id: r.id, bedId: r.bed_id, ...openAdmissionRow(this.cipher, r), admittedMs: r.admitted_ms,
      source: r.source === 'adt' ? 'adt' : 'manual', authority: r.mrn_authority, visit: this.cipher.openNullable(r.visit, fieldPurpose('admissions.visit', r.id)), eventMs: r.adt_event_ms,
      stayOf: r.stay_of ?? r.id, stayStartMs: r.stay_start_ms ?? r.admitted_ms,
    }
  }

  private remember(a: Admission): void {
    this.byBed.set(a.bedId, a)
    this.byId.set(a.id, a)
  }

  /** The patient currently in `bedId`, if any. O(1), used on the hot path. */
  current(bedId: string): Admission | undefined {
    return this.byBed.get(bedId)
  }

  /** Any admission by id (current or, from the store, past). */
  get(id: number): Admission | undefined {
    const hit = this.byId.get(id) ?? this.past.get(id)
    if (hit) return hit
    const r = this.db.prepare('SELECT * FROM admissions WHERE id = ?').get(id) as SealedAdmissionRow | undefined
    if (!r) return undefined
    const a = this.fromRow(r)
    if (this.past.size >= PAST_CACHE) this.past.clear()
    this.past.set(id, a)
    return a
  }

  /**
   * Admits a patient, discharging whoever was in the bed. Durable at return. The row id is chosen
   * before the insert (inside the transaction) because the sealed fields are bound to it.
   */
  admit(bedId: string, mrn: string, name: string | null, birthDate: string | null, atMs: number, origin: AdmissionOrigin = MANUAL): Admission {
    const c = this.cipher
    const run = this.db.transaction(() => {
      this.db.prepare('UPDATE admissions SET discharged_ms = ? WHERE bed_id = ? AND discharged_ms IS NULL').run(atMs, bedId)
      const id = (this.db.prepare('SELECT COALESCE(MAX(id), 0) + 1 AS id FROM admissions').get() as { id: number }).id
      this.db.prepare('INSERT INTO admissions (id, bed_id, mrn, name, birth_date, admitted_ms, source, mrn_authority, visit, adt_event_ms, stay_of, stay_start_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)')
        .run(id, bedId, c.seal(mrn, fieldPurpose('admissions.mrn', id)), c.sealNullable(name, fieldPurpose('admissions.name', id)), c.sealNullable(birthDate, fieldPurpose('admissions.birth_date', id)), atMs,
          origin.source, origin.authority, c.sealNullable(origin.visit, fieldPurpose('admissions.visit', id)), origin.eventMs, origin.stayOf ?? null, origin.stayStartMs ?? null)
      return id
    })
    const previous = this.byBed.get(bedId)
    if (previous) this.byId.delete(previous.id)
    const id = run()
    const a: Admission = {
      id, bedId, mrn, name, birthDate, admittedMs: atMs, source: origin.source, authority: origin.authority, visit: origin.visit, eventMs: origin.eventMs,
      stayOf: origin.stayOf ?? id, stayStartMs: origin.stayStartMs ?? atMs,
    }
    this.remember(a)
    return a
  }

  /** The current admission of the patient with this MRN, if they lie in a bed of this ward (O(beds)). */
  currentByMrn(mrn: string): Admission | undefined {
    for (const a of this.byBed.values()) if (a.mrn === mrn) return a
    return undefined
  }

  /**
   * Corrects a current admission in place (ADT A08, or an ADT admit for a patient admitted by hand
   * who is already in the bed: it then follows the feed): name, birth date and origin. Same id, same
   * MRN, so the same pseudonym. Durable at return.
   */
  update(bedId: string, name: string | null, birthDate: string | null, origin: AdmissionOrigin): Admission | undefined {
    const a = this.byBed.get(bedId)
    if (!a) return undefined
    const c = this.cipher
    this.db.prepare('UPDATE admissions SET name = ?, birth_date = ?, source = ?, mrn_authority = ?, visit = ?, adt_event_ms = ? WHERE id = ?')
      .run(c.sealNullable(name, fieldPurpose('admissions.name', a.id)), c.sealNullable(birthDate, fieldPurpose('admissions.birth_date', a.id)),
        origin.source, origin.authority, c.sealNullable(origin.visit, fieldPurpose('admissions.visit', a.id)), origin.eventMs, a.id)
    const updated: Admission = { ...a, name, birthDate, source: origin.source, authority: origin.authority, visit: origin.visit, eventMs: origin.eventMs }
    this.remember(updated)
    return updated
  }

  /** Discharges the patient of `bedId`; returns the admission that ended, if any. */
  discharge(bedId: string, atMs: number): Admission | undefined {
    const a = this.byBed.get(bedId)
    if (!a) return undefined
    this.db.prepare('UPDATE admissions SET discharged_ms = ? WHERE id = ?').run(atMs, a.id)
    this.byBed.delete(bedId)
    this.byId.delete(a.id)
    return a
  }
}
