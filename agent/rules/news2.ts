/**
 * NEWS2 (Royal College of Physicians, 2017): Chart 1 scoring and Chart 2 aggregate bands, exactly
 * as tabulated in protocols.md §9 ([S-NEWS-CHART], [S-NEWS-RCP]).
 *
 * - Inputs are rounded before banding (integers; temperature to 0.1 °C). The rounding policy is
 *   UNCONFIRMED in the RCP sources (protocols.md §9) and is a local decision: Math.round.
 * - SpO2 uses exactly one scale per patient (scale 2 only under clinical direction).
 * - The "air or oxygen" row scores only when the engine knows it (patient context). Scale 2 with
 *   SpO2 ≥ 93 and unknown oxygen is scored as on air: the lower bound, so an alarm on a partial
 *   score is never a false high.
 * - A missing or too-old device input is left out and named in `missing`: a partial score is a
 *   lower bound of the full one. Consciousness and oxygen, set at the bedside, are states, not
 *   readings: they count until changed, and past the rule's `context_max_age_s` they are named in
 *   `unconfirmed` for a nurse to confirm (news2-rule.ts).
 */
export type News2Param = 'rr' | 'spo2' | 'air' | 'sbp' | 'pulse' | 'consciousness' | 'temp'
export type News2Band = 'low' | 'low-medium' | 'medium' | 'high'
export type Acvpu = 'A' | 'C' | 'V' | 'P' | 'U'

export interface News2Part {
  readonly param: News2Param
  readonly value: number | string
  readonly points: number
  /** Time of the input (device time; patient context in the bed's device-time frame). */
  readonly atMs: number
}
export interface News2Result {
  readonly total: number
  readonly band: News2Band
  /** Some single parameter scored 3 (RCP "red score"). */
  readonly redScore: boolean
  readonly spo2Scale: 1 | 2
  /** The inputs that counted, with their points. */
  readonly parts: readonly News2Part[]
  readonly used: readonly News2Param[]
  readonly missing: readonly News2Param[]
  /** Bedside inputs (consciousness, air) set longer ago than the rule's context_max_age_s: still counted, to be confirmed. */
  readonly unconfirmed: readonly News2Param[]
  readonly complete: boolean
  /** Evaluation time (device-time frame of the bed). */
  readonly atMs: number
}

/**
 * The value a chart row is read with: an integer, temperature to 0.1 °C, half up. The 1e-9 keeps
 * half up for temperatures whose binary fraction falls just short of it (36.05 × 10 is
 * 360.4999…), as it already is for 35.05; nothing measured is that close to a half otherwise.
 */
export const news2Rounded = (param: News2Param, v: number): number => (param === 'temp' ? Math.round(v * 10 + 1e-9) / 10 : Math.round(v))

export const rrPoints = (rr: number): number => {
  const v = Math.round(rr)
  return v <= 8 ? 3 : v <= 11 ? 1 : v <= 20 ? 0 : v <= 24 ? 2 : 3
}
export const spo2Scale1Points = (spo2: number): number => {
  const v = Math.round(spo2)
  return v <= 91 ? 3 : v <= 93 ? 2 : v <= 95 ? 1 : 0
}
export const spo2Scale2Points = (spo2: number, onOxygen: boolean): number => {
  const v = Math.round(spo2)
  if (v <= 83) return 3
  if (v <= 85) return 2
  if (v <= 87) return 1
  if (v <= 92 || !onOxygen) return 0
  return v <= 94 ? 1 : v <= 96 ? 2 : 3
}
export const airPoints = (onOxygen: boolean): number => (onOxygen ? 2 : 0)
export const sbpPoints = (sbp: number): number => {
  const v = Math.round(sbp)
  return v <= 90 ? 3 : v <= 100 ? 2 : v <= 110 ? 1 : v <= 219 ? 0 : 3
}
export const pulsePoints = (pulse: number): number => {
  const v = Math.round(pulse)
  return v <= 40 ? 3 : v <= 50 ? 1 : v <= 90 ? 0 : v <= 110 ? 1 : v <= 130 ? 2 : 3
}
export const consciousnessPoints = (c: Acvpu): number => (c === 'A' ? 0 : 3)
export const tempPoints = (celsius: number): number => {
  const v = news2Rounded('temp', celsius)
  return v <= 35.0 ? 3 : v <= 36.0 ? 1 : v <= 38.0 ? 0 : v <= 39.0 ? 1 : 2
}

/** RCP Chart 2: ≥7 high; 5–6 medium; any single 3 low–medium; else low. */
export function news2Band(total: number, redScore: boolean): News2Band {
  return total >= 7 ? 'high' : total >= 5 ? 'medium' : redScore ? 'low-medium' : 'low'
}

/** A plain set of inputs (undefined = not available), e.g. for the worked examples. */
export interface News2Input {
  rr?: number
  spo2?: number
  spo2Scale?: 1 | 2
  onOxygen?: boolean
  sbp?: number
  pulse?: number
  consciousness?: Acvpu
  temp?: number
  atMs?: number
}

export const NEWS2_PARAMS: readonly News2Param[] = ['rr', 'spo2', 'air', 'sbp', 'pulse', 'consciousness', 'temp']

/** Points of one available input (the single place the chart is applied). */
export function pointsOf(param: News2Param, input: News2Input): number {
  switch (param) {
    case 'rr':
      return rrPoints(input.rr!)
    case 'spo2':
      return input.spo2Scale === 2 ? spo2Scale2Points(input.spo2!, input.onOxygen === true) : spo2Scale1Points(input.spo2!)
    case 'air':
      return airPoints(input.onOxygen!)
    case 'sbp':
      return sbpPoints(input.sbp!)
    case 'pulse':
      return pulsePoints(input.pulse!)
    case 'consciousness':
      return consciousnessPoints(input.consciousness!)
    default:
      return tempPoints(input.temp!)
  }
}

function valueOf(param: News2Param, input: News2Input): number | string | undefined {
  if (param === 'air') return input.onOxygen === undefined ? undefined : input.onOxygen ? 'oxygen' : 'air'
  return input[param]
}

/** Scores a plain input set; allocation is fine here (dashboard and tests, not the hot path). */
export function scoreNews2(input: News2Input, times?: Partial<Record<News2Param, number>>): News2Result {
  const parts: News2Part[] = []
  const used: News2Param[] = []
  const missing: News2Param[] = []
  let total = 0
  let red = false
  for (const param of NEWS2_PARAMS) {
    const value = valueOf(param, input)
    if (value === undefined || (typeof value === 'number' && Number.isNaN(value))) {
      missing.push(param)
      continue
    }
    const points = pointsOf(param, input)
    total += points
    if (points === 3) red = true
    used.push(param)
    parts.push({ param, value, points, atMs: times?.[param] ?? input.atMs ?? Number.NaN })
  }
  const spo2Scale = input.spo2Scale ?? 1
  return { total, band: news2Band(total, red), redScore: red, spo2Scale, parts, used, missing, unconfirmed: [], complete: missing.length === 0, atMs: input.atMs ?? Number.NaN }
}
