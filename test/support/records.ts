/**
 * The store's records as tests read them: one row per hub_seq, whatever the store holds.
 *
 * With run rows (issue 23, `store.observation_runs: per-message`, the default) one `records` row
 * may cover n consecutive hub_seqs, its observations packed in `items`. A test that counts or
 * reads observations with SQL reads the virtual table `record_view` instead of `records`: the
 * same columns, a row per record, expanded by the outbox's own `forEachRecord` (the reader the
 * sync uses), so a test sees what the store would send, not a second decoding of the rows.
 */
import Database from 'better-sqlite3'
import { forEachRecord, type OutboxRow } from '../../agent/store/outbox.js'

/** The per-record columns of `records` (OutboxRow order, without the run's n and items). */
const COLUMNS = ['hub_seq', 'kind', 'bed_id', 'device_id', 'admission_id', 'code', 'value', 'unit', 'device_time_ms', 'hub_time_ms', 'device_seq', 'quality', 'body', 't0_us']

/**
 * Opens the store at `file` with a `record_view` virtual table over its records, in hub_seq
 * order. `records` itself stays readable (row-level checks: n, items). The view reads through a
 * second read-only connection, because better-sqlite3 runs no query on a connection inside one of
 * its own; closing the returned database closes both.
 */
export function openRecordView(file: string, options: Database.Options = {}): Database.Database {
  const db = new Database(file, options)
  const source = new Database(file, { readonly: true, fileMustExist: true })
  const read = source.prepare(`SELECT ${COLUMNS.join(', ')}, n, items FROM records ORDER BY hub_seq`).raw(true)
  db.table('record_view', {
    columns: COLUMNS,
    *rows() {
      for (const row of read.iterate() as IterableIterator<OutboxRow>) {
        const records: unknown[][] = []
        // forEachRecord reuses its array between calls: keep copies.
        forEachRecord(row, (r) => records.push(r.slice(0, COLUMNS.length)))
        yield* records
      }
    },
  })
  const close = db.close.bind(db)
  db.close = () => {
    source.close()
    return close()
  }
  return db
}
