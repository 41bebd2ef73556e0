/**
 * Checked Envelope → the CQL rows it becomes. Pure.
 *
 * Every insert carries `USING TIMESTAMP` derived from the event (hub receive time in µs plus
 * hub_seq mod 1000), never from the writer's clock: a replayed or re-delivered message writes the
 * same cells with the same write timestamp, so a replay changes no row, not even its writetime().
 * An alarm is written twice: by patient (alerts_by_patient) and by ward (alerts_by_hub_day).
 */
import cassandra from 'cassandra-driver'
import type { EnvelopeMsg, ObservationMsg } from '../proto/codec.js'

export type TableName = 'vitals_by_patient' | 'waveforms_by_patient' | 'alerts_by_patient' | 'alerts_by_hub_day' | 'audit_by_day'

export interface RowWrite {
  readonly table: TableName
  /** Table + partition key values: rows with equal `partition` may share an UNLOGGED batch. */
  readonly partition: string
  readonly query: string
  readonly params: unknown[]
  /** Estimate of the row's size in a batch (bound values plus per-cell overhead). */
  readonly bytes: number
}

const long = (n: number) => cassandra.types.Long.fromNumber(n)
/** UTC day of a time; partitions are UTC days (docs/analytics.md). */
export const dayOf = (ms: number) => cassandra.types.LocalDate.fromDate(new Date(ms))
const dayKey = (ms: number) => new Date(ms).toISOString().slice(0, 10)

export function insertStatements(ks: string) {
  const alertCols = 'subject_kind, key_epoch, bed_id, alarm_id, rule_id, state, priority, category, code, value, message, condition_since, latching, ack_by'
  return {
    vitals: `INSERT INTO ${ks}.vitals_by_patient (subject, day, ts, hub_id, hub_seq, subject_kind, key_epoch, bed_id, code, value, unit, quality, device, device_seq, hub_time) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) USING TIMESTAMP ?`,
    alerts: `INSERT INTO ${ks}.alerts_by_patient (subject, day, ts, hub_id, hub_seq, ${alertCols}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) USING TIMESTAMP ?`,
    alertsByHub: `INSERT INTO ${ks}.alerts_by_hub_day (hub_id, day, ts, hub_seq, subject, ${alertCols}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) USING TIMESTAMP ?`,
    waveforms: `INSERT INTO ${ks}.waveforms_by_patient (subject, day, t0, hub_id, hub_seq, subject_kind, key_epoch, bed_id, code, rate_hz, t0_us, samples_uv, quality, device, device_seq) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) USING TIMESTAMP ?`,
    audit: `INSERT INTO ${ks}.audit_by_day (hub_id, day, ts, hub_seq, subject, bed_id, action, actor, detail) VALUES (?,?,?,?,?,?,?,?,?) USING TIMESTAMP ?`,
  }
}
export type InsertStatements = ReturnType<typeof insertStatements>

/** Write timestamp in µs: the event's hub time, made unique within a millisecond by hub_seq. */
export const writeTimestampUs = (e: EnvelopeMsg): number => e.hubTimeMs * 1000 + (e.hubSeq % 1000)

/** Bytes of bound values: strings by length, blobs by length, everything else 8; 12 per cell. */
export function estimateBytes(params: readonly unknown[]): number {
  let n = 0
  for (const p of params) n += 12 + (typeof p === 'string' ? p.length : Buffer.isBuffer(p) ? p.length : 8)
  return n
}

function row(table: TableName, partition: string, query: string, params: unknown[]): RowWrite {
  return { table, partition: `${table}/${partition}`, query, params, bytes: estimateBytes(params) }
}

/**
 * One observation's row of vitals_by_patient, the same whether it came alone (version 1) or as an
 * item of a run (version 2): the run's Envelope fields are each item's, and the write timestamp
 * comes from the item's own hub time, which the agent puts in both the Envelope and the
 * Observation of a version 1 record (agent/sync/envelope.ts), so the cells and writetime() match.
 */
function vitalsRow(e: EnvelopeMsg, hubSeq: number, hubTimeMs: number, o: ObservationMsg, q: InsertStatements): RowWrite {
  const t = o.deviceTimeMs
  const wts = long(hubTimeMs * 1000 + (hubSeq % 1000))
  return row('vitals_by_patient', `${e.subject}/${dayKey(t)}`, q.vitals, [e.subject, dayOf(t), new Date(t), e.hubId, long(hubSeq), e.subjectKind, e.keyEpoch, e.bedId, o.code, o.value, o.unit, o.quality, o.device, long(o.deviceSeq), new Date(o.hubTimeMs), wts])
}

/** The rows of one checked envelope (rows.ts assumes validate.ts passed it). */
export function toRows(e: EnvelopeMsg, q: InsertStatements): RowWrite[] {
  if (e.observation) return [vitalsRow(e, e.hubSeq, e.hubTimeMs, e.observation, q)]
  if (e.observations) return e.observations.items.map((o, i) => vitalsRow(e, e.observations!.hubSeq[i]!, o.hubTimeMs, o, q))
  const wts = long(writeTimestampUs(e))
  const seq = long(e.hubSeq)
  if (e.alarm) {
    const a = e.alarm
    const t = a.atMs
    const rest = [e.subjectKind, e.keyEpoch, e.bedId, a.alarmId, a.ruleId, a.state, a.priority, a.category, a.code, a.value, a.message, new Date(a.conditionSinceMs), a.latching, a.ackBy, wts]
    return [
      row('alerts_by_patient', `${e.subject}/${dayKey(t)}`, q.alerts, [e.subject, dayOf(t), new Date(t), e.hubId, seq, ...rest]),
      row('alerts_by_hub_day', `${e.hubId}/${dayKey(t)}`, q.alertsByHub, [e.hubId, dayOf(t), new Date(t), seq, e.subject, ...rest]),
    ]
  }
  if (e.waveform) {
    const w = e.waveform
    const t0Ms = Math.floor(w.t0Us / 1000)
    const samples = Int32Array.from(w.samplesUv)
    const blob = Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength)
    return [row('waveforms_by_patient', `${e.subject}/${dayKey(t0Ms)}`, q.waveforms, [e.subject, dayOf(t0Ms), new Date(t0Ms), e.hubId, seq, e.subjectKind, e.keyEpoch, e.bedId, w.code, w.rateHz, long(w.t0Us), blob, w.quality, w.device, long(w.deviceSeq), wts])]
  }
  if (e.audit) {
    const a = e.audit
    return [row('audit_by_day', `${e.hubId}/${dayKey(a.atMs)}`, q.audit, [e.hubId, dayOf(a.atMs), new Date(a.atMs), seq, e.subject, e.bedId, a.action, a.actor, a.detail, wts])]
  }
  throw new Error('BEDSIDE_ERR_INVALID_MESSAGE: envelope has no body (validate.ts should have refused it)')
}
