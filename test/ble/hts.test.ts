import assert from 'node:assert/strict'
import { test } from 'node:test'
import { codeOf } from '../../drivers/codes.js'
import { DecodeError } from '../../drivers/errors.js'
import { decodeTemperatureMeasurement, parseTemperatureMeasurement, temperatureJson } from '../../drivers/ble/hts.js'
import { Quality } from '../../drivers/records.js'
import { encodeTemperature } from '../../drivers/sim/ble/encode.js'

const hex = (s: string) => Buffer.from(s.replace(/\s/g, ''), 'hex')
const ctx = { deviceId: 'thermo-1', hubTimeMs: 1_700_000_000_000, deviceSeq: 3 }

test('hts: worked examples of protocols.md §3', () => {
  const a = parseTemperatureMeasurement(hex('00 6E 01 00 FF'))
  assert.deepEqual([a.temperature.value, a.sentUnit, a.timestampMs, a.temperatureType], [36.6, 'Cel', null, null])
  const b = parseTemperatureMeasurement(hex('06 72 01 00 FF E8 07 03 0F 0E 1E 00 02'))
  assert.deepEqual([b.temperature.value, b.timestampMs, b.temperatureType], [37.0, Date.UTC(2024, 2, 15, 14, 30), 'body'])
  const c = parseTemperatureMeasurement(hex('01 E4 03 00 FF'))
  assert.equal(c.sentValue, 99.6)
  assert.equal(c.sentUnit, '[degF]')
  assert.ok(Math.abs(c.temperature.value - 37.5556) < 1e-4)
})

test('hts: Fahrenheit is converted to Cel in records and JSON, the sent value is kept', () => {
  const [rec] = decodeTemperatureMeasurement(hex('01 E4 03 00 FF'), ctx)
  assert.equal(rec.code, codeOf('MDC_TEMP_BODY'))
  assert.equal(rec.unit, 'Cel')
  assert.ok(Math.abs(rec.value - (99.6 - 32) * 5 / 9) < 1e-9)
  assert.deepEqual(temperatureJson(hex('01 E4 03 00 FF')), {
    observations: [{ code: 'MDC_TEMP_BODY', value: 37.5556, unit: 'Cel' }],
    sent: { value: 99.6, unit: '[degF]' },
    deviceTime: null,
    temperatureType: null,
  })
})

test('hts: every flags byte decodes its announced fields; RFU bits are ignored', () => {
  const t = Date.UTC(2025, 5, 30, 23, 59, 59)
  for (let flags = 0; flags < 256; flags++) {
    const b = Buffer.concat([Buffer.from([flags]), hex('72 01 00 FF'), flags & 0x02 ? encodeTemperature({ value: 0, timeMs: t }).subarray(5, 12) : Buffer.alloc(0), flags & 0x04 ? Buffer.from([9]) : Buffer.alloc(0)])
    const m = parseTemperatureMeasurement(b)
    assert.equal(m.sentUnit, flags & 0x01 ? '[degF]' : 'Cel')
    assert.equal(m.timestampMs, flags & 0x02 ? t : null)
    assert.equal(m.temperatureType, flags & 0x04 ? 'tympanum' : null)
    if (flags & 0x06) assert.throws(() => parseTemperatureMeasurement(b.subarray(0, b.length - 1)), (e: unknown) => e instanceof DecodeError && e.reason === 'truncated')
  }
})

test('hts: every FLOAT special value gives no number and a reason, in either unit', () => {
  for (const reason of ['nan', 'nres', 'pos-infinity', 'neg-infinity', 'reserved'] as const) {
    for (const unit of ['Cel', '[degF]'] as const) {
      const payload = encodeTemperature({ value: reason, unit })
      const [rec] = decodeTemperatureMeasurement(payload, ctx)
      assert.ok(Number.isNaN(rec.value))
      assert.ok(rec.quality & Quality.UNAVAILABLE)
      assert.equal((temperatureJson(payload) as { observations: Array<{ absent: string }> }).observations[0].absent, reason)
    }
  }
})

test('hts: temperature types, device time and malformed payloads', () => {
  const types = ['unknown', 'armpit', 'body', 'ear', 'finger', 'gi-tract', 'mouth', 'rectum', 'toe', 'tympanum', 'unknown']
  for (let raw = 0; raw <= 10; raw++) assert.equal(parseTemperatureMeasurement(encodeTemperature({ value: 37, type: raw })).temperatureType, types[raw])
  const [rec] = decodeTemperatureMeasurement(encodeTemperature({ value: 38.2, timeMs: Date.UTC(2025, 1, 1) }), ctx)
  assert.equal(rec.deviceTimeMs, Date.UTC(2025, 1, 1))
  for (const bad of ['', '02', '00 6E 01 00', '02 6E 01 00 FF E8 07 03']) {
    assert.throws(() => parseTemperatureMeasurement(hex(bad)), (e: unknown) => e instanceof DecodeError && e.protocol === 'hts' && e.reason === 'truncated', bad)
  }
  assert.throws(() => parseTemperatureMeasurement(hex('02 6E 01 00 FF E8 07 02 1E 0E 1E 00')), (e: unknown) => e instanceof DecodeError && e.reason === 'bad-timestamp')
})
