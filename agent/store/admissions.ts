/**
 * Admissions: which patient lies in which bed. Patient identity (MRN, name, birth date) lives only
 * here, in the gateway's local store; everything that leaves carries a pseudonym instead.
 */
import type { Db } from './db.js'

export interface Admission {
  readonly id: number
  readonly bedId: string
  readonly mrn: string
  readonly name: string | null
  readonly birthDate: string | null
  readonly admittedMs: number
}

interface Row { id: number; bed_id: string; mrn: string; name: string | null; birth_date: string | null; admitted_ms: number }
const fromRow = (r: Row): Admission => ({ id: r.id, bedId: r.bed_id, mrn: r.mrn, name: r.name, birthDate: r.birth_date, admittedMs: r.admitted_ms })

export class Admissions {
  private readonly byBed = new Map<string, Admission>()
  private readonly byId = new Map<number, Admission>()

  constructor(private readonly db: Db) {
    const rows = db.prepare('SELECT * FROM admissions WHERE discharged_ms IS NULL').all() as Row[]
    for (const r of rows) this.remember(fromRow(r))
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
    const hit = this.byId.get(id)
    if (hit) return hit
    const r = this.db.prepare('SELECT * FROM admissions WHERE id = ?').get(id) as Row | undefined
    return r ? fromRow(r) : undefined
  }

  /** Admits a patient, discharging whoever was in the bed. Durable at return. */
  admit(bedId: string, mrn: string, name: string | null, birthDate: string | null, atMs: number): Admission {
    const run = this.db.transaction(() => {
      this.db.prepare('UPDATE admissions SET discharged_ms = ? WHERE bed_id = ? AND discharged_ms IS NULL').run(atMs, bedId)
      const info = this.db.prepare('INSERT INTO admissions (bed_id, mrn, name, birth_date, admitted_ms) VALUES (?,?,?,?,?)').run(bedId, mrn, name, birthDate, atMs)
      return Number(info.lastInsertRowid)
    })
    const previous = this.byBed.get(bedId)
    if (previous) this.byId.delete(previous.id)
    const a: Admission = { id: run(), bedId, mrn, name, birthDate, admittedMs: atMs }
    this.remember(a)
    return a
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
