/**
 * Kafka message value → checked Envelope, or an InvalidMessage naming why it cannot be stored.
 * Pure. The reason code travels to `dead-letter` in the `bedside-reason` header, so it is stable
 * (docs/analytics.md, "dead-letter").
 */
import { decodeEnvelope, EnvelopeError, SCHEMA_VERSION_RUN, type EnvelopeMsg } from '../proto/codec.js'
import { unframeEnvelope } from './wire-format.js'

export type InvalidReason =
  | 'empty-value' // tombstone or empty message
  | 'undecodable' // not a bedside.v1.Envelope in protobuf
  | 'schema-version' // schema_version other than the ones this writer knows (1 and 2, proto/envelope.proto)
  | 'missing-id' // no hub_id or hub_seq: the event could not be deduplicated
  | 'missing-subject' // no pseudonym: the row would have no partition
  | 'no-body' // none of observation, waveform, alarm, audit
  | 'bad-time' // an event time outside 2000..2100 (a zero or garbage clock)
  | 'bad-field' // a field a row needs is out of its domain (or a run's hub_seq list does not match its items)

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
    e = decodeEnvelope(unframeEnvelope(value))
  } catch (err) {
    throw new InvalidMessage(classifyDecodeError(err), (err as Error).message, { cause: err })
  }
  if (!e.subject) throw new InvalidMessage('missing-subject', `hub ${e.hubId} seq ${e.hubSeq} has no subject`)
  checkTime('hub_time_ms', e.hubTimeMs)
  checkBody(e)
  return e
}

function checkBody(e: EnvelopeMsg): void {
  // Version 2 exists for one body and that body for version 2: anything else is a schema this
  // writer does not know, whatever the rest looks like.
  if ((e.schemaVersion === SCHEMA_VERSION_RUN) !== Boolean(e.observations)) throw new InvalidMessage('schema-version', `schema_version ${e.schemaVersion} with ${e.observations ? 'a run of observations' : 'a version 1 body or none'}`)
  if (e.observation) return checkTime('observation.device_time_ms', e.observation.deviceTimeMs)
  if (e.observations) return checkRun(e)
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

/**
 * A schema_version 2 run: one hub_seq per item, the first the Envelope's, strictly increasing (so
 * each item dedupes exactly by (hub_id, hub_seq)), every time in range. The run is stored or
 * dead-lettered whole: the agent never puts an item it could not encode into one.
 */
function checkRun(e: EnvelopeMsg): void {
  const run = e.observations!
  if (run.items.length === 0) throw new InvalidMessage('no-body', `hub ${e.hubId} seq ${e.hubSeq} has an empty run of observations`)
  if (run.hubSeq.length !== run.items.length) throw new InvalidMessage('bad-field', `run of ${run.items.length} observations with ${run.hubSeq.length} hub_seq`)
  if (run.hubSeq[0] !== e.hubSeq) throw new InvalidMessage('bad-field', `run starts at hub_seq ${run.hubSeq[0]}, envelope says ${e.hubSeq}`)
  for (let i = 0; i < run.items.length; i++) {
    if (i > 0 && !(run.hubSeq[i]! > run.hubSeq[i - 1]!)) throw new InvalidMessage('bad-field', `run hub_seq not increasing at item ${i} (${run.hubSeq[i]})`)
    checkTime(`observations.items[${i}].device_time_ms`, run.items[i]!.deviceTimeMs)
    checkTime(`observations.items[${i}].hub_time_ms`, run.items[i]!.hubTimeMs)
  }
}
