/**
 * crash.test.ts with run rows (issue 23, `store.observation_runs: per-message`, the default): each
 * device message carries 50 observations, committed as one run row, while the agent is killed with
 * SIGKILL at random moments (mid-commit, mid-sync) and restarted (8 kills;
 * BEDSIDE_CRASH_RUNS_KILLS). The loop and its checks: crash-loop.ts.
 */
import assert from 'node:assert/strict'
import { crashLoopTest } from './crash-loop.js'

const BEDS = 32
const KILLS = Number(process.env.BEDSIDE_CRASH_RUNS_KILLS ?? 8)

crashLoopTest({
  name: 'crashruns',
  title: `durability, run rows: ${KILLS} SIGKILLs under a ${BEDS}-bed load of 50-observation messages lose no acknowledged record and duplicate none`,
  beds: BEDS,
  kills: KILLS,
  perMessage: 50,
  observationRuns: 'per-message',
  requireResends: false,
  checkStore: (db) => {
    const runRows = db.prepare('SELECT COUNT(*) AS k, SUM(n) AS records FROM records WHERE n > 1').get() as { k: number; records: number }
    console.log(`# crash loop (run rows), store: ${runRows.k} rows holding ${runRows.records} observations`)
    assert.ok(runRows.k > 0 && runRows.records >= runRows.k * 40, 'the messages were stored as run rows')
  },
})
