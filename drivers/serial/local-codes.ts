/**
 * MDC terms the serial drivers need that drivers/codes.ts does not (yet) carry. Kept local on
 * purpose (issue 4: add nothing to codes.ts; the lead may fold these in).
 *
 * - MDC_TEMP 150344: generic temperature, site unspecified. Seen as `150344^MDC_TEMP^MDC` in
 *   several public GE/Philips PCD-01 gateway tables (code index); not in protocols.md §8.
 * - MDC_PRESS_BLD_VEN_CENT_MEAN 150087: central venous pressure, mean. Same sources, plus FHIR
 *   device-observation examples (`150087` / `MDC_PRESS_BLD_VEN_CENT_MEAN`); not in §8.
 */
import { refOf, termByCode } from '../codes.js'

export const LOCAL_TERMS = {
  MDC_TEMP: { code: 150344, unit: 'Cel' },
  MDC_PRESS_BLD_VEN_CENT_MEAN: { code: 150087, unit: 'mm[Hg]' },
} as const

const localRefs = new Map<number, string>(Object.entries(LOCAL_TERMS).map(([ref, t]) => [t.code, ref]))

/** Reference id for JSON output: codes.ts first, then the local table, else `MDC_<code>`. */
export function serialRefOf(code: number): string {
  return termByCode(code) ? refOf(code) : (localRefs.get(code) ?? refOf(code))
}
