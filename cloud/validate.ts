/**
 * Kafka message value → checked Envelope, or an InvalidMessage naming why it cannot be stored.
 * Pure. The reason code travels to `dead-letter` in the `bedside-reason` header, so it is stable
 * (docs/analytics.md, "dead-letter").
 */
import { decodeEnvelope, EnvelopeError, type EnvelopeMsg } from '../proto/codec.js'

export type InvalidReason =
  | 'empty-value' // tombstone or empty message
  | 'undecodable' // not a bedside.v1.Envelope in protobuf
  | 'schema-version' // schema_version other than the one this writer knows (proto/envelope.proto)
  | 'missing-id' // no hub_id or hub_seq: the event could not be deduplicated
  | 'missing-subject' // no pseudonym: the row would have no partition
  | 'no-body' // none of observation, waveform, alarm, audit
  | 'bad-time' // an event time outside 2000..2100 (a zero or garbage clock)
  | 'bad-field' // a field a row needs is out of its domain

export class InvalidMessage extends Error {
  readonly code = 'BEDSIDE_ERR_INVALID_MESSAGE'
  constructor(
    readonly reason: InvalidReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${reason}: ${message}`, options)
    this.name = 'InvalidMessage'
  }
}

const MIN_TIME_MS = Date.UTC(2000, 0, 1)
const MAX_TIME_MS = Date.UTC(2100, 0, 1)

function checkTime(name: string, ms: number): void {
  if (!Number.isFinite(ms) || ms < MIN_TIME_MS || ms >= MAX_TIME_MS) throw new InvalidMessage('bad-time', `${name} ${ms} is outside 2000..2100`)
}

/** The codec's typed reason; anything else it throws means the bytes are not an Envelope. */
function classifyDecodeError(err: unknown): InvalidReason {
  return err instanceof EnvelopeError ? err.reason : 'undecodable'
}

export function decodeChecked(value: Buffer | null): EnvelopeMsg {
  if (!value || value.length === 0) throw new InvalidMessage('empty-value', 'message has no value')
  let e: EnvelopeMsg
  try {
    e = decodeEnvelope(value)
  } catch (err) {
    throw new InvalidMessage(classifyDecodeError(err), (err as Error).message, { cause: err })
  }
  if (!e.subject) throw new InvalidMessage('missing-subject', `hub ${e.hubId} seq ${e.hubSeq} has no subject`)
  checkTime('hub_time_ms', e.hubTimeMs)
  checkBody(e)
  return e
}

function checkBody(e: EnvelopeMsg): void {
  if (e.observation) return checkTime('observation.device_time_ms', e.observation.deviceTimeMs)
  if (e.alarm) {
    if (!e.alarm.alarmId) throw new InvalidMessage('bad-field', 'alarm without alarm_id')
    return checkTime('alarm.at_ms', e.alarm.atMs)
  }
  if (e.waveform) {
    if (!(e.waveform.rateHz > 0)) throw new InvalidMessage('bad-field', `waveform rate_hz ${e.waveform.rateHz}`)
    return checkTime('waveform.t0_us', e.waveform.t0Us / 1000)
  }
  if (e.audit) return checkTime('audit.at_ms', e.audit.atMs)
  throw new InvalidMessage('no-body', `hub ${e.hubId} seq ${e.hubSeq} has no observation, waveform, alarm or audit`)
}
