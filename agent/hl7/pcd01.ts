/**
 * IHE PCD-01 "Communicate PCD Data" (DEC profile): ORU^R01^ORU_R01, HL7 v2.6, one per bed and
 * charting period (shared/protocols.md §7.3, §7.5; the worked message there). Pure.
 *
 * MSH-21 `IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO` as in the vendor samples
 * [S-PCD-SAMPLES] and the IHE registration by OID [S-IHE-WIKI]. OBX-3 is the MDC code
 * (`150456^MDC_PULS_OXIM_SAT_O2^MDC`), OBX-6 the UCUM unit as CWE (`%^%^UCUM`), OBX-11 `F` for a
 * value the device reported valid and `R` for one flagged questionable or re-timed, OBX-14 the
 * device's time of the value, OBX-18 the device.
 *
 * Left out of the profile: the MDS/VMD/channel header OBXs and a containment that mirrors the
 * device (OBX-4 here is `1.0.0.<n>`, ordinals unique in the message, which §7.5 allows: "not
 * normative per parameter"); OBX-7 reference ranges; EUI-64 equipment ids (our devices are named
 * by their configured id).
 */
import { escape } from '../../drivers/serial/hl7/message.js'
import { refOf, termByCode } from '../../drivers/codes.js'
import type { Admission } from '../store/admissions.js'
import { dtm, equipment, message, msh, pid, pv1, type BedLocation, type MshInput } from './pcd-segments.js'

export const PCD01_PROFILE = 'IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO'

export interface ChartedValue {
  readonly code: number
  readonly value: number
  /** UCUM, as stored; the MDC term's unit when the record has none. */
  readonly unit: string | null
  readonly deviceId: string | null
  /** Device time of the value, else its hub time. */
  readonly timeMs: number
  /** false: the device flagged it questionable or the hub re-timed it (OBX-11 R). */
  readonly final: boolean
}

export interface Pcd01Input {
  readonly header: Omit<MshInput, 'messageType' | 'profile'>
  readonly hubId: string
  readonly admission: Admission
  readonly location: BedLocation
  /** The charting period this message covers: OBR-7 and OBR-8. */
  readonly fromMs: number
  readonly toMs: number
  /** Latest value per code in the period, in the order to send. */
  readonly values: readonly ChartedValue[]
}

export function buildPcd01(p: Pcd01Input): string {
  const id = escape(p.header.controlId)
  const app = escape(p.header.sendingApplication)
  const segs = [
    msh({ ...p.header, messageType: 'ORU^R01^ORU_R01', profile: PCD01_PROFILE }),
    pid(p.admission),
    pv1(p.location),
    // OBR-2/-3 placer and filler ids (EI) from the message, OBR-4 "monitoring of patient" (SNOMED CT 182777000) as the PCD samples.
    ['OBR', '1', `${id}^${app}`, `${id}^${app}`, '182777000^monitoring of patient^SCT', '', '', dtm(p.fromMs), dtm(p.toMs)].join('|'),
  ]
  p.values.forEach((v, i) => segs.push(obx(i + 1, v, p.hubId)))
  return message(segs)
}

function obx(n: number, v: ChartedValue, hubId: string): string {
  const unit = v.unit ?? termByCode(v.code)?.unit ?? ''
  const f = ['OBX', String(n), 'NM', `${v.code}^${refOf(v.code)}^MDC`, `1.0.0.${n}`, formatNumber(v.value), unit ? `${escape(unit)}^${escape(unit)}^UCUM` : '',
    '', '', '', '', v.final ? 'F' : 'R', '', '', dtm(v.timeMs), '', '', '', equipment(v.deviceId, hubId)]
  return f.join('|')
}

/** NM (HL7 v2.6 §2.A.47): optional sign, digits, optional decimal point; never an exponent. */
export function formatNumber(x: number): string {
  const s = String(Math.round(x * 1000) / 1000)
  return s.includes('e') ? x.toFixed(3) : s
}
