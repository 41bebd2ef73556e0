/**
 * `bedside-hub decode PROTOCOL HEX` for the BLE protocols (DESIGN.md, CLI; the shared contract
 * check's vectors), through the command's own entry point with stdout/stderr captured.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { main } from '../../agent/commands/decode.js'

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = []
  const err: string[] = []
  const o = process.stdout.write
  const e = process.stderr.write
  process.stdout.write = ((s: string) => (out.push(s), true)) as typeof o
  process.stderr.write = ((s: string) => (err.push(s), true)) as typeof e
  try {
    const code = await main(argv)
    return { code, out: out.join(''), err: err.join('') }
  } finally {
    process.stdout.write = o
    process.stderr.write = e
  }
}

function valueOf(json: string, code: string): number | null | undefined {
  const o = JSON.parse(json) as { observations: Array<{ code: string; value: number | null }> }
  return o.observations.find((x) => x.code === code)?.value
}

test('ble cli: decode prints one JSON object with MDC ids and UCUM units for the contract vectors', async () => {
  const cases: Array<[string, string, string, number]> = [
    ['hrs', '0648', 'MDC_ECG_HEART_RATE', 72],
    ['hrs', '104b0004c403', 'MDC_ECG_HEART_RATE', 75],
    ['hrs', '1996003412000003', 'MDC_ECG_HEART_RATE', 150],
    ['plx-cont', '0062004800', 'MDC_PULS_OXIM_SAT_O2', 98],
    ['plx-cont', '00cff3d0f2', 'MDC_PULS_OXIM_PULS_RATE', 72],
    ['plx-spot', '0161004b00e807030f0e1e00', 'MDC_PULS_OXIM_SAT_O2', 97],
    ['hts', '006e0100ff', 'MDC_TEMP_BODY', 36.6],
  ]
  for (const [protocol, hex, code, want] of cases) {
    const r = await run(protocol, hex)
    assert.equal(r.code, 0, `${protocol} ${hex}: ${r.err}`)
    assert.equal(r.out.trim().split('\n').length, 1)
    assert.equal(valueOf(r.out, code), want, `${protocol} ${hex}`)
  }
  const f = await run('hts', '01e40300ff')
  assert.ok(Math.abs((valueOf(f.out, 'MDC_TEMP_BODY') ?? 0) - 37.56) < 0.011)
  assert.deepEqual(JSON.parse(f.out).sent, { value: 99.6, unit: '[degF]' })
  const hr = JSON.parse((await run('hrs', '10 48 40 03')).out)
  assert.deepEqual(hr.observations, [{ code: 'MDC_ECG_HEART_RATE', value: 72, unit: '/min' }])
  assert.deepEqual(hr.rrIntervalsMs, [812.5])
  const ecg = JSON.parse((await run('pmd-ecg', '00daebc39e984352080085ffffc80100ffffff')).out)
  assert.deepEqual(ecg.waveform.samples, [-123, 456, -1])
})

test('ble cli: malformed payloads exit 2 with one line naming what is wrong', async () => {
  const cases: Array<[string, string, RegExp]> = [
    ['hrs', '01', /needs 2 bytes/],
    ['plx-cont', '0062', /SpO2PR-Normal/],
    ['hts', '02', /temperature needs 5 bytes/],
    ['plx-spot', '0161004b00e8070d0f0e1e00', /date time field out of range/],
    ['pmd-ecg', '00009435770000000080028 0ff'.replace(/ /g, ''), /delta-compressed/],
    ['pmd-ecg', '0200943577000000000002 80ff'.replace(/ /g, ''), /not ECG/],
  ]
  for (const [protocol, hex, why] of cases) {
    const r = await run(protocol, hex)
    assert.equal(r.code, 2, `${protocol} ${hex}`)
    assert.equal(r.out, '')
    assert.equal(r.err.trim().split('\n').length, 1)
    assert.match(r.err, why)
  }
})
