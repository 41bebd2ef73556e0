/**
 * No dead config keys (issue 17): every key the agent's config schema accepts is read by the code
 * that runs the agent. A key that is validated and documented but never read (as
 * `cloud.kafka.target_ack_ms` once was) promises the operator a setting that does nothing.
 *
 * The check is on names: each key must appear as a property access, destructuring or quoted name
 * in agent/, drivers/ or cloud/ outside the schema file. Common names (`id`, `type`) pass easily;
 * the distinctive snake_case names of real settings are what it catches.
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { configSchema } from '../../agent/config.js'
import { schemaPaths } from '../support/config-paths.js'

const ROOT = join(import.meta.dirname, '..', '..')

function sources(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const rel = join(dir, e.name)
    if (e.isDirectory()) sources(rel, out)
    else if (e.name.endsWith('.ts') && rel !== join('agent', 'config.ts')) out.push(readFileSync(join(ROOT, rel), 'utf8'))
  }
  return out
}

test('config: every key of the schema is read by the agent (dead keys fail the build)', () => {
  const paths = new Set<string>()
  schemaPaths(configSchema, '', paths)
  const code = sources('agent').concat(sources('drivers'), sources('cloud')).join('\n')
  const unread = [...paths].filter((p) => {
    const key = p.split('.').pop()!.replace(/\[\]$/, '')
    return !new RegExp(`(\\.${key}\\b|\\b${key}\\s*[,:}=]|['"]${key}['"])`).test(code)
  })
  console.log(`# ${paths.size} config keys, ${paths.size - unread.length} read by the code`)
  assert.deepEqual(unread, [], `config keys nothing reads: ${unread.join(', ')}`)
})
