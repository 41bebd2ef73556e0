import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { adcToMicrovolts, decodeFormat212, parseHeader, WfdbError } from '../../agent/signal/wfdb.js'

const MITDB = new URL('../../../shared/data/mitdb/', import.meta.url).pathname

test('signal: wfdb parses a PhysioNet header with CRLF line endings and comments', () => {
  const h = parseHeader('100 2 360 650000\r\n100.dat 212 200 11 1024 995 -22131 0 MLII\r\n100.dat 212 200 11 1024 1011 20052 0 V5\r\n# 69 M 1085 1629 x1\r\n')
  assert.equal(h.recordName, '100')
  assert.equal(h.rateHz, 360)
  assert.equal(h.samplesPerSignal, 650000)
  assert.equal(h.signals.length, 2)
  assert.deepEqual(
    { file: h.signals[0]!.fileName, fmt: h.signals[0]!.format, gain: h.signals[0]!.adcGain, base: h.signals[0]!.baseline, desc: h.signals[0]!.description },
    { file: '100.dat', fmt: 212, gain: 200, base: 1024, desc: 'MLII' },
  )
})

test('signal: wfdb gain field with baseline and units, frequency with counter frequency', () => {
  const h = parseHeader('rec 1 250/1000 10\nrec.dat 212 400(12)/uV 12 0 0 0 0 ECG lead II\n')
  assert.equal(h.rateHz, 250)
  const s = h.signals[0]!
  assert.equal(s.adcGain, 400)
  assert.equal(s.baseline, 12)
  assert.equal(s.units, 'uV')
  assert.equal(s.description, 'ECG lead II')
  assert.deepEqual(Array.from(adcToMicrovolts(Int16Array.from([12, 412, -388]), s)), [0, 1, -1])
})

test('signal: wfdb malformed headers fail with a stable reason', () => {
  for (const text of ['', 'rec x 360 10\n', 'rec 2 360 10\nrec.dat 212 200 11 1024\n', 'rec 1 abc 10\nrec.dat 212\n']) {
    assert.throws(() => parseHeader(text), (e: unknown) => e instanceof WfdbError && e.reason === 'bad-header', JSON.stringify(text))
  }
})

test('signal: wfdb format 212 worked example from the data README (E3 33 F3 → 995, 1011) and sign extension', () => {
  const bytes = Uint8Array.from([0xe3, 0x33, 0xf3, 0xff, 0x8f, 0x00])
  assert.deepEqual(Array.from(decodeFormat212(bytes, 2, 0)), [995, -1])
  assert.deepEqual(Array.from(decodeFormat212(bytes, 2, 1)), [1011, 2048 - 4096])
  assert.throws(() => decodeFormat212(bytes, 2, 0, 3), (e: unknown) => e instanceof WfdbError && e.reason === 'truncated')
})

test('signal: wfdb record 100 decodes to the header initial value and checksum, 5 µV per ADC unit', () => {
  const h = parseHeader(readFileSync(`${MITDB}100.hea`, 'latin1'))
  const bytes = readFileSync(`${MITDB}100.dat`)
  h.signals.forEach((s, i) => {
    const adc = decodeFormat212(bytes, h.signalCount, i, h.samplesPerSignal)
    assert.equal(adc.length, 650000)
    assert.equal(adc[0], s.initialValue)
    let sum = 0
    for (const v of adc) sum = (sum + v) & 0xffff
    const checksum = Number(readFileSync(`${MITDB}100.hea`, 'latin1').split('\n')[1 + i]!.split(/\s+/)[6])
    assert.equal(sum >= 0x8000 ? sum - 0x10000 : sum, checksum)
  })
  const uv = adcToMicrovolts(decodeFormat212(bytes, 2, 0, 10), h.signals[0]!)
  assert.equal(uv[0], (995 - 1024) * 5)
})
