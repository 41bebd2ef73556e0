/**
 * `npm run bench`: runs every bench/*.bench.ts (or those whose name contains argv[2]) and prints
 * `name: value unit  (note)` lines, plus the command that reproduces them.
 */
import { readdirSync } from 'node:fs'
import os from 'node:os'
import type { Bench } from './harness.js'

const filter = process.argv[2] ?? ''
const dir = new URL('.', import.meta.url)
const files = readdirSync(dir).filter((f) => f.endsWith('.bench.ts') && f.includes(filter)).sort()
const cpu = os.cpus()[0]?.model ?? 'unknown cpu'
console.log(`# bedside-hub bench ${new Date().toISOString()} on ${os.cpus().length}× ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}`)
console.log(`# command: npm run bench${filter ? ' -- ' + filter : ''}`)
let failed = 0
for (const file of files) {
  const mod = (await import(new URL(file, dir).href)) as { default: Bench }
  try {
    for (const f of await mod.default()) {
      const v = f.value >= 100 ? Math.round(f.value).toLocaleString('en-US') : f.value.toPrecision(3)
      console.log(`${f.name}: ${v} ${f.unit}${f.note ? `  (${f.note})` : ''}`)
    }
  } catch (err) {
    failed++
    console.log(`${file}: FAILED ${(err as Error).stack ?? err}`)
  }
}
process.exit(failed ? 1 : 0)
