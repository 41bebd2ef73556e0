import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { detectBeats, readFirstSignalUv } from '../../agent/commands/qrs.js'
import { parseAtr, readAtr, scoreBeats, type Annotation } from './ec57.js'

const SHARED = new URL('../../../shared/', import.meta.url).pathname
const FS = 360
const at = (sample: number, code = 1): Annotation => ({ sample, code })
const T5 = 300 * FS

test('signal: EC57 scorer match within 150 ms, each beat and detection used once, from 05:00', () => {
  const ann = [at(1000), at(T5 + 1000), at(T5 + 2000), at(T5 + 3000, 28), at(T5 + 4000, 16)]
  // 54 samples = 150 ms at 360 Hz: in; 55: out. Two detections near one beat: one TP, one FP.
  const s = scoreBeats(ann, [1000, T5 + 1054, T5 + 2055, T5 + 3000, T5 + 4000, T5 + 1010], FS)
  assert.deepEqual(s, { tp: 1, fn: 1, fp: 4 })
})

test('signal: EC57 scorer beats and detections inside [ ] flutter episodes are ignored', () => {
  const ann = [at(T5 + 100), at(T5 + 200, 32), at(T5 + 300, 31), at(T5 + 400, 31), at(T5 + 500, 33), at(T5 + 900)]
  assert.deepEqual(scoreBeats(ann, [T5 + 100, T5 + 310, T5 + 450, T5 + 900], FS), { tp: 2, fn: 0, fp: 0 })
})

test('signal: EC57 scorer annotation reader handles SKIP, AUX and SUB words', () => {
  const words: number[] = []
  const w = (a: number, i: number) => words.push(a << 10 | i)
  w(1, 100) // N at 100
  w(63, 3) // AUX, 3 bytes + pad
  words.push(0x4e28, 0x0000) // "(N" + pad, as two little-endian words
  w(59, 0) // SKIP 70000: high word first
  words.push(0x0001, 70000 - 65536)
  w(5, 10) // V at 100 + 70000 + 10
  w(61, 2) // SUB
  w(0, 0)
  const bytes = new Uint8Array(words.length * 2)
  words.forEach((v, k) => { bytes[2 * k] = v & 0xff; bytes[2 * k + 1] = v >> 8 })
  assert.deepEqual(parseAtr(bytes), [at(100, 1), at(70110, 5)])
})

test('signal: EC57 scorer reference beat counts from 05:00 match the data README (201 with SKIP, 207 with flutter)', () => {
  for (const [rec, want] of [['100', 1902], ['201', 1521], ['207', 1592], ['232', 1485]] as const) {
    const ann = readAtr(`${SHARED}data/mitdb/${rec}`)
    const s = scoreBeats(ann, [], FS)
    assert.equal(s.fn, want, rec)
  }
})

test('signal: EC57 scorer agrees with the public scorer shared/checks/score_qrs.py', (t) => {
  if (spawnSync('python3', ['--version']).status !== 0) return t.skip('python3 not installed')
  const dir = mkdtempSync(join(tmpdir(), 'ec57-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  for (const rec of ['100', '207', '232']) {
    const path = `${SHARED}data/mitdb/${rec}`
    const { rateHz, samplesUv } = readFirstSignalUv(path)
    const beats = detectBeats(samplesUv, rateHz)
    writeFileSync(join(dir, rec), beats.join('\n') + '\n')
    const py = spawnSync('python3', [`${SHARED}checks/score_qrs.py`, path, join(dir, rec)], { encoding: 'utf8' })
    assert.equal(py.status, 0, py.stderr)
    const ours = scoreBeats(readAtr(path), beats, rateHz)
    assert.equal(py.stdout.trim(), `${ours.tp} ${ours.fn} ${ours.fp}`, rec)
  }
})
