import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { ConfigError, loadConfigFile, parseConfig } from '../../agent/config.js'
import { spawnCli, tempDir } from '../support/agent-process.js'

const minimal = { hub: { id: 'ward-3a', site: 'general', data_dir: '/tmp/x' } }

function problems(doc: unknown): string[] {
  try {
    parseConfig(doc)
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`)
    assert.equal(err.code, 'BEDSIDE_ERR_CONFIG')
    return [...err.problems]
  }
  assert.fail('config was accepted')
}

test('config: the essentials of DESIGN.md validate, with defaults filled in and the result frozen', () => {
  const cfg = parseConfig({
    ...minimal,
    http: { listen: '127.0.0.1:8080', tokens: [{ token: 'a-long-token', role: 'nurse' }] },
    mqtt: { listen: '0.0.0.0:1883', insecure: true }, // plain on the ward network: accepted only knowingly (issue 18)
    beds: [{ id: '3a-01', devices: [
      { id: 'mon-3a-01', type: 'mqtt', secret: 'secret-1234' },
      { id: 'patch-3a-01', type: 'polar-pmd', address: 'a0:9e:1a:00:00:01' },
      { id: 'ser-3a-01', type: 'datex', port: '/dev/ttyUSB0' },
    ] }],
    cloud: { kafka: { brokers: ['kafka-1:9093'] } },
  })
  assert.equal(cfg.store.commit_interval_ms, 2)
  assert.equal(cfg.cloud?.kafka.topics.raw_vitals, 'raw-vitals')
  assert.ok(Object.isFrozen(cfg.beds[0]!.devices[0]))
})

test('config: every error is reported at once, each with its path', () => {
  const p = problems({
    hub: { id: 'ward 3a!', site: 'x', data_dir: '/tmp/x', bogus_key: 1 },
    http: { listen: 'nowhere' },
    beds: [
      { id: 'a', devices: [{ id: 'd1', type: 'blex' }] },
      { id: 'b', devices: [{ id: 'd2', type: 'polar-pmd', address: 'not-an-address' }, { id: 'd3', type: 'mqtt', secret: 'short' }] },
    ],
  })
  const text = p.join('\n')
  assert.match(text, /^hub\.id: /m)
  assert.match(text, /^hub\.bogus_key: unknown key "bogus_key"/m)
  assert.match(text, /^http\.listen: must be "host:port"/m)
  assert.match(text, /^beds\[0\]\.devices\[0\]\.type: unknown value, expected one of "mqtt"/m)
  assert.match(text, /^beds\[1\]\.devices\[0\]\.address: must be a BLE address/m)
  assert.match(text, /^beds\[1\]\.devices\[1\]\.secret: must be at least 8 characters/m)
  assert.ok(p.length >= 6, text)
})

test('config: duplicate bed and device ids are named', () => {
  const p = problems({ ...minimal, beds: [
    { id: 'a', devices: [{ id: 'm', type: 'mqtt', secret: '12345678' }] },
    { id: 'a', devices: [{ id: 'm', type: 'mqtt', secret: '12345678' }] },
  ] })
  assert.deepEqual(p, ['beds[1].id: duplicate bed id "a"', 'beds[1].devices[0].id: duplicate device id "m"'])
})

test('config: YAML syntax errors and unreadable files are ConfigErrors naming the file', () => {
  const dir = tempDir('cfg')
  const file = join(dir, 'bad.yaml')
  writeFileSync(file, 'hub: { id: x\n  site: [\n', { mode: 0o600 })
  assert.throws(() => loadConfigFile(file), (e: unknown) => e instanceof ConfigError && e.message.includes(file) && e.problems[0]!.startsWith('YAML:'))
  assert.throws(() => loadConfigFile(join(dir, 'missing.yaml')), (e: unknown) => e instanceof ConfigError && e.problems[0]!.startsWith('cannot read'))
})

test('config: `bedside-hub run` with an invalid config exits 2 and names the field', async () => {
  const dir = tempDir('cfg')
  const file = join(dir, 'bad.yaml')
  writeFileSync(file, `hub: { id: x, site: s, data_dir: ${dir}/d, bogus_key: 1 }\nbeds: [{ id: b, devices: [{ id: d, type: mqtt }] }]\n`, { mode: 0o600 })
  const child = spawnCli(['run', '--config', file])
  assert.equal(await child.exited, 2)
  assert.match(child.output(), /hub\.bogus_key: unknown key/)
  assert.match(child.output(), /beds\[0\]\.devices\[0\]\.secret: Required/)
})
