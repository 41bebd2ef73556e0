/**
 * Benchmark contract: every `bench/*.bench.ts` default-exports a function returning figures.
 * `npm run bench` (bench/run.ts) runs them in one process, one after another, and prints each
 * figure with its unit and the command that reproduces it.
 */
export interface BenchFigure {
  /** Scenario name, e.g. `decode.hrs`, `pipeline.commit`. */
  readonly name: string
  readonly value: number
  /** Unit, e.g. `records/s`, `ms`, `MB`. */
  readonly unit: string
  /** Free-form context: batch size, goal, ratio to the raw limit. */
  readonly note?: string
}

export type Bench = () => Promise<BenchFigure[]>

/** Runs `fn` repeatedly for at least `minMs` and returns operations per second. */
export function opsPerSecond(fn: () => void, opsPerCall: number, minMs = 1000): number {
  for (let i = 0; i < 1000; i++) fn() // warm-up for the JIT
  let calls = 0
  const start = process.hrtime.bigint()
  let elapsedNs = 0n
  const minNs = BigInt(minMs) * 1_000_000n
  while (elapsedNs < minNs) {
    for (let i = 0; i < 100; i++) fn()
    calls += 100
    elapsedNs = process.hrtime.bigint() - start
  }
  return (calls * opsPerCall) / (Number(elapsedNs) / 1e9)
}
