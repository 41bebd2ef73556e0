/**
 * The alarm history (issue 19): every alarm state change the agent recorded, read back from the
 * store by time for GET /api/alarms?state=all&since=…. The changes are the records of kind 3 that
 * the pipeline appends with every alarm it publishes (the same rows the sync sends to
 * alert-events), so the history is what leaves the gateway (its newest changes may be a group
 * commit's fsync ahead of the sync, store/wal-fsync.ts); it reaches back as far as the store keeps
 * records (retention, DESIGN.md delivery semantics).
 *
 * Read through the partial index records_alarms_by_time (schema v5): observation rows are never
 * scanned. Bounded by `limit` rows per call.
 */
import type { AlarmMsg } from '../../proto/codec.js'
import { readAlarmBody } from './bodies.js'
import type { Db } from './db.js'

export interface StoredAlarmChange {
  readonly hubSeq: number
  readonly bedId: string
  readonly hubTimeMs: number
  readonly alarm: AlarmMsg
}

export class AlarmHistory {
  private readonly since: ReturnType<Db['prepare']>

  constructor(db: Db) {
    this.since = db.prepare(
      'SELECT hub_seq, bed_id, hub_time_ms, body FROM records WHERE kind = 3 AND hub_time_ms >= ? ORDER BY hub_time_ms, hub_seq LIMIT ?',
    )
  }

  /**
   * Alarm changes recorded at or after `sinceMs` (hub time), oldest first, at most `limit`.
   * A row whose body cannot be read is skipped and counted in `unreadable` (never thrown at a nurse).
   */
  changesSince(sinceMs: number, limit: number): { changes: StoredAlarmChange[]; unreadable: number; truncated: boolean } {
    const rows = this.since.raw().all(sinceMs, limit + 1) as Array<[number, string | null, number, Uint8Array]>
    const truncated = rows.length > limit
    if (truncated) rows.length = limit
    const changes: StoredAlarmChange[] = []
    let unreadable = 0
    for (const [hubSeq, bedId, hubTimeMs, body] of rows) {
      try {
        changes.push({ hubSeq, bedId: bedId ?? '', hubTimeMs, alarm: readAlarmBody(body) })
      } catch {
        unreadable++
      }
    }
    return { changes, unreadable, truncated }
  }
}
