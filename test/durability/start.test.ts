/**
 * The agent at start with a store it must not touch: a corrupt file, or one from a newer schema.
 * A clear error naming the file, a non-zero exit, and the file byte-for-byte as it was.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import Database from 'better-sqlite3'
import YAML from 'yaml'
import { freePort, spawnCli, tempDir } from '../support/agent-process.js'

async function startWith(prepare: (file: string) => void): Promise<{ code: number | null; output: string; file: string; before: string; after: string }> {
  const dir = tempDir('start')
  const dataDir = join(dir, 'data')
  mkdirSync(dataDir, { mode: 0o700 })
  const file = join(dataDir, 'bedside.db')
  prepare(file)
  const digest = () => createHash('sha256').update(readFileSync(file)).digest('hex')
  const before = digest()
  const config = join(dir, 'config.yaml')
  writeFileSync(config, YAML.stringify({ hub: { id: 'start-hub', site: 's', data_dir: dataDir }, http: { listen: `127.0.0.1:${await freePort()}` }, mqtt: { listen: `127.0.0.1:${await freePort()}` }, log: { level: 'warn' } }), { mode: 0o600 })
  const child = spawnCli(['run', '--config', config])
  let timer: NodeJS.Timeout | undefined
  const code = await Promise.race([child.exited, new Promise<'running'>((r) => (timer = setTimeout(() => r('running'), 20_000)))])
  clearTimeout(timer)
  if (code === 'running') child.proc.kill('SIGKILL')
  return { code: code === 'running' ? null : code, output: child.output(), file, before, after: digest() }
}

test('durability: a corrupt store stops the agent at start with an error naming the file, which is left untouched', async () => {
  const r = await startWith((file) => writeFileSync(file, Buffer.concat([Buffer.from('SQLite format 3\0'), Buffer.alloc(8192, 0xa5)])))
  console.log(`# corrupt store: exit ${r.code}: ${r.output.trim().split('\n')[0]}`)
  assert.equal(r.code, 1)
  assert.ok(r.output.includes(r.file), 'the error names the file')
  assert.match(r.output, /not a usable bedside-hub database/)
  assert.equal(r.after, r.before, 'byte-for-byte untouched')
  assert.equal(existsSync(`${r.file}-wal`), false, 'no WAL was created next to it')
})

test('durability: a store from a newer schema version stops the agent at start, untouched', async () => {
  const r = await startWith((file) => {
    const db = new Database(file)
    db.exec('CREATE TABLE future (x INTEGER)')
    db.pragma('user_version = 99')
    db.close()
  })
  console.log(`# newer store: exit ${r.code}: ${r.output.trim().split('\n')[0]}`)
  assert.equal(r.code, 1)
  assert.ok(r.output.includes(r.file))
  assert.match(r.output, /schema version 99 is newer/)
  assert.equal(r.after, r.before)
})
