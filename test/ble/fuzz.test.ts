/**
 * Fuzz: 100,000 random and mutated payloads per decoder. Whatever the bytes, a decoder either
 * returns records or throws a DecodeError with a stable reason; nothing else escapes.
 * Seeded PRNG, so a failure reproduces; the failing payload is printed.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseBatteryLevel } from '../../drivers/ble/battery.js'
import { decodeHeartRateMeasurement, heartRateJson } from '../../drivers/ble/hrs.js'
import { decodeTemperatureMeasurement, temperatureJson } from '../../drivers/ble/hts.js'
import { ControlPointAssembler, settingsOfResponse } from '../../drivers/ble/pmd/control-point.js'
import { decodeEcgFrame, ecgFrameJson } from '../../drivers/ble/pmd/ecg-frame.js'
import { decodePlxContinuous, decodePlxSpotCheck, plxContinuousJson, plxSpotCheckJson } from '../../drivers/ble/plx.js'
import { isDecodeError } from '../../drivers/errors.js'

const PAYLOADS_PER_DECODER = 100_000
const ctx = { deviceId: 'fuzz', hubTimeMs: 1_700_000_000_000, deviceSeq: 0 }

// Valid seeds (protocols.md worked examples) that the mutator starts from.
const SEEDS: Record<string, string[]> = {
  hrs: ['0648', '0448', '104b0004c403', '19960034120003'],
  'plx-cont': ['0062004800', '00cff3d0f2', '1c62004800400000200020f0', '00ff07ff07', '1f620048006100490060004a0040000020000020f0'],
  'plx-spot': ['0161004b00e807030f0e1e00', '0f61004b00e807030f0e1e000010000800000af0'],
  hts: ['006e0100ff', '06720100ffe807030f0e1e0002', '01e40300ff'],
  'pmd-ecg': ['00daebc39e984352080085ffffc80100ffffff', '00009435770000000000028 0ff028000'.replace(/ /g, '')],
  'pmd-cp': ['f001000000000182000101 0e00'.replace(/ /g, ''), 'f002000000', '010082'],
  battery: ['5a', '00', '64'],
}

const DECODERS: Record<string, (b: Buffer) => unknown> = {
  hrs: (b) => (decodeHeartRateMeasurement(b, ctx), heartRateJson(b)),
  'plx-cont': (b) => (decodePlxContinuous(b, ctx), plxContinuousJson(b)),
  'plx-spot': (b) => (decodePlxSpotCheck(b, ctx), plxSpotCheckJson(b)),
  hts: (b) => (decodeTemperatureMeasurement(b, ctx), temperatureJson(b)),
  'pmd-ecg': (b) => (decodeEcgFrame(b, ctx, 599_616_023_000_000_000n), ecgFrameJson(b)),
  'pmd-cp': (b) => {
    const r = new ControlPointAssembler().feed(b)
    return r?.kind === 'response' && r.op === 1 && r.status === 0 ? settingsOfResponse(r.parameters) : r
  },
  battery: (b) => parseBatteryLevel(b),
}

/** xorshift32: fast, seeded. */
function prng(seed: number): () => number {
  let s = seed >>> 0 || 1
  return () => {
    s ^= s << 13
    s ^= s >>> 17
    s ^= s << 5
    return (s >>> 0) / 0x1_0000_0000
  }
}

function randomPayload(rand: () => number, maxLen: number): Buffer {
  const b = Buffer.allocUnsafe(Math.floor(rand() * (maxLen + 1)))
  for (let i = 0; i < b.length; i++) b[i] = (rand() * 256) | 0
  return b
}

/** Bit flips, byte replacements, truncation and extension of a valid seed. */
function mutate(rand: () => number, seed: Buffer): Buffer {
  let b = Buffer.from(seed)
  const ops = 1 + Math.floor(rand() * 3)
  for (let k = 0; k < ops; k++) {
    const op = Math.floor(rand() * 4)
    if (op === 0 && b.length > 0) b[Math.floor(rand() * b.length)] ^= 1 << Math.floor(rand() * 8)
    else if (op === 1 && b.length > 0) b[Math.floor(rand() * b.length)] = (rand() * 256) | 0
    else if (op === 2) b = b.subarray(0, Math.floor(rand() * (b.length + 1)))
    else b = Buffer.concat([b, randomPayload(rand, 8)])
  }
  return b
}

for (const [name, decode] of Object.entries(DECODERS)) {
  test(`ble fuzz: ${name} rejects ${PAYLOADS_PER_DECODER} random and mutated payloads only with DecodeError`, () => {
    const rand = prng(0xb1e + name.length * 7919)
    const seeds = SEEDS[name].map((h) => Buffer.from(h, 'hex'))
    const reasons = new Set<string>()
    let accepted = 0
    for (let i = 0; i < PAYLOADS_PER_DECODER; i++) {
      const payload = i % 2 === 0 ? randomPayload(rand, 40) : mutate(rand, seeds[i % seeds.length])
      try {
        decode(payload)
        accepted++
      } catch (err) {
        if (!isDecodeError(err)) assert.fail(`${name} threw ${String(err)} on ${payload.toString('hex')}`)
        reasons.add(err.reason)
      }
    }
    // Both outcomes must occur, or the fuzzer is not reaching the decoder's logic.
    assert.ok(accepted > 0 && reasons.size > 0, `accepted ${accepted}, reasons ${[...reasons]}`)
  })
}
