/** Envelopes for cloud tests, encoded with the wire codec as the agent would send them. */
import { encodeEnvelope, SCHEMA_VERSION, type AlarmMsg, type EnvelopeMsg } from '../../proto/codec.js'
import type { RawRecord } from '../support/cloud-process.js'


/**
 * `count` observations from hub `hubId`, hub_seq firstSeq.., over `subjects` patients named
 * `${prefix}${n}`; observation k (from 1) has device time startMs + k s.
 */
export function observationRecords(hubId: string, count: number, subjects: number, startMs: number, firstSeq = 1, prefix = 'p-test-'): RawRecord[] {
  const out: RawRecord[] = []
  for (let k = 0; k < count; k++) {
    const seq = firstSeq + k
    const subject = `${prefix}${seq % subjects}`
    const t = startMs + (k + 1) * 1000
    const e: EnvelopeMsg = {
      schemaVersion: SCHEMA_VERSION, hubId, hubSeq: seq, subject, subjectKind: 1, keyEpoch: 'e1', bedId: `bed-${seq % subjects}`, hubTimeMs: t + 20,
      observation: { code: 147842, value: 60 + (seq % 40), unit: '/min', deviceTimeMs: t, hubTimeMs: t + 20, deviceSeq: seq, quality: 128, device: `d-${seq % subjects}` },
    }
    out.push({ key: subject, value: encodeEnvelope(e) })
  }
  return out
}

export function alarmRecord(hubId: string, hubSeq: number, subject: string, atMs: number, priority: AlarmMsg['priority'], bedId = 'bed-1'): RawRecord {
  const alarm: AlarmMsg = { alarmId: `al-${hubSeq}`, ruleId: 'hr-high', state: 'raised', priority, category: 'physiological', code: 'MDC_ECG_HEART_RATE', value: 151, message: 'HR > 150', conditionSinceMs: atMs - 10_000, atMs, latching: false, ackBy: '' }
  const e: EnvelopeMsg = { schemaVersion: SCHEMA_VERSION, hubId, hubSeq, subject, subjectKind: 1, keyEpoch: 'e1', bedId, hubTimeMs: atMs + 5, alarm }
  return { key: subject, value: encodeEnvelope(e) }
}
