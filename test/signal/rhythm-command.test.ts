/** `bedside-hub rhythm RECORD` (DESIGN.md, CLI): the output contract, and errors like `qrs`. */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { readAtrAux, rhythmEpisodes } from '../../scripts/testkit/ec57-rhythm.js'

const ROOT = new URL('../../', import.meta.url).pathname
const MITDB = new URL('../../../shared/data/mitdb/', import.meta.url).pathname

function rhythm(record: string) {
  return spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'agent/cli.ts'), 'rhythm', record], { encoding: 'utf8', cwd: ROOT })
}

test('signal: rhythm command prints START END LABEL episodes; record 201 has AF where the annotators saw it', () => {
  const r = rhythm(`${MITDB}201`)
  assert.equal(r.status, 0, r.stderr)
  const lines = r.stdout.trimEnd().split('\n')
  for (const l of lines) assert.match(l, /^\d+ \d+ (ASYS|VF|VT|AFIB|BRADY|TACHY)$/, l)
  const episodes = lines.map((l) => l.split(' ')).map(([s, e, label]) => ({ start: Number(s), end: Number(e), label: label! }))
  assert.ok(episodes.every((e) => e.end >= e.start))
  assert.ok(episodes.every((e, i) => i === 0 || e.start >= episodes[i - 1]!.start), 'ordered by start')
  const refAf = rhythmEpisodes(readAtrAux(`${MITDB}201`), 650_000).filter((e) => e.label === 'AFIB')
  const af = episodes.filter((e) => e.label === 'AFIB')
  assert.ok(af.length > 0)
  for (const ref of refAf.filter((e) => e.end - e.start > 60 * 360)) {
    assert.ok(af.some((e) => e.start < ref.end && e.end > ref.start), `the AF at ${ref.start}–${ref.end} is found`)
  }
})

test('signal: rhythm command exits 2 with one line on a missing or malformed record, nothing on stdout', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rhythm-cmd-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'bad.hea'), 'bad x 360\n')
  for (const [rec, reason] of [['missing', /ENOENT/], ['bad', /record line/]] as const) {
    const r = rhythm(join(dir, rec))
    assert.equal(r.status, 2, `${rec}: ${r.stderr}`)
    assert.equal(r.stdout, '')
    assert.equal(r.stderr.trimEnd().split('\n').length, 1)
    assert.match(r.stderr, reason)
  }
  assert.equal(spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'agent/cli.ts'), 'rhythm'], { encoding: 'utf8', cwd: ROOT }).status, 2)
})
