/**
 * Small durable facts kept in the `meta` table next to the records: shed counts, the last sync
 * error, the hub_seq floor. Read by `bedside-hub queue` while the agent runs (WAL readers never block).
 */
import type { Statement } from 'better-sqlite3'
import type { Db } from './db.js'

export const MetaKey = {
  HUB_SEQ_FLOOR: 'hub_seq_floor',
  SHED_WAVEFORMS: 'shed_waveform_chunks',
  REFUSED_RECORDS: 'refused_records',
  LAST_SYNC_ERROR: 'last_sync_error',
  LAST_SHED: 'last_shed',
} as const

export class Meta {
  private readonly getStmt: Statement<[string], { value: string }>
  private readonly setStmt: Statement<[string, string]>

  constructor(db: Db) {
    this.getStmt = db.prepare('SELECT value FROM meta WHERE key = ?')
    this.setStmt = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value')
  }

  get(key: string): string | null {
    return this.getStmt.get(key)?.value ?? null
  }

  set(key: string, value: string): void {
    this.setStmt.run(key, value)
  }

  number(key: string): number {
    const v = this.get(key)
    return v === null ? 0 : Number(v)
  }

  /** Raises a numeric fact to at least `value` (the hub_seq floor never goes down). */
  raise(key: string, value: number): void {
    if (value > this.number(key)) this.set(key, String(value))
  }

  add(key: string, n: number): void {
    this.set(key, String(this.number(key) + n))
  }
}
