/**
 * IEEE 11073-10101 (MDC) nomenclature used by bedside-hub, with UCUM units and LOINC.
 * Full code = partition × 65536 + term code; SCADA is partition 2 (base 131072).
 * Sources: shared/protocols.md §8 ([S-MII], [S-CSR], [S-B40], [S-FHIR-VS], [S-FHIR-UCUM]).
 */
export interface MdcTerm {
  /** Reference id as used in JSON and configs. */
  readonly ref: string
  /** Numeric MDC code as used inside the agent and on the wire. */
  readonly code: number
  /** Canonical UCUM unit. */
  readonly unit: string
  readonly loinc?: string
  readonly kind: 'numeric' | 'waveform'
}

export const MDC_TERMS: readonly MdcTerm[] = [
  { ref: 'MDC_ECG_HEART_RATE', code: 147842, unit: '/min', loinc: '8867-4', kind: 'numeric' },
  { ref: 'MDC_PULS_RATE', code: 149514, unit: '/min', loinc: '8867-4', kind: 'numeric' },
  { ref: 'MDC_PULS_OXIM_PULS_RATE', code: 149530, unit: '/min', kind: 'numeric' },
  { ref: 'MDC_PULS_RATE_NON_INV', code: 149546, unit: '/min', kind: 'numeric' },
  { ref: 'MDC_BLD_PULS_RATE_INV', code: 149522, unit: '/min', kind: 'numeric' },
  { ref: 'MDC_PULS_OXIM_SAT_O2', code: 150456, unit: '%', loinc: '59408-5', kind: 'numeric' },
  { ref: 'MDC_RESP_RATE', code: 151562, unit: '/min', loinc: '9279-1', kind: 'numeric' },
  { ref: 'MDC_PRESS_BLD_NONINV_SYS', code: 150021, unit: 'mm[Hg]', loinc: '8480-6', kind: 'numeric' },
  { ref: 'MDC_PRESS_BLD_NONINV_DIA', code: 150022, unit: 'mm[Hg]', loinc: '8462-4', kind: 'numeric' },
  { ref: 'MDC_PRESS_BLD_NONINV_MEAN', code: 150023, unit: 'mm[Hg]', loinc: '8478-0', kind: 'numeric' },
  { ref: 'MDC_PRESS_BLD_SYS', code: 150017, unit: 'mm[Hg]', loinc: '8480-6', kind: 'numeric' },
  { ref: 'MDC_PRESS_BLD_DIA', code: 150018, unit: 'mm[Hg]', loinc: '8462-4', kind: 'numeric' },
  { ref: 'MDC_PRESS_BLD_MEAN', code: 150019, unit: 'mm[Hg]', loinc: '8478-0', kind: 'numeric' },
  { ref: 'MDC_PRESS_BLD_ART_SYS', code: 150033, unit: 'mm[Hg]', kind: 'numeric' },
  { ref: 'MDC_PRESS_BLD_ART_DIA', code: 150034, unit: 'mm[Hg]', kind: 'numeric' },
  { ref: 'MDC_PRESS_BLD_ART_MEAN', code: 150035, unit: 'mm[Hg]', kind: 'numeric' },
  { ref: 'MDC_TEMP_BODY', code: 150364, unit: 'Cel', loinc: '8310-5', kind: 'numeric' },
  // Name UNCONFIRMED per protocols.md §8; code 150368 "Body temperature – Core" [S-MII].
  { ref: 'MDC_TEMP_CORE', code: 150368, unit: 'Cel', loinc: '8329-5', kind: 'numeric' },
  { ref: 'MDC_AWAY_CO2_ET', code: 151708, unit: 'mm[Hg]', loinc: '19891-1', kind: 'numeric' },
  // R-R interval, global: partition 2, term 16168 (MII Kardio EKG profile, example "RR Interval":
  // code 147240 MDC_ECG_TIME_PD_RR_GL, UCUM ms; [S-MII]). Published per beat by agent/signal.
  { ref: 'MDC_ECG_TIME_PD_RR_GL', code: 147240, unit: 'ms', kind: 'numeric' },
  // ECG leads: MDC_ECG_ELEC_POTL base term 256 (lead I = 257, II = 258, V5 = 265), partition 2.
  { ref: 'MDC_ECG_ELEC_POTL_I', code: 131329, unit: 'uV', kind: 'waveform' },
  { ref: 'MDC_ECG_ELEC_POTL_II', code: 131330, unit: 'uV', kind: 'waveform' },
  { ref: 'MDC_ECG_ELEC_POTL_V5', code: 131337, unit: 'uV', kind: 'waveform' },
]

const byRef = new Map(MDC_TERMS.map((t) => [t.ref, t]))
const byCode = new Map(MDC_TERMS.map((t) => [t.code, t]))

export function termByRef(ref: string): MdcTerm | undefined {
  return byRef.get(ref)
}
export function termByCode(code: number): MdcTerm | undefined {
  return byCode.get(code)
}
/** Reference id for a code; unknown codes print as `MDC_<code>` so nothing is silently dropped in JSON. */
export function refOf(code: number): string {
  return byCode.get(code)?.ref ?? `MDC_${code}`
}
/** Numeric code for a reference id; throws RangeError naming the id when unknown. */
export function codeOf(ref: string): number {
  const t = byRef.get(ref)
  if (!t) throw new RangeError(`unknown MDC reference id "${ref}"`)
  return t.code
}

export const MDC = Object.freeze(Object.fromEntries(MDC_TERMS.map((t) => [t.ref, t.code]))) as Readonly<Record<string, number>>
