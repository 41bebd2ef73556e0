/**
 * The classic failure of rhythm alarms: noise taken for asystole, VF or VT. Measured on the 34
 * public MIT-BIH records with noise added in every other minute (so the analysis goes in and out
 * of it, 8.5 noisy hours in all), through the same analysis as `bedside-hub rhythm`:
 *  - white: ±300 µV uniform (muscle, electrode crackle);
 *  - tremor: 400 µV at 4.5–5.5 Hz, in the VF band (Parkinsonian tremor, tooth brushing, shivering);
 *  - motion: 1.5 mV swings at 0.5–2.5 Hz plus ±200 µV white (walking, turning in bed).
 * A false call is any asystole or VF that the unmodified record's reference does not have
 * (rhythm-score.ts); VT calls are counted (the records have some true VT).
 * Goal: none, and it is met: no false asystole or VF under any of the three (VF needs a window
 * without QRS complexes, without high-frequency artefact, held for 1.5 s: vf-detector.ts).
 * VT calls are counted beside those on the records without noise (true VT and the analysis's own
 * false VT): noise on a beat makes it look ventricular, so VT waits while the window is dominated
 * by an oscillation in the VF band (rhythm.ts); the bounds guard today's figures. VT here is the
 * alarm's (runs of VT_MIN_BEATS), not the command's EC57 runs of 3: the false alarms are the point.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { readFirstSignalUv } from '../../agent/commands/qrs.js'
import { detectRhythm } from '../../agent/commands/rhythm.js'
import { VT_MIN_BEATS } from '../../agent/signal/rhythm.js'
import { MITDB, publicRecords, scoreRecord } from '../../scripts/testkit/rhythm-score.js'

type Kind = 'white' | 'tremor' | 'motion'

function prng(seed: number): () => number {
  let s = seed
  return () => {
    s = (s * 48271) % 0x7fffffff
    return (s / 0x7fffffff) * 2 - 1
  }
}

function addNoise(x: Int32Array, rateHz: number, kind: Kind, seed: number): Int32Array {
  const out = x.slice()
  const rand = prng(seed)
  let phase = 0
  for (let i = 0; i < out.length; i++) {
    if (Math.floor(i / (60 * rateHz)) % 2 !== 1) continue
    const t = i / rateHz
    if (kind === 'white') out[i] = out[i]! + Math.round(300 * rand())
    else if (kind === 'tremor') {
      phase += (5 + 0.5 * Math.sin(t)) / rateHz
      out[i] = out[i]! + Math.round(400 * Math.sin(2 * Math.PI * phase))
    } else {
      phase += (1.5 + Math.sin(t / 3)) / rateHz
      out[i] = out[i]! + Math.round(1500 * Math.sin(2 * Math.PI * phase) + 200 * rand())
    }
  }
  return out
}

test('rhythm: noise on real ECG: false asystole and VF calls, MIT-BIH with noise in every other minute', () => {
  const records = publicRecords()
  const lines = ['noise    false ASYS  false VF  VT calls  (noisy hours)']
  const totals: Record<Kind, { asys: number; vf: number; vt: number }> = { white: { asys: 0, vf: 0, vt: 0 }, tremor: { asys: 0, vf: 0, vt: 0 }, motion: { asys: 0, vf: 0, vt: 0 } }
  let hours = 0
  let cleanVt = 0
  for (const rec of records) {
    const { rateHz, samplesUv } = readFirstSignalUv(`${MITDB}${rec}`)
    cleanVt += detectRhythm(samplesUv, rateHz, rateHz, VT_MIN_BEATS).filter((e) => e.label === 'VT').length
  }
  lines.push(`(none)   ${'-'.padStart(10)} ${'-'.padStart(9)} ${String(cleanVt).padStart(9)}`)
  for (const kind of ['white', 'tremor', 'motion'] as const) {
    hours = 0
    for (const rec of records) {
      const { rateHz, samplesUv } = readFirstSignalUv(`${MITDB}${rec}`)
      const detected = detectRhythm(addNoise(samplesUv, rateHz, kind, Number(rec)), rateHz, rateHz, VT_MIN_BEATS)
      const s = scoreRecord(rec, detected)
      totals[kind].asys += s.asysFalse
      totals[kind].vf += s.vfWhole.fp
      totals[kind].vt += detected.filter((e) => e.label === 'VT').length
      hours += samplesUv.length / rateHz / 3600 / 2
    }
    const t = totals[kind]
    lines.push(`${kind.padEnd(8)} ${String(t.asys).padStart(10)} ${String(t.vf).padStart(9)} ${String(t.vt).padStart(9)}  (${hours.toFixed(1)})`)
  }
  console.log(lines.join('\n'))
  for (const kind of ['white', 'tremor', 'motion'] as const) assert.equal(totals[kind].asys, 0, `${kind}: no false asystole`)
  for (const kind of ['white', 'tremor', 'motion'] as const) assert.equal(totals[kind].vf, 0, `${kind}: no false VF`)
  // measured: 8 without noise; white 5, tremor 11, motion 4 (before the QRS width stopped at the
  // QRS's end and prematurity was judged against the normal beats' RR: 13; 5, 18, 5)
  const bound = { white: 6, tremor: 12, motion: 5 }
  assert.ok(cleanVt <= 9, `${cleanVt} VT calls without noise`)
  for (const kind of ['white', 'tremor', 'motion'] as const) assert.ok(totals[kind].vt <= bound[kind], `${kind}: ${totals[kind].vt} VT calls (${cleanVt} without noise)`)
})
