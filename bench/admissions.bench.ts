/**
 * admissions (issue 18): what sealing MRN, name and birth date at rest costs. Admitting is one
 * durable transaction (synchronous=FULL, so an fsync) with three AES-256-GCM seals; reading a past
 * admission from the store opens three fields. The ingest path never does either: it reads the
 * current admission of a bed from memory (pipeline bench).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Admissions } from '../agent/store/admissions.js'
import { openDatabase } from '../agent/store/db.js'
import type { BenchFigure } from './harness.js'

const N = 2000
const BEDS = 64

export default async function bench(): Promise<BenchFigure[]> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-adm-'))
  const db = openDatabase(dir)
  const a = new Admissions(db)
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < N; i++) a.admit(`bed-${i % BEDS}`, `MRN-${100000 + i}`, `Patient Name ${i}`, '1950-01-01', 1000 + i)
  const admitS = Number(process.hrtime.bigint() - t0) / 1e9
  // Past admissions come from the store (the in-memory map holds only current ones): the sync path's lookup.
  const t1 = process.hrtime.bigint()
  let found = 0
  for (let round = 0; round < 5; round++) {
    const fresh = new Admissions(db) // each past admission read once per round: every lookup goes to the store
    for (let id = 1; id <= N - BEDS; id++) if (fresh.get(id)) found++
  }
  const getS = Number(process.hrtime.bigint() - t1) / 1e9
  const t2 = process.hrtime.bigint()
  for (let round = 0; round < 5; round++) new Admissions(db)
  const startS = (Number(process.hrtime.bigint() - t2) / 1e9) / 5
  db.close()
  rmSync(dir, { recursive: true, force: true })
  return [
    { name: 'admissions.admit', value: N / admitS, unit: 'admissions/s', note: `${((admitS / N) * 1e6).toFixed(0)} µs each, one durable transaction per admission, ${BEDS} beds` },
    { name: 'admissions.get-past', value: found / getS, unit: 'lookups/s', note: `${((getS / found) * 1e6).toFixed(1)} µs each, a discharged admission read from the store` },
    { name: 'admissions.load-current', value: startS * 1000, unit: 'ms', note: `${BEDS} current admissions of ${N} read at start` },
  ]
}
