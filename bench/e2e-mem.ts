/**
 * Memory probe for the e2e bench (BENCH_E2E_MEM=1): preloaded into the agent with `--import`, it
 * samples `process.memoryUsage()` every 50 ms and, at each new RSS peak, the resident size of the process's mappings by kind (`/proc/self/smaps`); at exit it writes the peak
 * sample as JSON to E2E_MEM_OUT. Smaps is read only at a new peak, so the probe costs little once
 * the peak is reached. Issue 23: "measure where the heap goes at peak".
 */
import { readFileSync, writeFileSync } from 'node:fs'

export interface PeakSample {
  /** ms since the probe started. */
  readonly atMs: number
  /** MB (10^6 bytes), as process.memoryUsage() reports them. */
  readonly rssMb: number
  readonly heapTotalMb: number
  readonly heapUsedMb: number
  readonly externalMb: number
  readonly arrayBuffersMb: number
  /** Resident MiB per mapping kind: the binary or library file name, `[heap]` (glibc's main arena), `anon` (V8's heap and the rest). */
  readonly residentMiB: Record<string, number>
}

const mb = (x: number): number => Math.round(x / 1e5) / 10

function residentByMapping(): Record<string, number> {
  const kb: Record<string, number> = {}
  let name = 'anon'
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line)
    if (head) name = head[1] ? head[1].replace(/.*\//, '') : 'anon'
    else if (line.startsWith('Rss:')) kb[name] = (kb[name] ?? 0) + Number(line.slice(4).trim().split(' ')[0])
  }
  return Object.fromEntries(Object.entries(kb).filter(([, v]) => v >= 1024).sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, Math.round(v / 1024)]))
}

const out = process.env.E2E_MEM_OUT
if (out) {
  const t0 = Date.now()
  let peak: PeakSample | null = null
  const timer = setInterval(() => {
    const m = process.memoryUsage()
    if (peak !== null && mb(m.rss) <= peak.rssMb) return
    peak = { atMs: Date.now() - t0, rssMb: mb(m.rss), heapTotalMb: mb(m.heapTotal), heapUsedMb: mb(m.heapUsed), externalMb: mb(m.external), arrayBuffersMb: mb(m.arrayBuffers), residentMiB: residentByMapping() }
  }, 50)
  timer.unref()
  process.on('exit', () => writeFileSync(out, JSON.stringify(peak)))
}
