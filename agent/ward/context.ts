/**
 * The NEWS2 inputs a nurse sets for a patient, which no device sends (RCP NEWS2 2017, Chart 1):
 * consciousness on the ACVPU scale, supplemental oxygen, and the SpO2 scale (scale 2 only for a
 * patient with hypercapnic respiratory failure, set by a clinician). Each value keeps the time it
 * was set; consciousness and oxygen count until changed, and past the rule's `context_max_age_s`
 * they are marked for a nurse to confirm; the SpO2 scale is a clinical decision and stays until
 * changed or the patient leaves the bed.
 */
import { z } from 'zod'
import type { Db } from '../store/db.js'

export const bedContextSchema = z.object({
  consciousness: z.enum(['A', 'C', 'V', 'P', 'U']).optional(),
  on_oxygen: z.boolean().optional(),
  spo2_scale: z.union([z.literal(1), z.literal(2)]).optional(),
}).strict().refine((c) => c.consciousness !== undefined || c.on_oxygen !== undefined || c.spo2_scale !== undefined, 'give at least one of consciousness, on_oxygen, spo2_scale')

export type BedContextInput = z.output<typeof bedContextSchema>

interface Timed<T> { readonly value: T; readonly atMs: number; readonly by: string }

/** What a bed's tile shows: each value set, with when and by whom. */
export interface BedContext {
  consciousness?: Timed<'A' | 'C' | 'V' | 'P' | 'U'>
  on_oxygen?: Timed<boolean>
  spo2_scale?: Timed<1 | 2>
}

type Row = [bedId: string, admissionId: number | null, c: string | null, cMs: number | null, cBy: string | null, o: number | null, oMs: number | null, oBy: string | null, s: number | null, sMs: number | null, sBy: string | null]

/** The contexts of the ward's beds, in memory and in the store (`bed_context`), per admission. */
export class BedContexts {
  private readonly byBed = new Map<string, BedContext>()
  private readonly save
  private readonly remove

  /** Loads the contexts of the beds whose patient is still the one they were set for (`admissionOf`). */
  constructor(db: Db, admissionOf: (bedId: string) => number | null) {
    this.save = db.prepare(`INSERT INTO bed_context VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (bed_id) DO UPDATE SET admission_id = excluded.admission_id,
      consciousness = excluded.consciousness, consciousness_ms = excluded.consciousness_ms, consciousness_by = excluded.consciousness_by,
      on_oxygen = excluded.on_oxygen, on_oxygen_ms = excluded.on_oxygen_ms, on_oxygen_by = excluded.on_oxygen_by,
      spo2_scale = excluded.spo2_scale, spo2_scale_ms = excluded.spo2_scale_ms, spo2_scale_by = excluded.spo2_scale_by`)
    this.remove = db.prepare('DELETE FROM bed_context WHERE bed_id = ?')
    for (const r of db.prepare('SELECT * FROM bed_context').raw().all() as Row[]) {
      if (r[1] !== admissionOf(r[0])) continue // another patient since: not theirs
      const c: BedContext = {}
      if (r[2] !== null) c.consciousness = { value: r[2] as 'A', atMs: r[3]!, by: r[4]! }
      if (r[5] !== null) c.on_oxygen = { value: r[5] === 1, atMs: r[6]!, by: r[7]! }
      if (r[8] !== null) c.spo2_scale = { value: r[8] as 1 | 2, atMs: r[9]!, by: r[10]! }
      this.byBed.set(r[0], c)
    }
  }

  /** Every bed's context as loaded, for the engine at start. */
  all(): ReadonlyMap<string, BedContext> {
    return this.byBed
  }

  set(bedId: string, admissionId: number | null, input: BedContextInput, atMs: number, by: string): BedContext {
    const c = this.byBed.get(bedId) ?? {}
    if (input.consciousness !== undefined) c.consciousness = { value: input.consciousness, atMs, by }
    if (input.on_oxygen !== undefined) c.on_oxygen = { value: input.on_oxygen, atMs, by }
    if (input.spo2_scale !== undefined) c.spo2_scale = { value: input.spo2_scale, atMs, by }
    return this.put(bedId, admissionId, c)
  }

  /** A whole context (the patient's, carried to their new bed on a transfer), with its times and authors. */
  put(bedId: string, admissionId: number | null, c: BedContext): BedContext {
    this.byBed.set(bedId, c)
    this.save.run(bedId, admissionId, c.consciousness?.value ?? null, c.consciousness?.atMs ?? null, c.consciousness?.by ?? null,
      c.on_oxygen === undefined ? null : c.on_oxygen.value ? 1 : 0, c.on_oxygen?.atMs ?? null, c.on_oxygen?.by ?? null,
      c.spo2_scale?.value ?? null, c.spo2_scale?.atMs ?? null, c.spo2_scale?.by ?? null)
    return c
  }

  of(bedId: string): BedContext {
    return this.byBed.get(bedId) ?? {}
  }

  /** The patient changed: the next one starts on scale 1, oxygen and consciousness unknown. */
  clear(bedId: string): void {
    this.byBed.delete(bedId)
    this.remove.run(bedId)
  }
}
