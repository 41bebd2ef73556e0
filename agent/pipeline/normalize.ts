/**
 * Normalize: every observation leaves this step in its code's canonical UCUM unit (codes.ts).
 * Conversions are exact and few; an unknown unit is a reject, never a guess.
 */
import { termByCode } from '../../drivers/codes.js'
import type { Observation } from '../../drivers/records.js'

type Convert = (v: number) => number
const conversions: Record<string, Record<string, Convert>> = {
  // canonical unit ← alternative unit
  'Cel': { '[degF]': (f) => Math.round(((f - 32) * 5) / 9 * 100) / 100, 'degC': (c) => c },
  'mm[Hg]': { 'kPa': (k) => Math.round(k * 7.50062 * 10) / 10, 'mmHg': (v) => v },
  '/min': { '{beats}/min': (v) => v, '{breaths}/min': (v) => v, '{Breaths}/min': (v) => v, 'bpm': (v) => v },
  '%': {},
  'uV': {},
  'ms': { 's': (v) => v * 1000 },
}

export type NormalizeResult = Observation | { readonly reject: string; readonly detail: string }

/** Returns the observation itself when already canonical (the common case: no allocation). */
export function normalizeObservation(obs: Observation): NormalizeResult {
  const term = termByCode(obs.code)
  if (!term) return { reject: 'unknown-code', detail: `MDC code ${obs.code} is not known` }
  // An alarm's event code (NEWS2, rhythm, technical: drivers/codes.ts) is no reading a device sends.
  if (term.kind === 'event') return { reject: 'unknown-code', detail: `code ${obs.code} (${term.ref}) names an alarm condition, not a measurement` }
  if (obs.unit === term.unit) return obs
  const convert = conversions[term.unit]?.[obs.unit]
  if (!convert) return { reject: 'unit-mismatch', detail: `${term.ref} in "${obs.unit}", expected "${term.unit}"` }
  return { ...obs, unit: term.unit, value: Number.isNaN(obs.value) ? obs.value : convert(obs.value) }
}
