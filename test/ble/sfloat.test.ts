import assert from 'node:assert/strict'
import { test } from 'node:test'
import { floatSpecial, floatToNumber, readFloat, readSfloat, sfloatSpecial, sfloatToNumber } from '../../drivers/ble/sfloat.js'
import { encodeFloat, encodeSfloat } from '../../drivers/sim/ble/encode.js'

// protocols.md §2.5 reference vectors [S-PHD].
const SFLOAT_VECTORS: ReadonlyArray<readonly [number, number]> = [
  [0x0002, 2], [0xf014, 2.0], [0xe0c8, 2.0], [0x1002, 20], [0x0b2e, -1234],
  [0x0062, 98], [0xf3cf, 97.5], [0xf2d0, 72.0], [0xf020, 3.2], [0xf16e, 36.6],
  [0x07fd, 2045], [0x8001, 1e-8], [0x7001, 1e7], [0x0000, 0], [0xf800, -0.2048 * 1000],
]
const FLOAT_VECTORS: ReadonlyArray<readonly [number, number]> = [
  [0x00000002, 2], [0xff000014, 2.0], [0xfe0000c8, 2.0], [0x01000002, 20], [0x00fffb2e, -1234],
  [0xff00016e, 36.6], [0xff0003e4, 99.6], [0xff000172, 37.0], [0xf6000001, 1e-10], [0x007ffffd, 8388605],
]
const SPECIALS = [
  ['nan', 0x07ff, 0x007fffff], ['nres', 0x0800, 0x00800000], ['pos-infinity', 0x07fe, 0x007ffffe],
  ['neg-infinity', 0x0802, 0x00800002], ['reserved', 0x0801, 0x00800001],
] as const

test('sfloat: reference vectors decode to their values', () => {
  for (const [raw, want] of SFLOAT_VECTORS) assert.equal(sfloatToNumber(raw), want, `0x${raw.toString(16)}`)
})

test('sfloat: FLOAT reference vectors decode to their values', () => {
  for (const [raw, want] of FLOAT_VECTORS) assert.equal(floatToNumber(raw), want, `0x${raw.toString(16)}`)
})

test('sfloat: every special value gives no number and its reason', () => {
  for (const [reason, s16, f32] of SPECIALS) {
    assert.equal(sfloatSpecial(s16), reason)
    assert.equal(floatSpecial(f32), reason)
    const b = Buffer.alloc(6)
    b.writeUInt16LE(s16, 0)
    b.writeUInt32LE(f32, 2)
    assert.deepEqual(readSfloat(b, 0), { value: Number.NaN, absent: reason })
    assert.deepEqual(readFloat(b, 2), { value: Number.NaN, absent: reason })
  }
})

test('sfloat: specials are matched on the whole raw value, so a NaN mantissa with an exponent is a number', () => {
  // Chosen behaviour (protocols.md §2.5, as Wireshark): 0xF7FF = 2047 × 10^-1, not NaN.
  assert.equal(sfloatSpecial(0xf7ff), null)
  assert.equal(sfloatToNumber(0xf7ff), 204.7)
  assert.equal(sfloatToNumber(0x2800), -204800) // mantissa 0x800 = -2048, exponent +2
  assert.equal(floatToNumber(0x017fffff), 83886070)
})

test('sfloat: encoder and decoder agree over the whole 16-bit space', () => {
  for (let raw = 0; raw <= 0xffff; raw++) {
    const v = sfloatToNumber(raw)
    if (Number.isNaN(v)) {
      assert.notEqual(sfloatSpecial(raw), null)
      continue
    }
    const exponent = (raw << 16) >> 28
    assert.equal(sfloatToNumber(encodeSfloat(v, exponent)), v, `0x${raw.toString(16)}`)
  }
})

test('sfloat: encodeFloat round-trips one-decimal temperatures', () => {
  for (let t = -400; t <= 1100; t++) assert.equal(floatToNumber(encodeFloat(t / 10, -1)), t / 10)
})
