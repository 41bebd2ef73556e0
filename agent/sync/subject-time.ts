/**
 * The time whose pseudonym epoch names a record's subject (issue 24: rotation must not split what
 * belongs together). A record takes the epoch in force when it was accepted (its hub time), except:
 * - an alarm record takes the epoch in force when its EPISODE started (the body's
 *   `condition_since_ms`, at most its hub time), so an episode raised before an epoch boundary and
 *   acknowledged or cleared after it keeps one subject: `alerts_by_patient` holds the whole
 *   episode in one partition, and the cloud sees it end.
 * The stay's encounter pseudonym is under the epoch in force when the stay began, chosen from
 * the row's admission by the encoder (envelope.ts encounterOf, encounter.ts).
 * Runs on the sync path once per record; only alarm rows (rare) decode their body here, again.
 */
import { readAlarmBody } from '../store/bodies.js'
import { RecordKind } from '../store/commit.js'
import { Col, type OutboxRow } from '../store/outbox.js'

export function subjectTimeMs(row: OutboxRow): number {
  const hubTimeMs = row[Col.HUB_TIME_MS]
  const body = row[Col.BODY]
  if (row[Col.KIND] !== RecordKind.ALARM || !body || body.length === 0) return hubTimeMs
  let sinceMs: number
  try {
    sinceMs = readAlarmBody(body).conditionSinceMs
  } catch {
    return hubTimeMs // a body that does not decode: the encoder sets the row aside itself, naming it
  }
  // Device time for a physiological alarm: never later than the hub's acceptance (a clock ahead).
  return Number.isFinite(sinceMs) && sinceMs > 0 ? Math.min(sinceMs, hubTimeMs) : hubTimeMs
}
