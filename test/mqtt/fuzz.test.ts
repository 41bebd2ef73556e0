/**
 * The MQTT device payload decoders under fuzzing and worst-case shapes (issue 16): 100,000 random
 * and mutated payloads (fast-check JSON values, byte mutations of valid payloads, hostile
 * structures): nothing but a DecodeError with a documented reason escapes, and every payload is
 * either decoded or rejected and counted. Then the event-loop time of decoding the worst payloads
 * that fit the default packet maximum (256 KiB). Seeded, so a failure reproduces.
 */
import assert from 'node:assert/strict'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { test } from 'node:test'
import fc from 'fast-check'
import { isDecodeError } from '../../drivers/errors.js'
import { decodeObsPayload, decodeWavePayload } from '../../drivers/mqtt/payload.js'

const RUNS = 100_000
const MAX_PACKET = 256 * 1024
const REASONS = new Set(['not-json', 'not-object', 'bad-time', 'bad-seq', 'bad-quality', 'bad-field', 'too-large', 'too-deep', 'unknown-code'])
const ctx = { deviceId: 'fuzz-mon', hubTimeMs: 1_796_000_000_000, nextSeq: 1 }

const validObs = [
  '{"ts":1796000000000,"seq":7,"obs":[{"code":"MDC_PULS_OXIM_SAT_O2","value":97,"unit":"%"}]}',
  '{"ts":1796000000000,"obs":[{"code":"MDC_ECG_HEART_RATE","value":72,"unit":"/min","quality":["questionable"]},{"code":"MDC_TEMP_BODY","value":null,"ts":1796000000500}]}',
]
const validWave = '{"code":"MDC_ECG_ELEC_POTL_II","rate":250,"t0":1796000000000,"seq":3,"samples":[10,-20,30,400,-5000]}'

function mutate(buf: Buffer, r: () => number): Buffer {
  const int = (n: number) => Math.floor(r() * n)
  const out = Buffer.from(buf)
  const special = [0x7b, 0x7d, 0x5b, 0x5d, 0x22, 0x5c, 0x2c, 0x3a, 0x00, 0xff]
  switch (int(6)) {
    case 0: out[int(out.length)]! ^= 1 << int(8); return out
    case 1: out[int(out.length)] = special[int(special.length)]!; return out
    case 2: return out.subarray(0, int(out.length))
    case 3: { const at = int(out.length); return Buffer.concat([out.subarray(0, at), Buffer.from([special[int(special.length)]!]), out.subarray(at)]) }
    case 4: { const a = int(out.length), b = int(out.length); return Buffer.concat([out.subarray(0, Math.min(a, b)), out.subarray(Math.max(a, b))]) }
    default: { const at = int(out.length); return Buffer.concat([out.subarray(0, at), out.subarray(int(out.length))]) }
  }
}

/** Decodes with both decoders; returns the reason of a rejection or 'ok'. Anything else thrown fails the test. */
function outcome(p: Buffer, wave: boolean): string {
  try {
    if (wave) decodeWavePayload(p, ctx)
    else decodeObsPayload(p, ctx)
    return 'ok'
  } catch (err) {
    if (!isDecodeError(err)) throw new Error(`non-DecodeError escaped for ${p.subarray(0, 200).toString('utf8')}: ${(err as Error)?.stack ?? err}`)
    assert.ok(REASONS.has(err.reason), `undocumented reason ${err.reason}`)
    return err.reason
  }
}

test('mqtt payload fuzz: 100,000 random and mutated payloads, only DecodeError escapes, every reject counted', () => {
  let seed = 0x16
  const r = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32)
  const jsonValues = fc.sample(fc.json({ depthSize: 'small' }), { seed: 16, numRuns: 30_000 })
  const shaped = fc.sample(fc.record({
    ts: fc.oneof(fc.integer(), fc.double(), fc.string(), fc.constant(null)),
    seq: fc.oneof(fc.integer(), fc.double(), fc.constant(-1), fc.constant(undefined)),
    obs: fc.oneof(fc.array(fc.record({
      code: fc.oneof(fc.constantFrom('MDC_ECG_HEART_RATE', 'MDC_PULS_OXIM_SAT_O2', 'MDC_ECG_ELEC_POTL_II', 'NOPE'), fc.string()),
      value: fc.oneof(fc.double(), fc.constant(null), fc.string()),
      unit: fc.oneof(fc.string(), fc.integer(), fc.constant(undefined)),
      quality: fc.oneof(fc.constant(undefined), fc.array(fc.constantFrom('questionable', 'unavailable', 'bogus'))),
      ts: fc.oneof(fc.constant(undefined), fc.integer(), fc.double()),
    }, { requiredKeys: [] }), { maxLength: 5 }), fc.anything()),
    code: fc.constantFrom('MDC_ECG_ELEC_POTL_II', 'MDC_ECG_HEART_RATE'),
    rate: fc.oneof(fc.double(), fc.integer()),
    t0: fc.oneof(fc.integer(), fc.double()),
    samples: fc.oneof(fc.array(fc.oneof(fc.integer(), fc.double(), fc.string())), fc.anything()),
  }, { requiredKeys: [] }), { seed: 17, numRuns: 30_000 })
  const counts = new Map<string, number>()
  let n = 0
  const run = (p: Buffer, wave: boolean) => {
    const o = outcome(p, wave)
    counts.set(o, (counts.get(o) ?? 0) + 1)
    n++
  }
  for (let i = 0; i < jsonValues.length; i++) run(Buffer.from(JSON.stringify(jsonValues[i]) ?? ''), i % 2 === 0)
  for (let i = 0; i < shaped.length; i++) run(Buffer.from(JSON.stringify(shaped[i])), i % 2 === 1)
  const bases = [...validObs, validWave].map((s) => Buffer.from(s))
  for (let i = 0; n < RUNS - 1000; i++) {
    const base = i % 3
    let p: Buffer = bases[base]!
    for (let k = 1 + Math.floor(r() * 3); k > 0; k--) p = mutate(p, r)
    run(p, base === 2)
  }
  // Hostile structures around the scan threshold and at the packet maximum.
  for (let i = 0; n < RUNS; i++) {
    const len = 4096 + Math.floor(r() * (MAX_PACKET - 4096))
    const unit = ['[', '{"a":', '{},', '"\\\\"', '1,', '"x', '[[]],'][i % 7]!
    run(Buffer.from(('{"ts":1,"obs":[' + unit.repeat(Math.ceil(len / unit.length))).slice(0, len)), i % 2 === 0)
  }
  const rejected = n - (counts.get('ok') ?? 0)
  console.log(`  ${n} payloads: ${counts.get('ok') ?? 0} decoded, ${rejected} rejected: ${[...counts].filter(([k]) => k !== 'ok').map(([k, v]) => `${k} ${v}`).join(', ')}`)
  assert.equal(n, RUNS)
  assert.equal([...counts.values()].reduce((a, b) => a + b, 0), RUNS)
  assert.ok((counts.get('ok') ?? 0) > 0 && rejected > 0)
})

/** Worst cases that fit one 256 KiB packet (before this change, JSON.parse ran on all of them). */
function worstCases(): [string, Buffer, boolean][] {
  const fill = (pre: string, unit: string, post: string) => Buffer.from(pre + unit.repeat(Math.floor((MAX_PACKET - pre.length - post.length) / unit.length)).slice(0, -1) + post)
  return [
    ['87k empty objects', fill('{"ts":1,"obs":[', '{},', '{}]}'), false],
    ['262k nested brackets', Buffer.from('{"ts":1,"obs":' + '['.repeat(MAX_PACKET - 20) + ']}'), false],
    ['one 256 KiB string', Buffer.from('{"ts":1,"obs":[],"x":"' + 'a'.repeat(MAX_PACKET - 30) + '"}'), false],
    ['20k objects then numbers', Buffer.from('{"ts":1,"obs":[' + '{},'.repeat(20_000) + '1,'.repeat((MAX_PACKET - 60_020) / 2) + '1]}'), false],
    ['arrays of 9,999 numbers', Buffer.from(('{"ts":1,"obs":[' + ('[' + '1,'.repeat(9_998) + '1],').repeat(14)).slice(0, MAX_PACKET - 4) + '1]]}'), false],
    ['4.8k valid observations', fill('{"ts":1796000000000,"obs":[', '{"code":"MDC_ECG_HEART_RATE","value":72,"unit":"/min"},', ']}'), false],
    ['87k samples (valid wave)', fill('{"code":"MDC_ECG_ELEC_POTL_II","rate":250,"t0":1796000000000,"samples":[', '-99,', ']}'), true],
    ['131k unique keys', Buffer.from('{' + Array.from({ length: 20_000 }, (_, i) => `"k${i}":1`).join(',') + '}'), false],
  ]
}

test('mqtt payload fuzz: the worst 256 KiB payloads block the event loop a few ms at most', async () => {
  const h = monitorEventLoopDelay({ resolution: 1 })
  let worst = 0
  const lines: string[] = []
  for (const [name, p, wave] of worstCases()) {
    assert.ok(p.length <= MAX_PACKET, `${name}: ${p.length} B`)
    let best = Infinity
    let reason = ''
    for (let i = 0; i < 7; i++) {
      const t0 = performance.now()
      reason = outcome(p, wave)
      best = Math.min(best, performance.now() - t0)
    }
    worst = Math.max(worst, best)
    lines.push(`${name} (${(p.length / 1024).toFixed(0)} KiB): ${best.toFixed(2)} ms, ${reason}`)
  }
  // The same, interleaved with timers, as the event loop sees it.
  h.enable()
  for (let round = 0; round < 5; round++) for (const [, p, wave] of worstCases()) {
    outcome(p, wave)
    await new Promise((r) => setImmediate(r))
  }
  h.disable()
  console.log(`  ${lines.join('\n  ')}\n  event-loop delay while decoding them: max ${(h.max / 1e6).toFixed(2)} ms, p99 ${(h.percentile(99) / 1e6).toFixed(2)} ms`)
  assert.ok(worst < 10, `worst decode ${worst.toFixed(2)} ms`)
})
