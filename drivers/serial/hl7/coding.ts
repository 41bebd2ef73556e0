/**
 * OBX-3 identifiers and OBX-6 units → MDC codes and UCUM (protocols.md §7.3, §7.5, §8). Pure.
 */
import { MDC_TERMS, termByCode, termByRef } from '../../codes.js'
import { LOCAL_TERMS } from '../local-codes.js'

/** LOINC → MDC, from the §8 table (first term listing the LOINC), plus 2708-6 (arterial SpO2, §8). */
const LOINC_TO_MDC = new Map<string, number>()
for (const t of MDC_TERMS) if (t.loinc && !LOINC_TO_MDC.has(t.loinc)) LOINC_TO_MDC.set(t.loinc, t.code)
LOINC_TO_MDC.set('2708-6', MDC_TERMS.find((t) => t.ref === 'MDC_PULS_OXIM_SAT_O2')!.code)

const LOCAL_BY_REF = new Map<string, number>(Object.entries(LOCAL_TERMS).map(([ref, t]) => [ref, t.code]))

/**
 * MDC code of a CWE identifier `code^text^system[^altCode^altText^altSystem]`, or undefined
 * when neither triplet is MDC or a LOINC we map. PCD-01 uses MDC (§7.5).
 */
export function identifierToMdc(parts: readonly string[]): number | undefined {
  return tripletToMdc(parts[0] ?? '', parts[1] ?? '', parts[2] ?? '') ?? tripletToMdc(parts[3] ?? '', parts[4] ?? '', parts[5] ?? '')
}

function tripletToMdc(code: string, textRef: string, system: string): number | undefined {
  const sys = system.toUpperCase()
  if (sys === 'LN' || sys === 'LOINC') return LOINC_TO_MDC.get(code)
  if (sys !== 'MDC' && !(sys === '' && textRef.startsWith('MDC_'))) return undefined
  if (/^\d{1,9}$/.test(code)) return Number(code)
  return termByRef(textRef)?.code ?? LOCAL_BY_REF.get(textRef)
}

/** MDC dimension codes (partition 4) → UCUM (§8 "MDC units"). */
const MDC_DIM_TO_UCUM = new Map<string, string>([
  ['262688', '%'], ['MDC_DIM_PERCENT', '%'],
  ['264864', '/min'], ['MDC_DIM_BEAT_PER_MIN', '/min'],
  ['264928', '/min'], ['MDC_DIM_RESP_PER_MIN', '/min'],
  ['266016', 'mm[Hg]'], ['MDC_DIM_MMHG', 'mm[Hg]'],
  ['265987', 'kPa'], ['MDC_DIM_KILO_PASCAL', 'kPa'],
  ['268192', 'Cel'], ['MDC_DIM_DEGC', 'Cel'],
])

/** UCUM codes we accept in OBX-6 (UCUM there is UNCONFIRMED as PCD-permitted, §7.3), with common spellings. */
const UCUM_ALIASES = new Map<string, string>([
  ['%', '%'], ['/min', '/min'], ['{beats}/min', '/min'], ['{Breaths}/min', '/min'], ['{breaths}/min', '/min'],
  ['bpm', '/min'], ['mm[Hg]', 'mm[Hg]'], ['mmHg', 'mm[Hg]'], ['Cel', 'Cel'], ['degC', 'Cel'], ['kPa', 'kPa'],
])

/** UCUM unit of an OBX-6 CWE, '' when OBX-6 is empty, undefined when we do not know it. */
export function unitToUcum(parts: readonly string[]): string | undefined {
  const [code = '', text = '', system = ''] = parts
  if (code === '' && text === '') return ''
  const sys = system.toUpperCase()
  if (sys === 'MDC' || text.startsWith('MDC_DIM_')) return MDC_DIM_TO_UCUM.get(code) ?? MDC_DIM_TO_UCUM.get(text)
  return UCUM_ALIASES.get(code) ?? UCUM_ALIASES.get(text)
}

const KPA_TO_MMHG = 760 / 101.325

/**
 * The value in the term's canonical unit, or NaN when the units are incompatible.
 * Only kPa → mm[Hg] converts (etCO2 is often sent in kPa, §8); anything else must already match.
 */
export function toCanonical(code: number, value: number, unit: string): { value: number; unit: string } | undefined {
  const canonical = termByCode(code)?.unit ?? localUnit(code)
  if (canonical === undefined || canonical === unit) return { value, unit }
  if (canonical === 'mm[Hg]' && unit === 'kPa') return { value: value * KPA_TO_MMHG, unit: canonical }
  return undefined
}

function localUnit(code: number): string | undefined {
  for (const t of Object.values(LOCAL_TERMS)) if (t.code === code) return t.unit
  return undefined
}

/** Canonical unit of a code, for an OBX without OBX-6. */
export function canonicalUnit(code: number): string | undefined {
  return termByCode(code)?.unit ?? localUnit(code)
}
