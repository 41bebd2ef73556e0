import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'

const ROOT = new URL('../../', import.meta.url).pathname
const MITDB = new URL('../../../shared/data/mitdb/', import.meta.url).pathname

function qrs(record: string) {
  return spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'agent/cli.ts'), 'qrs', record], { encoding: 'utf8', cwd: ROOT, maxBuffer: 1 << 24 })
}

test('signal: qrs command prints one ascending R-peak sample index per line for a MIT-BIH record', () => {
  const r = qrs(`${MITDB}100`)
  assert.equal(r.status, 0, r.stderr)
  const lines = r.stdout.trimEnd().split('\n')
  assert.ok(lines.every((l) => /^\d+$/.test(l)))
  const idx = lines.map(Number)
  assert.ok(idx.every((v, i) => i === 0 || v > idx[i - 1]!))
  assert.ok(Math.abs(idx.length - 2273) <= 3, `${idx.length} beats in record 100 (2273 annotated)`)
})

test('signal: qrs command exits 2 with one line on a missing or malformed record', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'qrs-cmd-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'bad.hea'), 'bad x 360\n')
  writeFileSync(join(dir, 'short.hea'), 'short 2 360 650000\nshort.dat 212 200 11 1024 0 0 0 MLII\nshort.dat 212 200 11 1024 0 0 0 V5\n')
  writeFileSync(join(dir, 'short.dat'), Buffer.alloc(300))
  writeFileSync(join(dir, 'f16.hea'), 'f16 1 360 10\nf16.dat 16 200 16 0 0 0 0 MLII\n')
  copyFileSync(`${MITDB}100.hea`, join(dir, 'nodat.hea'))
  for (const [rec, reason] of [['missing', /ENOENT/], ['bad', /record line/], ['short', /frames/], ['f16', /format 16/], ['nodat', /ENOENT/]] as const) {
    const r = qrs(join(dir, rec))
    assert.equal(r.status, 2, `${rec}: ${r.stderr}`)
    assert.equal(r.stdout, '')
    assert.equal(r.stderr.trimEnd().split('\n').length, 1)
    assert.match(r.stderr, reason)
  }
})
