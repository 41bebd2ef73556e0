/**
 * Rhythm analysis scored EC57 style on the 34 public MIT-BIH records (rhythm-score.ts), from 05:00,
 * and asystole on copies of real records with a few seconds flattened to their noise floor.
 * Goals (bench, BENCHMARKS.md): AF duration Se ≥ 95 % and +P ≥ 95 %; every VF episode found; no
 * false asystole or VF on any record; VT reported. The thresholds here are regression guards at
 * or a bit below what the analyzer reaches today; where that is below the goal the comment says so.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { readFirstSignalUv } from '../../agent/commands/qrs.js'
import { EcgAnalyzer, type RhythmEvent } from '../../agent/signal/heart-rate.js'
import { ASYSTOLE_MS } from '../../agent/signal/rhythm.js'
import { MITDB, publicRecords, scoreRecord, table, total } from '../../scripts/testkit/rhythm-score.js'

test('rhythm: MIT-BIH AF duration, VT and VF episodes, false asystole (EC57, from 05:00)', () => {
  const records = publicRecords()
  assert.ok(records.length >= 34, `expected the 34 public records, found ${records.length}`)
  const scores = records.map((r) => scoreRecord(r))
  console.log(table(scores))
  const t = total(scores)
  // VF: 207's flutter after 05:00 is found, and no VF is called on any other record, from 00:00.
  assert.equal(t.vf.fn, 0, 'every VF episode from 05:00 is found')
  assert.equal(t.vfWhole.fp, 0, 'no false VF on any record')
  assert.ok(t.vfWhole.tp >= 5, `VF episodes over whole records: ${t.vfWhole.tp}`)
  // AF: Se is near the 95 % goal; +P is far below it (222's short paroxysms of flutter, nodal
  // rhythm and atrial bigeminy are irregular without P waves too): this guards the level reached
  // (94.0 % and 63.7 %), not the goal.
  assert.ok(t.af.both / t.af.ref >= 0.9, `AF duration Se ${(100 * t.af.both / t.af.ref).toFixed(1)} %`)
  assert.ok(t.af.both / t.af.det >= 0.6, `AF duration +P ${(100 * t.af.both / t.af.det).toFixed(1)} %`)
  // VT, as EC57 scores it (runs of ≥ 3 ventricular beats, what `bedside-hub rhythm` reports):
  // measured 10/19 (52.6 %) and +P 9/13 (69.2 %); most of the misses are 223's runs, whose every
  // other ventricular beat has the sinus beat's shape and width on lead 0 (BENCHMARKS.md).
  const vtSe = t.vt.tp / (t.vt.tp + t.vt.fn)
  const vtPp = t.vt.tpp / (t.vt.tpp + t.vt.fp)
  assert.ok(vtSe >= 0.5, `VT episode Se ${(100 * vtSe).toFixed(1)} %`)
  assert.ok(vtPp >= 0.65, `VT episode +P ${(100 * vtPp).toFixed(1)} %`)
  // Asystole on unmodified records: only on 232's sinus pauses of ≥ 4 s, never elsewhere.
  assert.equal(t.asysFalse, 0, 'no false asystole')
  const s232 = scores.find((s) => s.record === '232')!
  assert.ok(s232.asysTrue >= 12, `232's pauses of ≥ 4 s called asystole: ${s232.asysTrue}`)
})

/**
 * The record with `seconds` replaced by its own noise floor: the slow baseline (1 s mean) plus the
 * sample-to-sample residue (signal − 40 ms mean) clipped to ±3 median absolute deviations, which
 * keeps the baseline wander and the electrode and amplifier noise but not the QRS complexes.
 */
function flatten(x: Int32Array, rateHz: number, at: number, seconds: number): Int32Array {
  const out = x.slice()
  const mean = (i: number, half: number) => {
    let s = 0
    let n = 0
    for (let k = Math.max(0, i - half); k <= Math.min(x.length - 1, i + half); k++, n++) s += x[k]!
    return s / n
  }
  const short = Math.round(0.02 * rateHz)
  const residue = Float64Array.from({ length: 60 * rateHz }, (_, k) => Math.abs(x[at - 60 * rateHz + k]! - mean(at - 60 * rateHz + k, short)))
  const mad = residue.sort()[residue.length >> 1]!
  for (let i = at; i < at + seconds * rateHz; i++) {
    const r = x[i]! - mean(i, short)
    out[i] = Math.round(mean(i, Math.round(rateHz / 2)) + Math.max(-3 * mad, Math.min(3 * mad, r)))
  }
  return out
}

function onsets(samplesUv: Int32Array, rateHz: number): RhythmEvent[] {
  const out: RhythmEvent[] = []
  const analyzer = new EcgAnalyzer({ deviceId: 'rec', sink: { observation: () => {}, condition: () => {}, rhythm: (e) => e.phase === 'onset' && out.push(e) } })
  for (let i = 0; i < samplesUv.length; i += rateHz) {
    analyzer.push({ kind: 'wave', deviceId: 'rec', code: 131330, rateHz, t0Us: Math.round((i * 1e6) / rateHz), samplesUv: samplesUv.subarray(i, i + rateHz), hubTimeMs: 0, deviceSeq: 0, quality: 0 })
  }
  analyzer.finish()
  return out
}

test('rhythm: 6 s flattened to the noise floor in real records is asystole every time, raised within 1 s of 4 s without a QRS', () => {
  const records = ['100', '103', '117', '122', '205', '212', '221', '230']
  const lines: string[] = []
  for (const rec of records) {
    const { rateHz, samplesUv } = readFirstSignalUv(`${MITDB}${rec}`)
    const part = samplesUv.subarray(0, 12 * 60 * rateHz)
    for (const minute of [6, 8, 10]) {
      const at = minute * 60 * rateHz
      const events = onsets(flatten(part, rateHz, at, 6), rateHz)
      const asys = events.filter((e) => e.label === 'ASYS')
      const hit = asys.find((e) => e.endSample > at && e.startSample < at + 6 * rateHz)
      assert.ok(hit, `${rec} at ${minute}:00: no asystole`)
      // the condition is met 4 s after the last beat before the flat stretch
      const lateMs = ((hit.endSample - hit.startSample) * 1000) / rateHz - ASYSTOLE_MS
      lines.push(`${rec} ${minute}:00 asystole from ${(hit.startSample / rateHz).toFixed(2)} s, raised ${lateMs.toFixed(0)} ms after 4 s without a QRS`)
      assert.ok(lateMs <= 1000, `${rec} at ${minute}:00: raised ${lateMs} ms after the condition`)
      assert.equal(asys.length, 1, `${rec} at ${minute}:00: one asystole only`)
      assert.ok(!events.some((e) => e.label === 'VF'), `${rec} at ${minute}:00: no VF`)
    }
  }
  console.log(lines.join('\n'))
})
