/**
 * Young-generation allocation per observation of the `/obs` decoder, the byte scanner (the
 * default path, drivers/mqtt/obs-scan.ts) against the general path (JSON.parse) it short-cuts, on
 * the bench publisher's messages (issue 23, BENCHMARKS.md session 7). Scavenges × the semi-space,
 * so the semi-space must be pinned:
 *   node --min-semi-space-size=4 --max-semi-space-size=4 --import tsx bench/decode-alloc.ts
 * (not a *.bench.ts: `npm run bench` cannot pin it; mqtt.decode-obs there gives the speed).
 */
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks'
import { decodeObsGeneral, decodeObsPayload } from '../drivers/mqtt/payload.js'
import type { Observation } from '../drivers/records.js'

const SEMI_SPACE_BYTES = 4 * 1024 * 1024
let scavenges = 0
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if ((e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) scavenges++
}).observe({ entryTypes: ['gc'] })
const turn = () => new Promise((r) => setImmediate(r))

for (const n of [100, 1]) {
  const items = Array.from({ length: n }, (_, k) => ({ code: k % 2 ? 'MDC_PULS_OXIM_SAT_O2' : 'MDC_ECG_HEART_RATE', value: k % 2 ? 97 : 76.5, unit: k % 2 ? '%' : '/min' }))
  const payload = Buffer.from(JSON.stringify({ ts: 1_796_000_000_000, seq: 12_345, obs: items }))
  const ctx = { deviceId: 'bench-mon', hubTimeMs: 1_796_000_000_100, nextSeq: 1 }
  const out: Observation[] = []
  // twice each, alternated: the first rounds warm the JIT
  for (const [name, decode] of [['general', decodeObsGeneral], ['scanner', decodeObsPayload], ['general', decodeObsGeneral], ['scanner', decodeObsPayload]] as const) {
    const messages = Math.ceil(4_000_000 / n)
    await turn()
    await turn()
    const s0 = scavenges
    for (let i = 0; i < messages; i++) {
      out.length = 0
      decode(payload, ctx, out)
    }
    await turn()
    await turn()
    console.log(`decode-alloc.${n}.${name}: ${Math.round(((scavenges - s0) * SEMI_SPACE_BYTES) / (messages * n))} B per observation  (${scavenges - s0} scavenges of ${SEMI_SPACE_BYTES / 1048576} MB over ${messages * n} observations, ${n} obs/message)`)
  }
}
