/**
 * Builds PCD-01 style ORU^R01 messages from vitals (protocols.md §7.3, §7.5 worked message):
 * MSH, PID, PV1, OBR, the MDS header OBX, then one NM OBX per present value with MDC codes.
 */
import { escape } from '../serial/hl7/message.js'
import { formatDtmUtc } from '../serial/hl7/time.js'
import type { EmulatorVitals } from './datex-record.js'

export interface OruOptions {
  readonly controlId: string
  readonly timeMs: number
  /** EUI-64 of the sending device (MSH-3, OBX-18). */
  readonly eui64?: string
  readonly bed?: string
}

type Row = readonly [code: string, value: number | undefined, unit: string, subId: string]

export function buildOru(v: EmulatorVitals, o: OruOptions): string {
  const eui = o.eui64 ?? '0012AB34CD56EF78'
  const ts = formatDtmUtc(o.timeMs)
  const rows: Row[] = [
    ['147842^MDC_ECG_HEART_RATE^MDC', v.hrPerMin, '264864^MDC_DIM_BEAT_PER_MIN^MDC', '1.1.1.1'],
    ['151562^MDC_RESP_RATE^MDC', v.rrPerMin, '264928^MDC_DIM_RESP_PER_MIN^MDC', '1.1.2.1'],
    ['150456^MDC_PULS_OXIM_SAT_O2^MDC', v.spo2Pct, '262688^MDC_DIM_PERCENT^MDC', '1.2.1.1'],
    ['149530^MDC_PULS_OXIM_PULS_RATE^MDC', v.pulsePerMin, '264864^MDC_DIM_BEAT_PER_MIN^MDC', '1.2.1.2'],
    ['150021^MDC_PRESS_BLD_NONINV_SYS^MDC', v.nibp?.sysMmHg, '266016^MDC_DIM_MMHG^MDC', '1.3.1.1'],
    ['150022^MDC_PRESS_BLD_NONINV_DIA^MDC', v.nibp?.diaMmHg, '266016^MDC_DIM_MMHG^MDC', '1.3.1.2'],
    ['150023^MDC_PRESS_BLD_NONINV_MEAN^MDC', v.nibp?.meanMmHg, '266016^MDC_DIM_MMHG^MDC', '1.3.1.3'],
    ['150364^MDC_TEMP_BODY^MDC', v.tempCel, '268192^MDC_DIM_DEGC^MDC', '1.4.1.1'],
    ['151708^MDC_AWAY_CO2_ET^MDC', v.etco2MmHg, '266016^MDC_DIM_MMHG^MDC', '1.5.1.1'],
  ]
  const seg = [
    `MSH|^~\\&|BEDSIM^${eui}^EUI-64|WARD|BEDHUB|HOSP|${ts}||ORU^R01^ORU_R01|${escape(o.controlId)}|P|2.6|||AL|NE||UNICODE UTF-8|||IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO`,
    'PID|||123456^^^HOSP^MR||Doe^Jane||19700101|F',
    `PV1||I|WARD^^${escape(o.bed ?? '1')}^HOSP`,
    `OBR|1|${escape(o.controlId)}^BEDSIM^${eui}^EUI-64||182777000^monitoring of patient^SCT|||${ts}`,
    `OBX|1||69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC|1.0.0.0|||||||X|||||||${eui}^EUI-64`,
  ]
  let n = 2
  for (const [code, value, unit, subId] of rows) {
    if (value === undefined) continue
    seg.push(`OBX|${n++}|NM|${code}|${subId}|${round(value)}|${unit}|||||R|||${ts}||||${eui}^EUI-64`)
  }
  return seg.join('\r') + '\r'
}

function round(v: number): string {
  return String(Math.round(v * 100) / 100)
}
