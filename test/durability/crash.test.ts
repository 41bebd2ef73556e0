/**
 * Crash consistency on real components (crash-loop.ts): a 64-bed ward publishing over MQTT QoS 1
 * while the agent is killed with SIGKILL at random moments and restarted each time (20 kills;
 * BEDSIDE_CRASH_KILLS=100 in `npm run soak`). The store here keeps a row per observation
 * (`store.observation_runs: off`, the fallback); crash-runs.test.ts is the same loop with run rows,
 * the default.
 */
import { crashLoopTest } from './crash-loop.js'

const BEDS = 64
const KILLS = Number(process.env.BEDSIDE_CRASH_KILLS ?? 20)

crashLoopTest({
  name: 'crash',
  title: `durability: ${KILLS} SIGKILLs under a ${BEDS}-bed load lose no acknowledged record and duplicate none`,
  beds: BEDS,
  kills: KILLS,
  observationRuns: 'off',
})
