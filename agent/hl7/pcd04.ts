/**
 * IHE PCD-04 "Report Alert" (ACM profile): ORU^R40^ORU_R01, HL7 v2.6, one per alarm state change
 * (raised, escalated, acknowledged, cleared). Pure.
 *
 * MSH-21 `IHE_PCD_ACM_001^IHE PCD^1.3.6.1.4.1.19376.1.6.4.4^ISO`. The alert's OBX set follows the
 * ACM layout as it appears in public PCD-04 senders and parsers (found with the code search; the
 * PCD TF-2 text itself was not available, so the codes below are UNCONFIRMED against it):
 *   OBX 1  CWE 196616^MDC_EVT_ALARM^MDC          sub-id 1.0.0.0.1  the alert type; OBX-8 priority and kind (`PH~SP`)
 *   OBX 2  NM  <the observation that raised it>   sub-id 1.0.0.0.2  value and unit (absent for technical alarms)
 *   OBX 3  ST  68481^MDC_ATTR_EVENT_PHASE^MDC     sub-id 1.0.0.0.3  start | escalate | update | end
 *   OBX 4  ST  68482^MDC_ATTR_ALARM_STATE^MDC     sub-id 1.0.0.0.4  active | latched | inactive
 *   OBX 5  ST  68483^MDC_ATTR_ALARM_INACTIVATION_STATE^MDC   enabled | acknowledged
 *   OBX 6  ST  68484^MDC_ATTR_ALARM_PRIORITY^MDC  PH | PM | PL
 *   OBX 7  ST  68485^MDC_ATTR_ALERT_TYPE^MDC      SP (physiological) | ST (technical)
 * OBR-3 (filler order number) is the alarm's episode (its alarm id and start), the same in every
 * message of one episode, so the alert manager can follow an alarm from start to end.
 *
 * Left out: alert source containment (OBX-4 of the device's channel), OBX-7 limits, the alert
 * text as MDC_ATTR_ALERT_TEXT (the message goes in OBX-5 text of OBX 1), PCD-05/06/07 (the
 * alert manager's dispositions back to us), and the ACM heartbeat.
 */
import { escape } from '../../drivers/serial/hl7/message.js'
import { refOf, termByCode, termByRef } from '../../drivers/codes.js'
import type { AlarmMsg } from '../../proto/codec.js'
import type { Admission } from '../store/admissions.js'
import { formatNumber } from './pcd01.js'
import { dtm, equipment, message, msh, pid, pv1, type BedLocation, type MshInput } from './pcd-segments.js'

export const PCD04_PROFILE = 'IHE_PCD_ACM_001^IHE PCD^1.3.6.1.4.1.19376.1.6.4.4^ISO'

export interface Pcd04Input {
  readonly header: Omit<MshInput, 'messageType' | 'profile'>
  readonly hubId: string
  /** The admitted patient; none: PID-3 names the bed (an alarm on an empty bed, e.g. a technical one, still reaches the alert manager). */
  readonly admission: Admission | undefined
  readonly bedId: string
  readonly location: BedLocation
  readonly alarm: AlarmMsg
  /** Device of the observation that raised it, when known. */
  readonly deviceId: string | null
}

const PHASE = { raised: 'start', escalated: 'escalate', acknowledged: 'update', cleared: 'end' } as const
const PRIORITY = { high: 'PH', medium: 'PM', low: 'PL' } as const

export function buildPcd04(p: Pcd04Input): string {
  const a = p.alarm
  const state = a.state as keyof typeof PHASE
  const at = a.atMs
  const episode = `${escape(a.alarmId)}-${a.conditionSinceMs}^${escape(p.header.sendingApplication)}`
  const prio = PRIORITY[a.priority as keyof typeof PRIORITY] ?? 'PN'
  const kind = a.category === 'technical' ? 'ST' : 'SP'
  const eq = equipment(p.deviceId, p.hubId)
  const segs = [
    msh({ ...p.header, messageType: 'ORU^R40^ORU_R01', profile: PCD04_PROFILE }),
    p.admission ? pid(p.admission) : `PID|1||${escape(p.bedId)}^^^${escape(p.hubId)}^BED`,
    pv1(p.location),
    ['OBR', '1', `${escape(p.header.controlId)}^${escape(p.header.sendingApplication)}`, episode, '196616^MDC_EVT_ALARM^MDC', '', '', dtm(a.conditionSinceMs || at), dtm(at)].join('|'),
    row(1, 'CWE', '196616^MDC_EVT_ALARM^MDC', `${escape(a.ruleId)}^${escape(a.message || a.ruleId)}^L`, '', `${prio}~${kind}`, at, eq),
  ]
  let n = 2
  const code = a.code ? codeOf(a.code) : undefined
  if (code !== undefined && Number.isFinite(a.value)) {
    const unit = termByCode(code)?.unit ?? ''
    segs.push(row(n++, 'NM', `${code}^${refOf(code)}^MDC`, formatNumber(a.value), unit ? `${escape(unit)}^${escape(unit)}^UCUM` : '', '', at, eq))
  }
  const alarmState = state === 'cleared' ? 'inactive' : a.latching && state === 'acknowledged' ? 'latched' : 'active'
  segs.push(row(n++, 'ST', '68481^MDC_ATTR_EVENT_PHASE^MDC', PHASE[state] ?? 'update', '', '', at, ''))
  segs.push(row(n++, 'ST', '68482^MDC_ATTR_ALARM_STATE^MDC', alarmState, '', '', at, ''))
  segs.push(row(n++, 'ST', '68483^MDC_ATTR_ALARM_INACTIVATION_STATE^MDC', state === 'acknowledged' ? 'acknowledged' : 'enabled', '', '', at, ''))
  segs.push(row(n++, 'ST', '68484^MDC_ATTR_ALARM_PRIORITY^MDC', prio, '', '', at, ''))
  segs.push(row(n++, 'ST', '68485^MDC_ATTR_ALERT_TYPE^MDC', kind, '', '', at, ''))
  return message(segs)
}

function row(n: number, type: string, id: string, value: string, unit: string, flags: string, atMs: number, eq: string): string {
  // OBX-4 sub-ids 1.0.0.0.<n> as the ACM samples (the alert's own containment level).
  return ['OBX', String(n), type, id, `1.0.0.0.${n}`, value, unit, '', flags, '', '', 'F', '', '', dtm(atMs), '', '', '', eq].join('|')
}

/** An alarm's code is the MDC reference id of its rule's observation ("MDC_PULS_OXIM_SAT_O2"). */
function codeOf(ref: string): number | undefined {
  return termByRef(ref)?.code
}
