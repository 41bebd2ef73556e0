/**
 * The bodies of alarm and audit records in the store: protobuf `bedside.v1.Alarm` and
 * `bedside.v1.AuditEvent` (proto/), typed from the moment they are written. The sync puts these
 * bytes into the Envelope as they are (proto/codec.ts encodeEnvelopeWithBody): no JSON written and
 * parsed back inside one process, no `String()`/`Number()` coercion of fields.
 *
 * Stores written before schema v3 hold JSON bodies in rows that may not be synced yet; `read*`
 * still take them (a JSON body starts with `{`, 0x7B, which no Alarm or AuditEvent encoding does:
 * their first field, a string, starts with the tag 0x0A).
 */
import { decodeAlarm, decodeAudit, encodeAlarm, encodeAudit, type AlarmMsg, type AuditMsg } from '../../proto/codec.js'
import type { AlarmChange } from '../rules/index.js'

const LEGACY_JSON = 0x7b

/** `mdcCode`: the alarm's numeric code (pipeline/alarm-codes.ts). */
export function alarmBody(c: AlarmChange, mdcCode = 0): Buffer {
  const m: AlarmMsg = {
    alarmId: c.alarmId, ruleId: c.ruleId, state: c.state, priority: c.priority, category: c.category, code: c.code ?? '',
    value: c.value ?? Number.NaN, message: c.message, conditionSinceMs: c.conditionSinceMs, atMs: c.atMs, latching: c.latching, ackBy: c.ackBy ?? '',
    foldedInto: c.foldedInto ?? '', mdcCode,
  }
  return asBuffer(encodeAlarm(m))
}

export function auditBody(action: string, actor: string, atMs: number, detail: string): Buffer {
  return asBuffer(encodeAudit({ action, actor, atMs, detail }))
}

/** A stored alarm body as a message; throws on a body that is neither (EnvelopeError, SyntaxError). */
export function readAlarmBody(body: Uint8Array): AlarmMsg {
  if (body[0] !== LEGACY_JSON) return decodeAlarm(body)
  const a = JSON.parse(Buffer.from(body).toString('utf8')) as Record<string, unknown>
  return {
    alarmId: String(a.alarmId), ruleId: String(a.ruleId), state: String(a.state), priority: String(a.priority), category: String(a.category),
    code: typeof a.code === 'string' ? a.code : '', value: typeof a.value === 'number' ? a.value : Number.NaN, message: String(a.message ?? ''),
    conditionSinceMs: Number(a.conditionSinceMs ?? 0), atMs: Number(a.atMs ?? 0), latching: a.latching === true, ackBy: typeof a.ackBy === 'string' ? a.ackBy : '',
    foldedInto: typeof a.foldedInto === 'string' ? a.foldedInto : '',
  }
}

export function readAuditBody(body: Uint8Array, hubTimeMs: number): AuditMsg {
  if (body[0] !== LEGACY_JSON) return decodeAudit(body)
  const a = JSON.parse(Buffer.from(body).toString('utf8')) as Record<string, unknown>
  return { action: String(a.action ?? ''), actor: String(a.actor ?? ''), atMs: hubTimeMs, detail: String(a.detail ?? '') }
}

/** True when the stored body is the typed encoding (else a legacy JSON body). */
export function isTypedBody(body: Uint8Array): boolean {
  return body.length > 0 && body[0] !== LEGACY_JSON
}

function asBuffer(u: Uint8Array): Buffer {
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength)
}
