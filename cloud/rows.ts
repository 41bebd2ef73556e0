/**
 * Envelope → one CQL INSERT. Pure. Every insert carries `USING TIMESTAMP` derived from the event
 * (hub receive time in µs), so a replayed message writes the same cell with the same timestamp:
 * replays change nothing.
 */
import cassandra from 'cassandra-driver'
import type { EnvelopeMsg } from '../proto/codec.js'

export interface CqlWrite { readonly query: string; readonly params: unknown[] }

const dayOf = (ms: number) => cassandra.types.LocalDate.fromDate(new Date(ms))
const long = (n: number) => cassandra.types.Long.fromNumber(n)

export function insertStatements(ks: string) {
  return {
    vitals: `INSERT INTO ${ks}.vitals_by_patient (subject, day, ts, hub_id, hub_seq, subject_kind, key_epoch, bed_id, code, value, unit, quality, device, device_seq, hub_time) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) USING TIMESTAMP ?`,
    alerts: `INSERT INTO ${ks}.alerts_by_patient (subject, day, ts, hub_id, hub_seq, subject_kind, key_epoch, bed_id, alarm_id, rule_id, state, priority, category, code, value, message, condition_since, latching, ack_by) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) USING TIMESTAMP ?`,
    waveforms: `INSERT INTO ${ks}.waveforms_by_patient (subject, day, t0, hub_id, hub_seq, subject_kind, key_epoch, bed_id, code, rate_hz, t0_us, samples_uv, quality, device, device_seq) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) USING TIMESTAMP ?`,
    audit: `INSERT INTO ${ks}.audit_by_day (hub_id, day, ts, hub_seq, subject, bed_id, action, actor, detail) VALUES (?,?,?,?,?,?,?,?,?) USING TIMESTAMP ?`,
  }
}
export type InsertStatements = ReturnType<typeof insertStatements>

/** The write for one envelope, or throws with the reason the envelope cannot be stored. */
export function toWrite(e: EnvelopeMsg, q: InsertStatements): CqlWrite {
  const writeTs = long(e.hubTimeMs * 1000 + (e.hubSeq % 1000))
  if (e.observation) {
    const o = e.observation
    const ts = o.deviceTimeMs
    return { query: q.vitals, params: [e.subject, dayOf(ts), new Date(ts), e.hubId, long(e.hubSeq), e.subjectKind, e.keyEpoch, e.bedId, o.code, o.value, o.unit, o.quality, o.device, long(o.deviceSeq), new Date(o.hubTimeMs), writeTs] }
  }
  if (e.alarm) {
    const a = e.alarm
    return { query: q.alerts, params: [e.subject, dayOf(a.atMs), new Date(a.atMs), e.hubId, long(e.hubSeq), e.subjectKind, e.keyEpoch, e.bedId, a.alarmId, a.ruleId, a.state, a.priority, a.category, a.code, a.value, a.message, new Date(a.conditionSinceMs), a.latching, a.ackBy, writeTs] }
  }
  if (e.waveform) {
    const w = e.waveform
    const t0Ms = Math.floor(w.t0Us / 1000)
    const samples = Int32Array.from(w.samplesUv)
    return { query: q.waveforms, params: [e.subject, dayOf(t0Ms), new Date(t0Ms), e.hubId, long(e.hubSeq), e.subjectKind, e.keyEpoch, e.bedId, w.code, w.rateHz, long(w.t0Us), Buffer.from(samples.buffer), w.quality, w.device, long(w.deviceSeq), writeTs] }
  }
  if (e.audit) {
    const a = e.audit
    return { query: q.audit, params: [e.hubId, dayOf(a.atMs), new Date(a.atMs), long(e.hubSeq), e.subject, e.bedId, a.action, a.actor, a.detail, writeTs] }
  }
  throw new Error('envelope has no body (observation, waveform, alarm or audit)')
}
