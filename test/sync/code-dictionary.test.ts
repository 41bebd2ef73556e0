/**
 * Issue 24: the code dictionary published with the schema is the one table in the code. The files
 * consumers read (proto/bedside/v1/codes.json, docs/codes.md) equal what `bedside-hub codes` prints
 * now; a code added to drivers/codes.ts or an audit action added without regenerating fails here.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { AuditAction } from '../../agent/audit-actions.js'
import { codeDictionary, codeDictionaryJson, codeDictionaryMarkdown } from '../../agent/sync/code-dictionary.js'
import { MDC_TERMS } from '../../drivers/codes.js'

const ROOT = join(import.meta.dirname, '..', '..')
const regenerate = 'regenerate: bedside-hub codes --json > proto/bedside/v1/codes.json; bedside-hub codes --markdown > docs/codes.md'

test('code dictionary: the published JSON and Markdown equal the tables in the code', () => {
  assert.equal(readFileSync(join(ROOT, 'proto/bedside/v1/codes.json'), 'utf8'), codeDictionaryJson(), regenerate)
  assert.equal(readFileSync(join(ROOT, 'docs/codes.md'), 'utf8'), codeDictionaryMarkdown(), regenerate)
})

test('code dictionary: every code once, every audit action, and the CLI prints the published file', () => {
  const d = codeDictionary()
  assert.equal(d.codes.length, MDC_TERMS.length)
  assert.equal(new Set(d.codes.map((c) => c.code)).size, d.codes.length, 'no numeric code names two terms')
  assert.deepEqual([...d.audit_actions].sort(), Object.values(AuditAction).sort())
  assert.ok(d.codes.some((c) => c.ref === 'BEDSIDE_NEWS2_SCORE' && c.source === 'private'))
  const out = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'agent/cli.ts'), 'codes', '--json'], { encoding: 'utf8' })
  assert.equal(out.status, 0, out.stderr)
  assert.equal(out.stdout, readFileSync(join(ROOT, 'proto/bedside/v1/codes.json'), 'utf8'))
  const bad = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'agent/cli.ts'), 'codes', '--yaml'], { encoding: 'utf8' })
  assert.equal(bad.status, 2)
  assert.match(bad.stderr, /--yaml/)
})
