/**
 * packaging/config.example.yaml is the documentation of the config (DESIGN.md, Config): as shipped
 * it must be valid, with every switched-off setting switched on it must still be valid, and it
 * must show every key the schema (agent/config.ts) accepts, so a new key without documentation
 * fails here.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import YAML from 'yaml'
import type { z } from 'zod'
import { configSchema, parseConfig } from '../../agent/config.js'
import { schemaPaths } from '../support/config-paths.js'
import { REPO, run, uncommentExample } from './support.js'

const exampleText = readFileSync(join(REPO, 'packaging/config.example.yaml'), 'utf8')
const fullDoc = () => YAML.parse(uncommentExample(exampleText)) as unknown

/** Documented alternatives: only one may be set, the other is named in a comment. */
const ALTERNATIVES: Record<string, RegExp> = {
  'cloud.kafka.sasl.password': /`password: "\.\.\."`/,
}

function docPaths(value: unknown, prefix: string, out: Set<string>): void {
  if (Array.isArray(value)) for (const v of value) docPaths(v, `${prefix}[]`, out)
  else if (value && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      const path = prefix ? `${prefix}.${key}` : key
      out.add(path)
      docPaths(child, path, out)
    }
  }
}

test('packaging: the example config is valid as shipped and with every setting switched on', () => {
  const shipped = parseConfig(YAML.parse(exampleText), 'config.example.yaml')
  assert.equal(shipped.beds.length, 0, 'as shipped the ward is empty: no device is contacted before IT configures one')
  assert.equal(shipped.cloud, undefined)
  const full = parseConfig(fullDoc(), 'config.example.yaml (all on)')
  assert.ok(full.beds.length > 0 && full.cloud)
  assert.ok(full.rules && full.rules.set.length > 0, 'the rules example is valid and parsed with the config')
})

test('packaging: the example config shows every key of the schema', () => {
  const wanted = new Set<string>()
  schemaPaths(configSchema, '', wanted)
  const shown = new Set<string>()
  docPaths(fullDoc(), '', shown)
  const missing = [...wanted].filter((p) => !shown.has(p) && !(ALTERNATIVES[p]?.test(exampleText)))
  assert.deepEqual(missing, [], `keys accepted by agent/config.ts but not shown in packaging/config.example.yaml: ${missing.join(', ')}`)
  assert.ok(wanted.size > 40, `the schema walk found ${wanted.size} keys`)
})

test('packaging: every device type of the schema has an example device', () => {
  const types = new Set<string>()
  for (const option of (configSchema.innerType().shape.beds._def.innerType.element.shape.devices._def.innerType.element as z.ZodDiscriminatedUnion<'type', z.ZodObject<{ type: z.ZodTypeAny }>[]>).options) {
    const t = option.shape.type._def as { value?: string; values?: string[] }
    for (const v of t.values ?? [t.value!]) types.add(v)
  }
  const cfg = parseConfig(fullDoc())
  const shown = new Set(cfg.beds.flatMap((b) => b.devices.map((d) => d.type)))
  assert.deepEqual([...types].filter((t) => !shown.has(t as never)), [])
})

test('packaging: config check reports the config and the rules errors together, each with its path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bedside-cfg-'))
  const file = join(dir, 'bad.yaml')
  writeFileSync(file, 'hub: { id: w, site: s, data_dir: /tmp/x }\nhttp: { listen: "localhost" }\nrules:\n  set:\n    - { id: hr-high, limit: "high" }\n', { mode: 0o600 })
  const r = run(process.execPath, ['--import', 'tsx', 'agent/cli.ts', 'config', 'check', file])
  rmSync(dir, { recursive: true, force: true })
  assert.equal(r.status, 1)
  assert.match(r.stderr, /^ {2}- http\.listen: must be "host:port"/m)
  assert.match(r.stderr, /^ {2}- rules\.set\[0\]\.limit: rule "hr-high" field "limit": Expected number/m)
})

test('packaging: run --config names a bad rule by its path, like config check (one schema, one message)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bedside-cfg-'))
  const file = join(dir, 'bad-rule.yaml')
  writeFileSync(file, `hub: { id: w, site: s, data_dir: ${join(dir, 'data')} }\nrules:\n  set:\n    - { id: hr-high, limit: "high" }\n`, { mode: 0o600 })
  const r = run(process.execPath, ['--import', 'tsx', 'agent/cli.ts', 'run', '--config', file])
  rmSync(dir, { recursive: true, force: true })
  assert.equal(r.status, 2, r.stderr)
  assert.match(r.stderr, /rules\.set\[0\]\.limit: rule "hr-high" field "limit": Expected number/)
  assert.doesNotMatch(r.stderr, /ZodError|"issues"/)
})
