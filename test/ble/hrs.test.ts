import assert from 'node:assert/strict'
import { test } from 'node:test'
import { codeOf } from '../../drivers/codes.js'
import { DecodeError } from '../../drivers/errors.js'
import { decodeHeartRateMeasurement, heartRateJson, parseBodySensorLocation, parseHeartRateMeasurement } from '../../drivers/ble/hrs.js'
import { Quality } from '../../drivers/records.js'

const hex = (s: string) => Buffer.from(s.replace(/\s/g, ''), 'hex')
const ctx = { deviceId: 'strap-1', hubTimeMs: 1_700_000_000_000, deviceSeq: 41 }

// protocols.md §1.4 worked examples, plus the contract's 8-byte variant of the last one.
const FIXTURES = [
  { bytes: '06 48', hr: 72, contact: 'detected', ee: null, rr: [] },
  { bytes: '04 48', hr: 72, contact: 'not-detected', ee: null, rr: [] },
  { bytes: '10 4B 00 04 C4 03', hr: 75, contact: 'unsupported', ee: null, rr: [1000, 941.40625] },
  { bytes: '19 96 00 34 12 00 03', hr: 150, contact: 'unsupported', ee: 4660, rr: [750] },
  { bytes: '19 96 00 34 12 00 00 03', hr: 150, contact: 'unsupported', ee: 4660, rr: [0] }, // odd trailing byte dropped
  { bytes: '02 48', hr: 72, contact: 'unsupported', ee: null, rr: [] }, // bit1 without bit2: not supported (§1.2)
  { bytes: 'E6 48', hr: 72, contact: 'detected', ee: null, rr: [] }, // RFU bits 5–7 ignored
  { bytes: '10 48', hr: 72, contact: 'unsupported', ee: null, rr: [] }, // RR flag, empty list
  { bytes: '01 FF FF', hr: 65535, contact: 'unsupported', ee: null, rr: [] },
  { bytes: '00 48 01 02', hr: 72, contact: 'unsupported', ee: null, rr: [] }, // trailing bytes without RR flag ignored
] as const

test('hrs: worked examples and edge fixtures decode to their fields', () => {
  for (const f of FIXTURES) {
    const m = parseHeartRateMeasurement(hex(f.bytes))
    assert.deepEqual(
      { hr: m.heartRateBpm, contact: m.sensorContact, ee: m.energyExpendedKj, rr: m.rrIntervalsMs },
      { hr: f.hr, contact: f.contact, ee: f.ee, rr: [...f.rr] },
      f.bytes,
    )
  }
})

test('hrs: every flags byte decodes its announced fields', () => {
  for (let flags = 0; flags < 256; flags++) {
    const wide = (flags & 1) !== 0
    const bytes = [flags, ...(wide ? [0x2c, 0x01] : [0x48])]
    if (flags & 0x08) bytes.push(0x10, 0x00)
    if (flags & 0x10) bytes.push(0x00, 0x04, 0x00, 0x02)
    const m = parseHeartRateMeasurement(Buffer.from(bytes))
    assert.equal(m.heartRateBpm, wide ? 300 : 72)
    assert.equal(m.energyExpendedKj, flags & 0x08 ? 16 : null)
    assert.deepEqual(m.rrIntervalsMs, flags & 0x10 ? [1000, 500] : [])
    assert.equal(m.sensorContact, (flags & 6) === 6 ? 'detected' : (flags & 6) === 4 ? 'not-detected' : 'unsupported')
  }
})

test('hrs: the largest RR lists decode in order, oldest first', () => {
  // Default ATT MTU 23 → 20-byte notification → 9 intervals; MTU 517 → 255 intervals.
  for (const count of [9, 255]) {
    const b = Buffer.alloc(2 + 2 * count)
    b[0] = 0x10
    b[1] = 60
    for (let i = 0; i < count; i++) b.writeUInt16LE(1024 + i, 2 + 2 * i)
    const rr = parseHeartRateMeasurement(b).rrIntervalsMs
    assert.equal(rr.length, count)
    assert.equal(rr[0], 1000)
    assert.equal(rr[count - 1], ((1024 + count - 1) * 1000) / 1024)
  }
})

test('hrs: truncated payloads are rejected as typed DecodeErrors', () => {
  for (const bytes of ['', '01', '00', '01 48', '08 48', '08 48 01', '09 48 00 01']) {
    assert.throws(() => parseHeartRateMeasurement(hex(bytes)), (e: unknown) => e instanceof DecodeError && e.reason === 'truncated' && e.protocol === 'hrs', bytes)
  }
})

test('hrs: records carry MDC heart rate, hub time, sequence and sensor-off quality', () => {
  const [ok] = decodeHeartRateMeasurement(hex('06 48'), ctx)
  assert.deepEqual(ok, { kind: 'obs', deviceId: 'strap-1', code: codeOf('MDC_ECG_HEART_RATE'), value: 72, unit: '/min', deviceTimeMs: ctx.hubTimeMs, hubTimeMs: ctx.hubTimeMs, deviceSeq: 41, quality: Quality.VALID })
  const [off] = decodeHeartRateMeasurement(hex('04 48'), ctx)
  assert.equal(off.quality, Quality.SENSOR_OFF)
})

test('hrs: JSON view matches the DESIGN.md contract shape', () => {
  assert.deepEqual(heartRateJson(hex('10 48 40 03')), {
    observations: [{ code: 'MDC_ECG_HEART_RATE', value: 72, unit: '/min' }],
    sensorContact: 'unsupported',
    energyExpendedKj: null,
    rrIntervalsMs: [812.5],
  })
  assert.deepEqual((heartRateJson(hex('04 48')) as { observations: unknown[] }).observations, [{ code: 'MDC_ECG_HEART_RATE', value: 72, unit: '/min', quality: ['sensor-off'] }])
})

test('hrs: body sensor location maps the enum and reads RFU values as unknown', () => {
  const names = ['other', 'chest', 'wrist', 'finger', 'hand', 'ear-lobe', 'foot', 'unknown', 'unknown']
  for (const [raw, name] of [0, 1, 2, 3, 4, 5, 6, 7, 255].map((r, i) => [r, names[i]] as const)) assert.equal(parseBodySensorLocation(Buffer.from([raw])), name)
  assert.throws(() => parseBodySensorLocation(Buffer.alloc(0)), DecodeError)
})
