/**
 * The mqtt-packet patch (patches/mqtt-packet+9.0.2.patch, applied by patch-package at npm ci):
 * debug 4 allocates the arguments of every debug() call and runs its `enabled` getter even when
 * the namespace is off, dozens of calls per packet (3.5 KB of garbage per PUBLISH in the 100-obs
 * heap profile, BENCHMARKS.md issue 23). The patch binds a no-op unless DEBUG enables the namespace
 * at start. Checked in child processes: a PUBLISH still generates and parses, nothing is logged
 * without DEBUG, and with DEBUG the library's own log still comes.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import test from 'node:test'

const require = createRequire(import.meta.url)

const ROUND_TRIP = `
const mqtt = require('mqtt-packet')
const packet = { cmd: 'publish', topic: 'bedside/v1/devices/mon-1/obs', payload: Buffer.from('{"ts":1,"obs":[]}'), qos: 1, messageId: 7, retain: false, dup: false }
const parser = mqtt.parser({ protocolVersion: 4 })
let got = null
parser.on('packet', (p) => (got = p))
parser.parse(mqtt.generate(packet))
process.stdout.write(JSON.stringify({ topic: got.topic, messageId: got.messageId, payload: got.payload.toString() }))
`

function roundTrip(debug?: string): { stdout: string; stderr: string } {
  const { DEBUG: _, ...env } = process.env
  const r = spawnSync(process.execPath, ['-e', ROUND_TRIP], { env: { ...env, DEBUG_COLORS: 'no', ...(debug ? { DEBUG: debug } : {}) }, encoding: 'utf8' })
  assert.equal(r.status, 0, r.stderr)
  return { stdout: r.stdout, stderr: r.stderr }
}

test('mqtt-packet patch: applied (npm ci runs patch-package)', () => {
  for (const file of ['mqtt-packet/parser.js', 'mqtt-packet/writeToStream.js']) {
    assert.match(readFileSync(require.resolve(file), 'utf8'), /bedside-hub patch: debug 4/, `node_modules/${file} is unpatched: run \`npx patch-package\``)
  }
})

test('mqtt-packet patch: a PUBLISH still generates and parses; without DEBUG nothing is logged, with DEBUG the library still logs', () => {
  const expected = { topic: 'bedside/v1/devices/mon-1/obs', messageId: 7, payload: '{"ts":1,"obs":[]}' }
  const quiet = roundTrip()
  assert.deepEqual(JSON.parse(quiet.stdout), expected)
  assert.equal(quiet.stderr, '', 'no debug output without DEBUG')
  const loud = roundTrip('mqtt-packet:*')
  assert.deepEqual(JSON.parse(loud.stdout), expected)
  assert.match(loud.stderr, /mqtt-packet:parser/, 'DEBUG at start still enables the parser\'s log')
  assert.match(loud.stderr, /mqtt-packet:writeToStream/, 'and the writer\'s')
})
