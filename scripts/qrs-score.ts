/**
 * Scores the streaming QRS detector on the shared MIT-BIH records, per record and gross, EC57 style
 * (test/signal/ec57.ts: 150 ms, from 05:00), with the missed beats counted by annotation type.
 * Not a test (no thresholds): a measuring tool for tuning and for BENCHMARKS.md.
 *
 *   node --import tsx scripts/qrs-score.ts [--lead 0|1] [--records 100,101,...]
 */
import { existsSync, readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { detectBeats } from '../agent/commands/qrs.js'
import { adcToMicrovolts, decodeFormat212, parseHeader } from '../agent/signal/wfdb.js'
import { ppPercent, readAtr, scoreMisses, sePercent, type Score } from '../test/signal/ec57.js'

const MITDB = new URL('../../shared/data/mitdb/', import.meta.url).pathname
/** MIT annotation codes → mnemonics (WFDB ecgcodes.h), for the miss breakdown. */
const MNEMONIC: Record<number, string> = { 1: 'N', 2: 'L', 3: 'R', 4: 'a', 5: 'V', 6: 'F', 7: 'J', 8: 'A', 9: 'S', 10: 'E', 11: 'j', 12: '/', 13: 'Q', 34: 'e', 38: 'f', 31: '!' }

export function sharedRecords(): string[] {
  return readFileSync(`${MITDB}RECORDS`, 'utf8').split(/\s+/).filter((r) => r && existsSync(`${MITDB}${r}.hea`))
}

export function readLead(rec: string, lead: number): { rateHz: number; samplesUv: Int32Array } {
  const header = parseHeader(readFileSync(`${MITDB}${rec}.hea`, 'latin1'))
  const adc = decodeFormat212(readFileSync(`${MITDB}${rec}.dat`), header.signalCount, lead, header.samplesPerSignal)
  return { rateHz: header.rateHz, samplesUv: adcToMicrovolts(adc, header.signals[lead]!) }
}

export interface RecordScore extends Score {
  readonly record: string
  readonly missedByType: Record<string, number>
}

export function scoreRecord(rec: string, lead = 0): RecordScore {
  const { rateHz, samplesUv } = readLead(rec, lead)
  const { score, missedCodes } = scoreMisses(readAtr(`${MITDB}${rec}`), detectBeats(samplesUv, rateHz), rateHz)
  const missedByType: Record<string, number> = {}
  for (const c of missedCodes) {
    const m = MNEMONIC[c] ?? String(c)
    missedByType[m] = (missedByType[m] ?? 0) + 1
  }
  return { record: rec, ...score, missedByType }
}

export function gross(scores: readonly Score[]): Score {
  return scores.reduce((g, s) => ({ tp: g.tp + s.tp, fn: g.fn + s.fn, fp: g.fp + s.fp }), { tp: 0, fn: 0, fp: 0 })
}

export function formatRow(name: string, s: Score, note = ''): string {
  return `| ${name} | ${s.tp} | ${s.fn} | ${s.fp} | ${sePercent(s).toFixed(2)} | ${ppPercent(s).toFixed(2)} | ${note} |`
}

function main(): void {
  const { values } = parseArgs({ options: { lead: { type: 'string', default: '0' }, records: { type: 'string' } } })
  const records = values.records ? values.records.split(',') : sharedRecords()
  const scores = records.map((r) => scoreRecord(r, Number(values.lead)))
  console.log('| Record | TP | FN | FP | Se % | +P % | missed by type |\n|---|---:|---:|---:|---:|---:|---|')
  for (const s of scores) console.log(formatRow(s.record, s, Object.entries(s.missedByType).map(([k, v]) => `${k} ${v}`).join(', ')))
  const g = gross(scores)
  console.log(formatRow('**gross**', g, `Se ${sePercent(g).toFixed(3)} %, +P ${ppPercent(g).toFixed(3)} %`))
}

if (import.meta.url === `file://${process.argv[1]}`) main()
