/**
 * The `/obs` byte scanner (drivers/mqtt/obs-scan.ts) against the general path it short-cuts
 * (JSON.parse, payload.ts decodeObsGeneral): on generated payloads that vary every token the
 * scanner reads (key order, blanks, number spellings, codes, units, escapes, missing and doubled
 * keys) and on byte mutations of them, decodeObsPayload must give exactly what the general path
 * gives, the same observations (values to the bit, -0 and NaN included) and identity, or the same
 * refusal. Seeded, so a failure reproduces.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MDC_TERMS } from '../../drivers/codes.js'
import { isDecodeError } from '../../drivers/errors.js'
import { scanObsPayload } from '../../drivers/mqtt/obs-scan.js'
import { decodeObsGeneral, decodeObsPayload, type PayloadContext } from '../../drivers/mqtt/payload.js'
import type { Observation } from '../../drivers/records.js'
import { seededRandom } from '../support/random.js'

type Outcome = { obs: Observation[]; identity: string | undefined } | { reason: string }

function ctxOf(): PayloadContext {
  return { deviceId: 'scan-mon', hubTimeMs: 1_796_000_000_123, nextSeq: 41 }
}

function outcome(decode: typeof decodeObsPayload, p: Buffer): Outcome {
  const ctx = ctxOf()
  try {
    const obs = decode(p, ctx, [])
    return { obs, identity: ctx.identity }
  } catch (err) {
    if (!isDecodeError(err)) throw err
    return { reason: err.reason }
  }
}

/** Every numeric code (terms that share a length and last bytes among them), then codes the scanner must not take. */
const NUMERIC = MDC_TERMS.filter((t) => t.kind === 'numeric').map((t) => `"${t.ref}"`)
const CODES = [
  ...NUMERIC,
  '"MDC_ECG_ELEC_POTL_II"', // a waveform code: not an /obs code
  '"MDC_NOPE"', '""', '"MDC_ECG_HEART_RATE "', '"mdc_ecg_heart_rate"', '"MDC\\u005fECG_HEART_RATE"', '"MDC_ECG_HEART_RAT"', '"MDC_RESP_RATF"',
  '72', 'null',
]
const UNITS = ['"/min"', '"%"', '"Cel"', '"mm[Hg]"', '"{beats}/min"', '""', '"\\/min"', '"µV"', '"°C"', '"a\\"b"', '"\t"', 'null', '7', `"${'u'.repeat(300)}"`]

function numberText(r: () => number): string {
  const int = (n: number) => Math.floor(r() * n)
  const digits = (n: number) => Array.from({ length: n }, () => String(int(10))).join('')
  switch (int(14)) {
    case 0: return String(int(300))
    case 1: return `${int(300)}.${digits(1 + int(3))}`
    case 2: return `-${int(100)}.${digits(1 + int(4))}`
    case 3: return `${1 + int(9)}${digits(int(17))}` // up to 18 digits
    case 4: return `0.${digits(1 + int(20))}`
    case 5: return `${1 + int(9)}${digits(int(8))}.${digits(1 + int(10))}`
    case 6: return ['-0', '0', '0.0', '-0.0', '00', '01', '1.', '.5', '-', '+1', '1e2', '1E-2', '2.5e+3', '-'].at(int(14))!
    case 7: return `${int(1000)}e${int(5)}`
    case 8: return 'null'
    case 9: return '"97"'
    case 10: return 'true'
    case 11: return String(r() * 1000)
    case 12: return String((r() - 0.5) * 1e-7)
    default: return `${int(100)}.${digits(13 + int(4))}`
  }
}

function timeText(r: () => number): string {
  switch (Math.floor(r() * 8)) {
    case 0: return '-1'
    case 1: return '8640000000000001'
    case 2: return '8640000000000000'
    case 3: return `${1_796_000_000_000 + Math.floor(r() * 1e6)}.5`
    case 4: return numberText(r)
    default: return String(1_796_000_000_000 + Math.floor(r() * 1e6))
  }
}

function seqText(r: () => number): string {
  switch (Math.floor(r() * 8)) {
    case 0: return '-3'
    case 1: return '2.5'
    case 2: return '9007199254740993'
    case 3: return numberText(r)
    default: return String(Math.floor(r() * 1e6))
  }
}

const BLANKS = ['', '', '', ' ', '\n', '\t', '\r\n', '  ']

/** A payload of the /obs shape, every token drawn so that most are valid and each kind of deviation appears. */
function payload(r: () => number): string {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!
  const b = () => pick(BLANKS)
  const member = (k: string, v: string) => `${b()}"${k}"${b()}:${b()}${v}${b()}`
  const items: string[] = []
  const n = r() < 0.03 ? 0 : 1 + Math.floor(r() * (r() < 0.1 ? 40 : 3))
  for (let k = 0; k < n; k++) {
    const fields: string[] = []
    if (r() < 0.99) fields.push(member('code', r() < 0.92 ? pick(NUMERIC) : pick(CODES)))
    if (r() < 0.99) fields.push(member('value', r() < 0.75 ? String(Math.floor(r() * 200)) : numberText(r)))
    if (r() < 0.8) fields.push(member('unit', r() < 0.85 ? pick(UNITS.slice(0, 2)) : pick(UNITS)))
    if (r() < 0.1) fields.push(member('ts', r() < 0.7 ? String(1_796_000_000_000 + Math.floor(r() * 1e6)) : timeText(r)))
    if (r() < 0.02) fields.push(member('quality', pick(['["questionable"]', '[]', '["bogus"]', '"x"'])))
    if (r() < 0.02) fields.push(member(pick(['extra', 'code', 'value', 'Code', 'unit']), '1'))
    for (let s = fields.length - 1; s > 0; s--) if (r() < 0.3) [fields[s], fields[s - 1]] = [fields[s - 1]!, fields[s]!]
    items.push(`${b()}{${fields.join(',')}}${b()}`)
  }
  const top: string[] = []
  if (r() < 0.97) top.push(member('ts', r() < 0.8 ? String(1_796_000_000_000 + Math.floor(r() * 1e6)) : timeText(r)))
  if (r() < 0.7) top.push(member('seq', r() < 0.8 ? String(Math.floor(r() * 1e6)) : seqText(r)))
  if (r() < 0.98) top.push(member('obs', r() < 0.97 ? `[${items.join(',')}]` : pick(['{}', 'null', '[[]]', '"[]"'])))
  if (r() < 0.05) top.push(member(pick(['extra', 'ts', 'obs', 'seq', 'quality']), pick(['1', '[]', '{"a":1}'])))
  for (let s = top.length - 1; s > 0; s--) if (r() < 0.25) [top[s], top[s - 1]] = [top[s - 1]!, top[s]!]
  const body = `{${top.join(',')}}`
  return r() < 0.03 ? pick([`${body}x`, `${body},`, `[${body}]`, `\ufeff${body}`, body.slice(0, -1), `\u00a0${body}`, body.replace(':', ':\u00a0')]) : `${b()}${body}${b()}`
}

function mutate(buf: Buffer, r: () => number): Buffer {
  const int = (n: number) => Math.floor(r() * n)
  const out = Buffer.from(buf)
  const special = [0x7b, 0x7d, 0x5b, 0x5d, 0x22, 0x5c, 0x2c, 0x3a, 0x2e, 0x2d, 0x65, 0x30, 0x39, 0x20, 0x00, 0xc2, 0xff]
  switch (int(5)) {
    case 0: out[int(out.length)]! ^= 1 << int(8); return out
    case 1: out[int(out.length)] = special[int(special.length)]!; return out
    case 2: return out.subarray(0, int(out.length))
    case 3: { const at = int(out.length); return Buffer.concat([out.subarray(0, at), Buffer.from([special[int(special.length)]!]), out.subarray(at)]) }
    default: { const a = int(out.length), b = int(out.length); return Buffer.concat([out.subarray(0, Math.min(a, b)), out.subarray(Math.max(a, b))]) }
  }
}

function compare(p: Buffer, tally: Map<string, number>): void {
  const general = outcome(decodeObsGeneral, p)
  const both = outcome(decodeObsPayload, p)
  assert.deepStrictEqual(both, general, `payload ${JSON.stringify(p.toString('latin1').slice(0, 400))}`)
  const scanned = scanObsPayload(p, ctxOf(), [])
  const k = scanned ? 'scanned' : 'reason' in general ? `refused: ${general.reason}` : 'general path'
  tally.set(k, (tally.get(k) ?? 0) + 1)
}

test('obs scanner: 60,000 generated payloads decode exactly as the general path decodes them, or are refused alike', () => {
  const r = seededRandom(0x23)
  const tally = new Map<string, number>()
  for (let n = 0; n < 60_000; n++) compare(Buffer.from(payload(r)), tally)
  console.log(`  ${[...tally].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ')}`)
  // the test is only worth something if all three ways are taken often
  assert.ok((tally.get('scanned') ?? 0) > 15_000, 'the scanner decoded many')
  assert.ok((tally.get('general path') ?? 0) > 2_000, 'many left to the general path, then decoded')
  assert.ok([...tally.keys()].filter((k) => k.startsWith('refused')).length >= 4, 'several kinds of refusal')
})

test('obs scanner: 60,000 byte mutations of scanned payloads decode or are refused exactly as the general path does', () => {
  const r = seededRandom(0x2301)
  const bases: Buffer[] = []
  for (let tries = 0; bases.length < 200 && tries < 100_000; tries++) {
    const p = Buffer.from(payload(r))
    if (scanObsPayload(p, ctxOf(), [])) bases.push(p)
  }
  assert.equal(bases.length, 200, 'the scanner decodes generated payloads')
  const tally = new Map<string, number>()
  for (let n = 0; n < 60_000; n++) {
    let p = bases[n % bases.length]!
    for (let k = r() < 0.8 ? 1 : 2; k > 0; k--) p = mutate(p, r)
    compare(p, tally)
  }
  console.log(`  ${[...tally].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ')}`)
  assert.ok((tally.get('scanned') ?? 0) > 2_000)
})

test('obs scanner: numbers of up to 15 significant digits are the doubles JSON.parse gives, bit for bit', () => {
  const r = seededRandom(0x2302)
  const view = new DataView(new ArrayBuffer(16))
  let scanned = 0
  for (let n = 0; n < 200_000; n++) {
    const text = numberText(r)
    if (text === 'null') continue // no value: NaN, by design
    const p = Buffer.from(`{"ts":1796000000000,"obs":[{"code":"MDC_TEMP_BODY","value":${text}}]}`)
    const out: Observation[] = []
    if (!scanObsPayload(p, ctxOf(), out)) continue
    scanned++
    const want = JSON.parse(text) as number
    view.setFloat64(0, out[0]!.value)
    view.setFloat64(8, want)
    assert.equal(view.getBigUint64(0), view.getBigUint64(8), `${text}: ${out[0]!.value} against ${want}`)
  }
  assert.ok(scanned > 70_000, `scanned ${scanned}`)
})

test('obs scanner: the common message (the bench\'s, 100 observations) takes the scanner', () => {
  const items = Array.from({ length: 100 }, (_, k) => ({ code: k % 2 ? 'MDC_PULS_OXIM_SAT_O2' : 'MDC_ECG_HEART_RATE', value: k % 2 ? 97 : 76.5, unit: k % 2 ? '%' : '/min' }))
  const p = Buffer.from(JSON.stringify({ ts: 1_796_000_000_000, seq: 7, obs: items }))
  const ctx = ctxOf()
  const out: Observation[] = []
  assert.equal(scanObsPayload(p, ctx, out), true)
  assert.equal(out.length, 100)
  assert.equal(ctx.identity, 'o7/1796000000000')
  assert.deepStrictEqual(out, decodeObsGeneral(p, ctxOf(), []))
})
