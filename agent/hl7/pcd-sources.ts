/**
 * What the HL7 outputs send next, computed from `records` and a cursor (store/hl7-cursor.ts).
 *
 * Why computed, not written as records: a message is a deterministic function of the records
 * between two cursor positions (and of the admission, read from the store): the same records give
 * the same bytes and the same MSH-10 on every retry and after every restart, with nothing new to
 * store, seal or shed, and nothing new on the Kafka path (a new record kind would reach the sync).
 * "Nothing lost" is then the cursor's property alone: it moves only past what was acknowledged.
 *
 * Results (PCD-01): per bed, a period is [k·P, (k+1)·P) of hub time. Once it closed (plus a grace
 * for records still being committed) its message covers the bed's observations after the cursor up
 * to the period's end, stopping early where the admission changes (one patient per message); the
 * latest valid value per code goes out. Observations without an admission, or none valid, move the
 * cursor without a message once their period closed. A hub clock stepped back makes a record land
 * in a period already sent: it goes out in a message of its own, late but not lost.
 *
 * On demand: a `results-requested` audit record of the bed (POST /api/beds/{bed}/results) ends the
 * message at itself, so the values so far go out at once; the rest of the period makes a message of
 * its own when the period closes. The request is a record, so the cut is as durable and as
 * repeatable as the rest.
 *
 * Alarms (PCD-04): every alarm record after the cursor, one message each, in hub_seq order.
 */
import type { Statement } from 'better-sqlite3'
import { Quality } from '../../drivers/records.js'
import type { Config } from '../config.js'
import type { Admission, Admissions } from '../store/admissions.js'
import { AuditAction } from '../audit-actions.js'
import { readAlarmBody, readAuditBody } from '../store/bodies.js'
import type { Db } from '../store/db.js'
import type { Hl7Cursors } from '../store/hl7-cursor.js'
import { forEachRunItem, RunItemsError, type RunItem } from '../store/run-items.js'
import { buildPcd01, type ChartedValue } from './pcd01.js'
import { buildPcd04 } from './pcd04.js'
import type { BedLocation } from './pcd-segments.js'

/** One message ready to send: the cursor moves to `toSeq` of `dest` after AA. */
export interface Outgoing {
  readonly dest: string
  readonly bedId: string
  readonly controlId: string
  readonly text: string
  readonly fromSeq: number
  readonly toSeq: number
}

/** Nothing to send but records the cursor may pass (no patient, nothing valid). */
export interface Skip { readonly dest: string; readonly skipTo: number }

export interface PcdSource {
  /** The oldest message not yet acknowledged, a skip, or null (nothing due at `nowMs`). */
  next(nowMs: number): Outgoing | Skip | null
  /** Records waiting for this destination and the hub time of the oldest (for /metrics and `queue`). */
  depth(nowMs: number): { n: number; oldestMs: number | null }
}

interface Header { sendingApplication: string; sendingFacility: string; receivingApplication: string; receivingFacility: string }
type Hl7 = NonNullable<Config['hl7']>

export function headerOf(cfg: Config, out: NonNullable<Hl7['results'] | Hl7['alarms']>): Header {
  return {
    sendingApplication: out.sending_application ?? cfg.hub.id, sendingFacility: cfg.hub.site,
    receivingApplication: out.receiving_application, receivingFacility: out.receiving_facility ?? '',
  }
}

/** The bed's PV1-3: its entry in hl7.adt.locations (the most specific one), else hub ^ ^ bed id. */
export function locationOf(cfg: Config, bedId: string): BedLocation {
  const entries = (cfg.hl7?.adt?.locations ?? []).filter((l) => l.bed_id === bedId)
  const best = entries.find((l) => l.bed) ?? entries.find((l) => l.room) ?? entries[0]
  return best ? { pointOfCare: best.point_of_care, room: best.room ?? '', bed: best.bed ?? '' } : { pointOfCare: cfg.hub.id, room: '', bed: bedId }
}

type ObsRow = [hubSeq: number, admissionId: number | null, code: number, value: number | null, unit: string | null, deviceId: string | null, deviceTimeMs: number | null, hubTimeMs: number, quality: number | null, kind: number, body: Buffer | null, n: number, items: Buffer | null]
/** Questionable and re-timed values are charted as unverified (OBX-11 R); any other flag keeps a value out. */
const CHARTABLE_FLAGS = Quality.QUESTIONABLE | Quality.RETIMED
/** Records are committed within a group-commit interval of their hub time; a period is closed this long after its end. */
const CLOSE_GRACE_MS = 2_000
/**
 * A destination whose bed (or the ward) has nothing for it moves its cursor over the other records
 * once this many lie behind it: every look is a range scan from the cursor, and a bed without a
 * device for a week must not make each look read the week. (A skip is a write; not on every look.)
 */
const SKIP_IDLE_RECORDS = 1_000
/** The newest record's hub_seq: a run row's last, so a skip never leaves a cursor inside a run. */
const LAST_SEQ = 'SELECT hub_seq + n - 1 AS s FROM records ORDER BY hub_seq DESC LIMIT 1'

export class ResultsSource implements PcdSource {
  private readonly firstAfter: Statement<[string, number, number], ObsRow>
  private readonly after: Statement<[string, number, number], ObsRow>
  private readonly maxSeq: Statement<[], { s: number | null }>
  private readonly waiting: Statement<[string, number], { n: number; oldest: number | null }>
  private readonly periodMs: number
  private turn = 0

  constructor(db: Db, private readonly cfg: Config, private readonly cursors: Hl7Cursors, private readonly admissions: Admissions, private readonly durableSeq: () => number = () => Number.MAX_SAFE_INTEGER) {
    const cols = 'hub_seq, admission_id, code, value, unit, device_id, device_time_ms, hub_time_ms, quality, kind, body, n, items'
    // Only durable records leave the gateway (store/wal-fsync.ts): the bound is the committer's durableSeq.
    this.firstAfter = db.prepare<[string, number, number], ObsRow>(`SELECT ${cols} FROM records WHERE bed_id = ? AND kind = 1 AND hub_seq > ? AND hub_seq <= ? ORDER BY hub_seq LIMIT 1`).raw(true)
    // Observations and the bed's audit records: a `results-requested` one ends the message early (on demand).
    this.after = db.prepare<[string, number, number], ObsRow>(`SELECT ${cols} FROM records WHERE bed_id = ? AND kind IN (1, 4) AND hub_seq > ? AND hub_seq <= ? ORDER BY hub_seq`).raw(true)
    this.maxSeq = db.prepare(LAST_SEQ)
    this.waiting = db.prepare('SELECT COALESCE(SUM(n), 0) AS n, MIN(hub_time_ms) AS oldest FROM records WHERE bed_id = ? AND kind = 1 AND hub_seq > ?')
    this.periodMs = cfg.hl7!.results!.period_s * 1000
  }

  /** Beds in turn, so that one bed's backlog does not hold the others' charting back for long. */
  next(nowMs: number): Outgoing | Skip | null {
    const beds = this.cfg.beds
    for (let i = 0; i < beds.length; i++) {
      const bed = beds[(this.turn + i) % beds.length]!.id
      const out = this.nextOf(bed, nowMs)
      if (out) {
        this.turn = (this.turn + i + 1) % beds.length
        return out
      }
    }
    return null
  }

  nextOf(bedId: string, nowMs: number): Outgoing | Skip | null {
    const dest = `results/${bedId}`
    const cursor = this.cursors.get(dest)
    const durable = this.durableSeq()
    const first = this.firstAfter.get(bedId, cursor, durable)
    if (!first) return idleSkip(dest, cursor, this.maxSeq.get()?.s ?? null, durable)
    let endMs = (Math.floor(first[7] / this.periodMs) + 1) * this.periodMs
    const admissionId = first[1]
    let toSeq = cursor
    let requested = false
    const latest = new Map<number, ChartedValue>()
    // Read in hub_seq order up to the first record of a later period or another admission (one
    // patient per message), or a request for the results now after the first value: a scan
    // bounded by one period, whatever the backlog behind it.
    for (const r of this.after.iterate(bedId, cursor, durable)) {
      if (r[9] === 4) {
        // A request ends the message at itself, also one that came just after the period closed
        // (the first record past it): the nurse gets the answer now, not at the next look.
        if (r[0] > first[0] && isResultsRequest(r)) {
          toSeq = r[0]
          endMs = r[7]
          requested = true
          break
        }
        if (r[7] >= endMs) break
        continue
      }
      if (r[7] >= endMs) break
      if (r[1] !== admissionId) break
      // A run row (issue 23) is one message's observations with one hub time and admission: it
      // goes into the message whole, item by item in hub_seq order, as its rows would have.
      toSeq = r[0] + r[11] - 1
      if (r[12] === null) chart(latest, r[2], r[3], r[4], r[5], r[6], r[7], r[8])
      else chartRun(latest, r)
    }
    if (!requested && nowMs < endMs + CLOSE_GRACE_MS) return null
    const admission = admissionId === null ? undefined : this.admissions.get(admissionId)
    if (!admission || latest.size === 0) return { dest, skipTo: toSeq }
    const controlId = `R${toSeq}`
    const text = buildPcd01({
      header: { ...headerOf(this.cfg, this.cfg.hl7!.results!), controlId, timeMs: endMs },
      hubId: this.cfg.hub.id, admission, location: locationOf(this.cfg, bedId),
      fromMs: Math.floor(first[7] / this.periodMs) * this.periodMs, toMs: endMs, values: [...latest.values()].sort((a, b) => a.code - b.code),
    })
    return { dest, bedId, controlId, text, fromSeq: cursor + 1, toSeq }
  }

  depth(): { n: number; oldestMs: number | null } {
    let n = 0
    let oldestMs: number | null = null
    for (const b of this.cfg.beds) {
      const w = this.waiting.get(b.id, this.cursors.get(`results/${b.id}`))!
      n += w.n
      if (w.oldest !== null && (oldestMs === null || w.oldest < oldestMs)) oldestMs = w.oldest
    }
    return { n, oldestMs }
  }
}

type AlarmRow = [hubSeq: number, bedId: string | null, admissionId: number | null, deviceId: string | null, hubTimeMs: number, body: Buffer | null]

export class AlarmsSource implements PcdSource {
  private readonly nextAlarm: Statement<[number, number], AlarmRow>
  private readonly maxSeq: Statement<[], { s: number | null }>
  private readonly waiting: Statement<[number], { n: number; oldest: number | null }>

  constructor(db: Db, private readonly cfg: Config, private readonly cursors: Hl7Cursors, private readonly admissions: Admissions, private readonly durableSeq: () => number = () => Number.MAX_SAFE_INTEGER) {
    this.nextAlarm = db.prepare<[number, number], AlarmRow>('SELECT hub_seq, bed_id, admission_id, device_id, hub_time_ms, body FROM records WHERE kind = 3 AND hub_seq > ? AND hub_seq <= ? ORDER BY hub_seq LIMIT 1').raw(true)
    this.waiting = db.prepare('SELECT COUNT(*) AS n, MIN(hub_time_ms) AS oldest FROM records WHERE kind = 3 AND hub_seq > ?')
    this.maxSeq = db.prepare(LAST_SEQ)
  }

  next(): Outgoing | Skip | null {
    const cursor = this.cursors.get('alarms')
    const durable = this.durableSeq()
    const row = this.nextAlarm.get(cursor, durable)
    if (!row) return idleSkip('alarms', cursor, this.maxSeq.get()?.s ?? null, durable)
    const [hubSeq, bedId, admissionId, deviceId, , body] = row
    let alarm
    try {
      alarm = readAlarmBody(body ?? Buffer.alloc(0))
    } catch {
      return { dest: 'alarms', skipTo: hubSeq } // unreadable body: the sync's dead letter has it (dead-letter.ts)
    }
    const bed = bedId ?? ''
    const admission: Admission | undefined = admissionId === null ? undefined : this.admissions.get(admissionId)
    const controlId = `A${hubSeq}`
    const text = buildPcd04({
      header: { ...headerOf(this.cfg, this.cfg.hl7!.alarms!), controlId, timeMs: alarm.atMs || row[4] },
      hubId: this.cfg.hub.id, admission, bedId: bed, location: locationOf(this.cfg, bed), alarm, deviceId,
    })
    return { dest: 'alarms', bedId: bed, controlId, text, fromSeq: hubSeq, toSeq: hubSeq }
  }

  depth(): { n: number; oldestMs: number | null } {
    const w = this.waiting.get(this.cursors.get('alarms'))!
    return { n: w.n, oldestMs: w.oldest }
  }
}

/** One observation into the message's latest values, when it is chartable. */
function chart(latest: Map<number, ChartedValue>, code: number, value: number | null, unit: string | null, deviceId: string | null, deviceTimeMs: number | null, hubTimeMs: number, quality: number | null): void {
  const q = quality ?? 0
  if (value === null || !Number.isFinite(value) || (q & ~CHARTABLE_FLAGS) !== 0) return
  latest.delete(code) // keep the order of the newest values
  latest.set(code, { code, value, unit, deviceId, timeMs: deviceTimeMs ?? hubTimeMs, final: q === 0 })
}

function isResultsRequest(r: ObsRow): boolean {
  try {
    return r[10] !== null && readAuditBody(r[10], r[7]).action === AuditAction.RESULTS_REQUESTED
  } catch {
    return false // an unreadable audit body is the sync's dead letter's business
  }
}

/**
 * Nothing for `dest` after its cursor: pass over the records behind it once there are many. Safe
 * without a transaction: records are committed by this process's event loop, which is not running
 * while this synchronous look reads the store, so no record of `dest` can land at or below `maxSeq`
 * afterwards (hub_seq only grows).
 */
/** `durable` ends a commit, so it never falls inside a run row either. */
function idleSkip(dest: string, cursor: number, maxSeq: number | null, durable: number): Skip | null {
  const to = maxSeq === null ? null : Math.min(maxSeq, durable)
  return to !== null && to - cursor >= SKIP_IDLE_RECORDS ? { dest, skipTo: to } : null
}

/**
 * A run row's items into the chart. A run whose packed items cannot be read (a damaged store page)
 * charts nothing and is passed over: the sync sets the same run aside into the dead letter with its
 * reason, hub_seq by hub_seq, and one unreadable row must not stop this bed's charting for good by
 * throwing at every look. The items are read whole before any is charted, so that none of a
 * damaged run is.
 */
function chartRun(latest: Map<number, ChartedValue>, r: ObsRow): void {
  const items: RunItem[] = []
  try {
    forEachRunItem(r[12]!, (it) => items.push(it)) // a fresh object per item
  } catch (err) {
    if (err instanceof RunItemsError) return
    throw err
  }
  for (const it of items) chart(latest, it.code, it.value, it.unit, r[5], it.deviceTimeMs, r[7], it.quality)
}
