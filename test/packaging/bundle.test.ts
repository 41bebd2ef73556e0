/**
 * The agent runs from one bundle (scripts/bundle.mjs): dist/agent/cli.js and its chunks hold the
 * agent and its pure-JavaScript dependencies, minified without renaming. What may stay outside is
 * only what must: Node's own modules, the native modules, the cloud writer. `npm test` builds dist/.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

const AGENT = fileURLToPath(new URL('../../dist/agent/', import.meta.url))
const NATIVE = /^(better-sqlite3|serialport|@serialport\/[\w-]+|@stoprocent\/[\w-]+|bindings)$/
const BUILTIN = new Set(builtinModules)
/** ws's optional native speed-ups, required inside a try: absent here, as they may be. */
const OPTIONAL = new Set(['bufferutil', 'utf-8-validate'])

function bundleFiles(): { name: string; text: string }[] {
  assert.ok(existsSync(join(AGENT, 'cli.js')), 'dist/ is missing: run `npm run build` (npm test does) before this test')
  return ['cli.js', ...readdirSync(AGENT).filter((f) => f.startsWith('bundle-') && f.endsWith('.js'))].map((name) => ({ name, text: readFileSync(join(AGENT, name), 'utf8') }))
}

test('bundle: every import of the agent is a chunk of the bundle, a Node module, a native module or the cloud writer', () => {
  const files = bundleFiles()
  assert.ok(files.length > 10, `the build is not bundled: ${files.length} files`)
  const outside = new Set<string>()
  for (const { name, text } of files) {
    // `from"x"`, `import"x"` and `import("x")` (esbuild's spelling, no blanks), and esbuild's
    // `__require("x")` for a require() of CommonJS it left to run time
    for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*|\b__require\()"((?:[@\w]|\.\.?\/)[@\w./:-]*)"/g)) {
      const spec = m[1]!
      if (spec.startsWith('./bundle-') || spec === '../cloud/cli.js' || spec.startsWith('node:') || BUILTIN.has(spec) || NATIVE.test(spec) || OPTIONAL.has(spec)) continue
      outside.add(`${spec} (in ${name})`)
    }
  }
  assert.deepEqual([...outside], [], 'imports left outside the bundle')
})

test('bundle: names are kept without esbuild\'s keepNames helper, and the bundle runs', () => {
  const all = bundleFiles().map((f) => f.text).join('\n')
  // Error messages, logs and stack traces name these; minifying identifiers would rename them.
  for (const name of ['GroupCommitter', 'KeyWindow', 'decodeObsPayload']) {
    assert.match(all, new RegExp(`\\b(class|function)\\s+${name}\\b|\\b${name}\\s*=\\s*(class|function)\\b`), `${name} is not defined under its name in the bundle`)
  }
  // keepNames' helper defines `name` on every function object made, per-message closures included:
  // the 64-bed ward's RSS went up 22 MB with it (scripts/bundle.mjs).
  assert.doesNotMatch(all, /"name",\s*\{\s*value(:\s*\w+)?,\s*configurable:\s*(!0|true)\s*\}/, 'esbuild\'s keepNames helper is in the bundle')
  const out = execFileSync(process.execPath, [join(AGENT, 'cli.js'), '--version'], { encoding: 'utf8' })
  assert.match(out, /^bedside-hub \d+\.\d+\.\d+/)
})
