/**
 * Read-only access to a store for operator commands (`bedside-hub queue`, `relink`) while the agent
 * runs: a second connection in WAL mode reads a consistent snapshot and never blocks the writer.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { attachCipher, StoreError, type Db } from './db.js'
import { deadLetterReport } from './dead-letter.js'
import { Meta, MetaKey } from './meta.js'

export function openReadOnly(dataDir: string): Db {
  const file = join(dataDir, 'bedside.db')
  if (!existsSync(file)) throw new StoreError('BEDSIDE_ERR_STORE_OPEN', file, `${file}: no store here (has the agent ever run with this data_dir?)`)
  try {
    const db = new Database(file, { readonly: true, fileMustExist: true })
    db.pragma('busy_timeout = 2000')
    attachCipher(db, dataDir) // sealed fields open with the data keys of the same data dir (storeCipher)
    return db
  } catch (err) {
    throw new StoreError('BEDSIDE_ERR_STORE_OPEN', file, `${file}: cannot open read-only: ${(err as Error).message}`, { cause: err })
  }
}

export interface QueueReport {
  cursor: number
  byKind: { kind: number; n: number; oldestMs: number }[]
  total: number
  oldestMs: number | null
  shedWaveforms: number
  lastShed: { atMs: number; count: number; fromSeq: number; toSeq: number } | null
  lastSyncError: { atMs: number; message: string } | null
  /** Records set aside because they can never be encoded (dead-letter.ts), per reason. */
  deadLetter: { reason: string; n: number; lastHubSeq: number; lastAtMs: number }[]
}

export function queueReport(db: Db): QueueReport {
  const cursor = (db.prepare('SELECT hub_seq FROM sync_cursor WHERE id = 1').get() as { hub_seq: number }).hub_seq
  const byKind = (db.prepare('SELECT kind, SUM(n) AS n, MIN(hub_time_ms) AS oldest FROM records WHERE hub_seq > ? GROUP BY kind ORDER BY kind').all(cursor) as { kind: number; n: number; oldest: number }[])
    .map((r) => ({ kind: r.kind, n: r.n, oldestMs: r.oldest }))
  const meta = new Meta(db)
  const json = <T>(key: string): T | null => {
    const v = meta.get(key)
    return v === null ? null : (JSON.parse(v) as T)
  }
  return {
    cursor,
    byKind,
    total: byKind.reduce((a, k) => a + k.n, 0),
    oldestMs: byKind.length ? Math.min(...byKind.map((k) => k.oldestMs)) : null,
    shedWaveforms: meta.number(MetaKey.SHED_WAVEFORMS),
    lastShed: json(MetaKey.LAST_SHED),
    lastSyncError: json(MetaKey.LAST_SYNC_ERROR),
    deadLetter: deadLetterReport(db),
  }
}
