/**
 * Plausibility (issue 16): a value no device can measure or no living patient can have is not a
 * clinical fact. The pipeline flags it `Quality.OUT_OF_RANGE` (bit value 16, wire meaning
 * unchanged: proto/bedside/v1/observation.proto), stores it, counts it, and keeps it out of the
 * rules, NEWS2 and the latest vitals (ingest.ts). Pure: no I/O, no clock.
 *
 * The ranges are deliberately wide. They catch the impossible (SpO2 −5 %, HR 1 000 000 /min,
 * a °F temperature sent as Cel), not the unlikely: a flagged value raises no alarm, so a range
 * narrower than what a monitor can really display would hide a real alarm. Bounds are inclusive
 * and in the code's canonical UCUM unit (codes.ts), i.e. after normalize.ts.
 *
 * Sources (device IFU measuring ranges read through the project's page search; no IEEE 11073-10101
 * range was found: the nomenclature defines codes and units, not limits):
 * - [MR-N22] Mindray BeneVision N22/N19 Operator's Manual A.14.4: PR measuring range 20–300 bpm
 *   (SpO2 modules) and 25–350 bpm (IBP module). https://www.easymanua.ls/mindray/benevision-n22/manual?p=393
 * - [MR-N22-CO2] same manual A-25: mainstream CO2 measuring range 0–150 mmHg; awRR 0–150 rpm.
 *   https://www.easymanua.ls/mindray/benevision-n22/manual?p=403
 * - [MR-N1] Mindray BeneVision N1 Operator's Manual A.14.2: impedance RR measuring range 0–200 rpm.
 *   http://38.142.81.21:8001/manual/mindray/wmtsn1/operator-s-manual-english/page-224.html
 * - [MR-MEC] Mindray MEC-1200 manual A.8: SpO2 measuring range 0–100 %.
 *   https://www.manualslib.de/manual/54104/Mindray-Mec-1200.html?page=162
 * - [DEF] a definitional limit (a saturation is a fraction of haemoglobin; a rate is not negative).
 * - [DATEX] protocols.md §6.6: S/5 pressures are int16 × 0.01 mmHg, so at most 327.67 mmHg.
 * - [LOCAL] the figure or our choice, with no published range read: UNCONFIRMED, to be
 *   reviewed clinically.
 */
import { MDC } from '../../drivers/codes.js'

export interface PlausibleRange {
  readonly code: number
  /** Inclusive bounds in the code's canonical unit. */
  readonly min: number
  readonly max: number
  readonly unit: string
  readonly source: string
}

const rate = (ref: string, source: string): PlausibleRange => ({ code: MDC[ref]!, min: 0, max: 350, unit: '/min', source })
const nibp = (ref: string): PlausibleRange => ({ code: MDC[ref]!, min: 0, max: 350, unit: 'mm[Hg]',
  source: '[LOCAL] 0–350 mmHg (issue 16); an oscillometric cuff cannot read below 0; above [DATEX] 327.67' })
// Invasive transducers read relative to atmosphere: venous, intracranial and pulmonary pressures
// (Datex labels RAP, ICP, PA… map to the generic codes, §6.6) are negative in life. Floor [LOCAL].
const ibp = (ref: string): PlausibleRange => ({ code: MDC[ref]!, min: -50, max: 350, unit: 'mm[Hg]',
  source: '[LOCAL] −50–350 mmHg: negative invasive pressures are real; top as NIBP, above [DATEX] 327.67' })
const temp = (ref: string): PlausibleRange => ({ code: MDC[ref]!, min: 25, max: 45, unit: 'Cel',
  source: '[LOCAL] 25–45 °C (issue 16): below is far likelier a probe off the body (room air); above catches °F sent as Cel' })

/** One row per numeric code of drivers/codes.ts (a test holds the two tables together). */
export const PLAUSIBLE_RANGES: readonly PlausibleRange[] = Object.freeze([
  rate('MDC_ECG_HEART_RATE', '[MR-N22] widest HR/PR measuring range read, 350 /min; 0 = asystole [DEF]'),
  rate('MDC_PULS_RATE', '[MR-N22] 350 /min; 0 [DEF]'),
  rate('MDC_PULS_OXIM_PULS_RATE', '[MR-N22] SpO2 modules 300 /min, widened to the IBP 350 so one rate has one range; 0 [DEF]'),
  rate('MDC_PULS_RATE_NON_INV', '[MR-N22] 350 /min; 0 [DEF]'),
  rate('MDC_BLD_PULS_RATE_INV', '[MR-N22] PR from IBP 25–350 /min; 0 [DEF]'),
  { code: MDC.MDC_PULS_OXIM_SAT_O2!, min: 0, max: 100, unit: '%', source: '[DEF] a saturation is 0–100 %; [MR-MEC] 0–100 %' },
  { code: MDC.MDC_RESP_RATE!, min: 0, max: 200, unit: '/min', source: '[MR-N1] impedance RR 0–200 rpm (wider than [MR-N22-CO2] awRR 0–150)' },
  nibp('MDC_PRESS_BLD_NONINV_SYS'),
  nibp('MDC_PRESS_BLD_NONINV_DIA'),
  nibp('MDC_PRESS_BLD_NONINV_MEAN'),
  ibp('MDC_PRESS_BLD_SYS'),
  ibp('MDC_PRESS_BLD_DIA'),
  ibp('MDC_PRESS_BLD_MEAN'),
  ibp('MDC_PRESS_BLD_ART_SYS'),
  ibp('MDC_PRESS_BLD_ART_DIA'),
  ibp('MDC_PRESS_BLD_ART_MEAN'),
  temp('MDC_TEMP_BODY'),
  temp('MDC_TEMP_CORE'),
  { code: MDC.MDC_AWAY_CO2_ET!, min: 0, max: 150, unit: 'mm[Hg]', source: '[MR-N22-CO2] CO2 measuring range 0–150 mmHg' },
  { code: MDC.MDC_ECG_TIME_PD_RR_GL!, min: 150, max: 60_000, unit: 'ms',
    source: '[LOCAL] 150 ms (under the 171 ms of [MR-N22] 350 /min; the QRS detector merges beats closer than 200 ms) to 60 s (a beat after a long asystole)' },
])

// Hot path (~650k records/s): a Map from code to a row index (a small integer, no allocation on
// get) and the bounds in typed arrays; no per-record object.
const rowOf = new Map<number, number>()
const minOf = new Float64Array(PLAUSIBLE_RANGES.length)
const maxOf = new Float64Array(PLAUSIBLE_RANGES.length)
PLAUSIBLE_RANGES.forEach((r, i) => {
  if (!(r.min < r.max)) throw new RangeError(`plausible range of ${r.code}: min ${r.min} ≥ max ${r.max}`)
  if (rowOf.has(r.code)) throw new RangeError(`plausible range of ${r.code} given twice`)
  rowOf.set(r.code, i)
  minOf[i] = r.min
  maxOf[i] = r.max
})

/**
 * True when `value` lies outside its code's plausible range. NaN ("no value", flagged UNAVAILABLE
 * by its driver) is not judged, nor is a code without a range (waveforms; unknown codes are
 * refused by normalize). ±Infinity and finite huge magnitudes (1e300) are out of range.
 */
export function isImplausible(code: number, value: number): boolean {
  const i = rowOf.get(code)
  if (i === undefined) return false
  return value < minOf[i]! || value > maxOf[i]!
}

/** The range of a code, for messages and tests; undefined when the code has none. */
export function plausibleRange(code: number): PlausibleRange | undefined {
  const i = rowOf.get(code)
  return i === undefined ? undefined : PLAUSIBLE_RANGES[i]
}
