/**
 * Rows → CQL requests: rows of one partition go together in UNLOGGED batches no larger than
 * `maxBytes` (under the 50 KiB batch_size_fail_threshold; SERVICES.md asks for single-partition
 * batches, small). The bound is an estimate from the bound values (rows.ts estimateBytes);
 * test/cloud/deadletter.test.ts writes 48 KiB batches into the real Cassandra. A single-partition unlogged batch is applied
 * atomically by the replica and needs no batchlog, so it is one mutation, not a coordinator fan-out.
 * Pure.
 */
import type { RowWrite } from './rows.js'

export interface CqlRequest {
  /** One row, or several rows of one partition sent as one UNLOGGED batch. */
  readonly rows: RowWrite[]
  readonly bytes: number
}

/** Groups by partition in arrival order; a row larger than maxBytes travels alone. */
export function toRequests(rows: readonly RowWrite[], maxBytes: number): CqlRequest[] {
  const open = new Map<string, { rows: RowWrite[]; bytes: number }>()
  const out: CqlRequest[] = []
  for (const r of rows) {
    let cur = open.get(r.partition)
    if (cur && cur.bytes + r.bytes > maxBytes) {
      out.push(cur)
      cur = undefined
    }
    if (!cur) {
      cur = { rows: [], bytes: 0 }
      open.set(r.partition, cur)
    }
    cur.rows.push(r)
    cur.bytes += r.bytes
  }
  for (const cur of open.values()) out.push(cur)
  return out
}
