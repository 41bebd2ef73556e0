/**
 * The NEWS2 inputs a nurse sets for a patient, which no device sends (RCP NEWS2 2017, Chart 1):
 * consciousness on the ACVPU scale, supplemental oxygen, and the SpO2 scale (scale 2 only for a
 * patient with hypercapnic respiratory failure, set by a clinician). Each value keeps the time it
 * was set; the engine ages consciousness out like any input (rules `context_max_age_s`); the SpO2
 * scale is a clinical decision and stays until changed or the patient leaves the bed.
 */
import { z } from 'zod'

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

export class BedContexts {
  private readonly byBed = new Map<string, BedContext>()

  set(bedId: string, input: BedContextInput, atMs: number, by: string): BedContext {
    const c = this.byBed.get(bedId) ?? {}
    if (input.consciousness !== undefined) c.consciousness = { value: input.consciousness, atMs, by }
    if (input.on_oxygen !== undefined) c.on_oxygen = { value: input.on_oxygen, atMs, by }
    if (input.spo2_scale !== undefined) c.spo2_scale = { value: input.spo2_scale, atMs, by }
    this.byBed.set(bedId, c)
    return c
  }

  of(bedId: string): BedContext {
    return this.byBed.get(bedId) ?? {}
  }

  /** The patient changed: the next one starts on scale 1, air, consciousness unknown. */
  clear(bedId: string): void {
    this.byBed.delete(bedId)
  }
}
