/**
 * Test utility: reads the BIDMC CSV form (shared/data/README.md §2.1). Columns are chosen by header
 * name because their order differs between records; ECG amplitudes are normalised, dimensionless
 * values (clipping at about −0.5 / +1.5), scaled here by 1000 so that one unit reads as 1 mV.
 */
import { readFileSync } from 'node:fs'

export const BIDMC_RATE_HZ = 125

function readCsv(path: string): { header: string[]; rows: string[][] } {
  const lines = readFileSync(path, 'utf8').split(/\r?\n/).filter((l) => l.trim() !== '')
  const header = (lines[0] ?? '').split(',').map((h) => h.trim())
  return { header, rows: lines.slice(1).map((l) => l.split(',').map((c) => c.trim())) }
}

/** One ECG lead of `bidmc_NN_Signals.csv` as integer "µV" (normalised unit × 1000). */
export function readBidmcLead(dir: string, record: string, lead: string): Int32Array {
  const { header, rows } = readCsv(`${dir}/bidmc_${record}_Signals.csv`)
  const col = header.indexOf(lead)
  if (col < 0) throw new Error(`bidmc_${record}: no lead ${lead} in ${header.join(',')}`)
  const out = new Int32Array(rows.length)
  rows.forEach((r, i) => {
    const v = Number(r[col])
    out[i] = Number.isFinite(v) ? Math.round(v * 1000) : 0
  })
  return out
}

/** The monitor's 1 Hz HR column of `bidmc_NN_Numerics.csv` (NaN rows kept as NaN). */
export function readBidmcMonitorHr(dir: string, record: string): Float64Array {
  const { header, rows } = readCsv(`${dir}/bidmc_${record}_Numerics.csv`)
  const col = header.indexOf('HR')
  return Float64Array.from(rows, (r) => Number(r[col]))
}

export function median(values: ArrayLike<number>): number {
  const s = Array.from(values).filter(Number.isFinite).sort((a, b) => a - b)
  return s.length === 0 ? NaN : s[s.length >> 1]!
}
