/**
 * The same detector at 125 Hz on the 8 BIDMC records with waveforms (lead II), against the
 * monitor's 1 Hz HR (shared/data/README.md §2). bidmc_13 is the T-wave trap: a naive detector
 * counts its tall T waves and reads ~133 /min against the monitor's 67.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BIDMC_RATE_HZ, median, readBidmcLead, readBidmcMonitorHr } from './bidmc.js'
import { runAnalyzer, secondsOf } from './feed.js'

const DIR = new URL('../../../shared/data/bidmc/bidmc_csv', import.meta.url).pathname
const RECORDS = ['01', '13', '21', '25', '32', '39', '45', '49']

test('signal: BIDMC lead II at 125 Hz agrees with the monitor HR, bidmc_13 T-wave trap included', () => {
  const lines = ['record  monitor  ours(mean RR)  valid  |err| median  p95  within 5/min']
  for (const rec of RECORDS) {
    const run = runAnalyzer(readBidmcLead(DIR, rec, 'II'), BIDMC_RATE_HZ)
    const monitor = readBidmcMonitorHr(DIR, rec)
    const monitorHr = median(monitor)
    const rr = run.beats.map((b) => b.rrMs).filter(Number.isFinite)
    const ours = 60000 / (rr.reduce((a, b) => a + b, 0) / rr.length) // mean rate: 45 is irregular
    const errors = run.hr
      .filter((o) => o.quality === 0)
      .map((o) => Math.abs(o.value - monitor[Math.round(secondsOf(o.deviceTimeMs))]!))
      .filter(Number.isFinite)
      .sort((a, b) => a - b)
    const within5 = errors.filter((e) => e <= 5).length / errors.length
    lines.push(`${rec.padEnd(7)} ${monitorHr.toFixed(0).padStart(7)} ${ours.toFixed(1).padStart(14)} ${String(errors.length).padStart(6)}  ${(errors.length ? median(errors).toFixed(1) : '-').padStart(12)} ${(errors.length ? errors[Math.floor(errors.length * 0.95)]!.toFixed(1) : '-').padStart(4)}  ${errors.length ? (100 * within5).toFixed(1) + ' %' : '-'}`)
    assert.ok(Math.abs(ours - monitorHr) <= 2, `bidmc_${rec}: ${ours.toFixed(1)} /min against the monitor's ${monitorHr}`)
    if (errors.length > 0) assert.ok(median(errors) <= 5, `bidmc_${rec}: median |HR error| ${median(errors)}`)
  }
  console.log(lines.join('\n'))
})
