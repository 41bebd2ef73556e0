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
import mqtt from 'mqtt'
import WebSocket from 'ws'
import { recordBuiltins, startAgentProcess, tempDir, VIEWER_AUTH, waitFor } from '../support/agent-process.js'

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

test('bundle: an agent without TLS never loads node:tls, https, http2 or zlib, nor makes an Intl formatter, through a device, an alarm, the API and the WebSocket', async () => {
  // They cost a ward a few MB of resident memory (scripts/bundle.mjs); dependencies require() them at
  // load for features the agent uses only with TLS, or never. (dns, also deferred, is not checked:
  // fastify's listen looks the host up with it.) Node's list of the builtins it loaded is written by
  // a preloaded module when the agent exits.
  const builtins = recordBuiltins(tempDir('builtins'))
  const agent = await startAgentProcess(
    { beds: [{ id: 'b-01', devices: [{ id: 'b-mon', type: 'mqtt', secret: 'b-mon-secret-1' }] }] },
    undefined,
    builtins.env,
  )
  try {
    const monitor = await mqtt.connectAsync(agent.mqtt, { username: 'b-mon', password: 'b-mon-secret-1', reconnectPeriod: 0, protocolVersion: 4 })
    // 39.9 °C raises the default temp-high alarm at once
    await monitor.publishAsync('bedside/v1/devices/b-mon/obs', JSON.stringify({ ts: Date.now(), obs: [{ code: 'MDC_TEMP_BODY', value: 39.9, unit: 'Cel' }] }), { qos: 1 })
    await monitor.endAsync()
    await waitFor('the temp-high alarm', async () => ((await (await fetch(`${agent.http}/api/alarms?state=active`, VIEWER_AUTH)).json()) as { alarms: { ruleId: string }[] }).alarms.some((a) => a.ruleId === 'temp-high'), 5000, 50)
    assert.equal((await fetch(`${agent.http}/metrics`, VIEWER_AUTH)).status, 200)
    const ws = new WebSocket(`${agent.http.replace('http', 'ws')}/ws`, { headers: { ...VIEWER_AUTH.headers, origin: agent.http } })
    await new Promise((resolve, reject) => ws.once('message', resolve).once('error', reject))
    ws.close()
  } finally {
    await agent.stop()
  }
  const loaded = new Set((builtins.loaded()).filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length)))
  assert.ok(loaded.has('net') && loaded.has('http'), 'the list of loaded builtins is not what it should be')
  assert.deepEqual(['tls', 'https', 'http2', 'zlib'].filter((m) => loaded.has(m)), [], 'builtins loaded by an agent without TLS')
  // node-cron (housekeeping's schedules) read the local time with Intl.DateTimeFormat before its
  // patch: ICU's locale and time-zone data, about 8 MB resident (BENCHMARKS.md, session 11).
  assert.deepEqual(builtins.intl(), [], 'Intl formatters made by the agent')
})
