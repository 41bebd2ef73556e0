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
  /**
   * numeric / waveform: a reading's code (Observation.code, WaveformChunk.code); event: the code of
   * an alarm with no parameter of its own (Alarm.mdc_code: NEWS2, rhythms, technical conditions).
   */
  readonly kind: 'numeric' | 'waveform' | 'event'
  /** Where the code comes from: IEEE 11073-10101, or bedside-hub's private range (PRIVATE_BASE). */
  readonly source?: 'mdc' | 'private'
  /** One line for the published dictionary (docs/codes.md, proto/bedside/v1/codes.json). */
  readonly label?: string
}

/**
 * bedside-hub's own codes, for alarm conditions that have no confirmed MDC code here: NEWS2 (an RCP
 * aggregate score, not in IEEE 11073-10101), the rhythm episodes (MDC_EVT_* codes exist but their
 * numbers are UNCONFIRMED in protocols.md §8, so none is guessed) and the technical conditions.
 * They sit in partition 2 (SCADA) at term codes 0xF000 and up, the top of the 16-bit term space
 * that the nomenclature leaves to private use (the range is UNCONFIRMED against the standard's
 * text): 2 × 65536 + 0xF000 = 192512. Numbers, once published, never change meaning.
 */
export const PRIVATE_BASE = 2 * 65536 + 0xf000
const priv = (offset: number, ref: string, label: string, unit = ''): MdcTerm => ({ ref, code: PRIVATE_BASE + offset, unit, kind: 'event', source: 'private', label })

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
  // Private event codes (PRIVATE_BASE): NEWS2 (RCP 2017, protocols.md §9), then the rhythm
  // conditions (agent/rules/types.ts RHYTHM_CONDITIONS) from +16, the technical ones (TECHNICAL_CONDITIONS) from +32.
  priv(0, 'BEDSIDE_NEWS2_SCORE', 'NEWS2 aggregate score (RCP 2017): clinical-escalation alarms; value = the score', '{score}'),
  priv(16, 'BEDSIDE_RHYTHM_ASYS', 'Asystole (rhythm alarm)'),
  priv(17, 'BEDSIDE_RHYTHM_VF', 'Ventricular fibrillation/flutter (rhythm alarm)'),
  priv(18, 'BEDSIDE_RHYTHM_VT', 'Ventricular tachycardia (rhythm alarm)'),
  priv(19, 'BEDSIDE_RHYTHM_AFIB', 'Atrial fibrillation (rhythm alarm)'),
  priv(20, 'BEDSIDE_RHYTHM_BRADY', 'Extreme bradycardia (rhythm alarm)'),
  priv(21, 'BEDSIDE_RHYTHM_TACHY', 'Extreme tachycardia (rhythm alarm)'),
  priv(32, 'BEDSIDE_TECH_DISCONNECTED', 'Device disconnected (technical alarm)'),
  priv(33, 'BEDSIDE_TECH_LOW_BATTERY', 'Device battery low (technical alarm)'),
  priv(34, 'BEDSIDE_TECH_LEADS_OFF', 'ECG leads off (technical alarm)'),
  priv(35, 'BEDSIDE_TECH_SENSOR_OFF', 'Sensor off (technical alarm)'),
  priv(36, 'BEDSIDE_TECH_CLOCK_DRIFT', 'Device clock drift (technical alarm)'),
  priv(37, 'BEDSIDE_TECH_NO_DATA', 'No data from a device (technical alarm)'),
  priv(38, 'BEDSIDE_TECH_QUEUE_OVER_QUOTA', 'Gateway store over its quota (technical alarm)'),
  priv(39, 'BEDSIDE_TECH_ECG_NOISE', 'ECG too noisy for HR (technical alarm)'),
  priv(40, 'BEDSIDE_TECH_ECG_SATURATION', 'ECG saturated (technical alarm)'),
  priv(41, 'BEDSIDE_TECH_SELF_TEST_FAILED', 'Gateway self-test failed (technical alarm)'),
]

/** The private code of a rhythm condition (ASYS, VF, …) or a technical condition (leads-off, …). */
export function eventCodeRef(condition: string): string {
  return `BEDSIDE_${/^[A-Z]+$/.test(condition) ? 'RHYTHM' : 'TECH'}_${condition.toUpperCase().replace(/-/g, '_')}`
}

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
