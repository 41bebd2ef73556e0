import assert from 'node:assert/strict'
import { test } from 'node:test'
import { codeOf } from '../../drivers/codes.js'
import { DecodeError } from '../../drivers/errors.js'
import { decodePlxContinuous, decodePlxSpotCheck, parsePlxContinuous, parsePlxSpotCheck, plxContinuousJson, plxSpotCheckJson } from '../../drivers/ble/plx.js'
import { deviceSensorStatusQuality, measurementStatusQuality } from '../../drivers/ble/plx-status.js'
import { Quality } from '../../drivers/records.js'
import { encodePlxContinuous, encodePlxSpotCheck } from '../../drivers/sim/ble/encode.js'

const hex = (s: string) => Buffer.from(s.replace(/\s/g, ''), 'hex')
const ctx = { deviceId: 'ox-1', hubTimeMs: 1_700_000_000_000, deviceSeq: 7 }
const SPO2 = codeOf('MDC_PULS_OXIM_SAT_O2')
const PR = codeOf('MDC_PULS_OXIM_PULS_RATE')

test('plx: continuous worked examples of protocols.md §2.6', () => {
  const a = parsePlxContinuous(hex('00 62 00 48 00'))
  assert.deepEqual([a.normal.spo2Pct.value, a.normal.pulseRateBpm.value], [98, 72])
  const b = parsePlxContinuous(hex('00 CF F3 D0 F2'))
  assert.deepEqual([b.normal.spo2Pct.value, b.normal.pulseRateBpm.value], [97.5, 72.0])
  const c = parsePlxContinuous(hex('1C 62 00 48 00 40 00 00 20 00 20 F0'))
  assert.equal(c.measurementStatus, 0x0040)
  assert.equal(c.deviceSensorStatus, 0x002000)
  assert.equal(c.pulseAmplitudeIndexPct?.value, 3.2)
  const recs = decodePlxContinuous(hex('1C 62 00 48 00 40 00 00 20 00 20 F0'), ctx)
  assert.deepEqual(recs.map((r) => [r.code, r.value, r.quality, r.deviceSeq]), [
    [SPO2, 98, Quality.QUESTIONABLE | Quality.SENSOR_OFF, 7],
    [PR, 72, Quality.QUESTIONABLE | Quality.SENSOR_OFF, 8],
  ])
})

test('plx: NaN SpO2/PR give no number, UNAVAILABLE quality and an absent reason in JSON', () => {
  const recs = decodePlxContinuous(hex('00 FF 07 FF 07'), ctx)
  assert.ok(recs.every((r) => Number.isNaN(r.value) && r.quality === Quality.UNAVAILABLE))
  const json = plxContinuousJson(hex('00 FF 07 FF 07')) as { observations: unknown[] }
  assert.deepEqual(json.observations[0], { code: 'MDC_PULS_OXIM_SAT_O2', value: null, unit: '%', quality: ['unavailable'], absent: 'nan' })
})

test('plx: every SFLOAT special value maps to its reason and quality', () => {
  const cases = [
    ['nan', Quality.UNAVAILABLE], ['reserved', Quality.UNAVAILABLE], ['nres', Quality.UNAVAILABLE | Quality.OUT_OF_RANGE],
    ['pos-infinity', Quality.UNAVAILABLE | Quality.OUT_OF_RANGE], ['neg-infinity', Quality.UNAVAILABLE | Quality.OUT_OF_RANGE],
  ] as const
  for (const [reason, quality] of cases) {
    const payload = encodePlxContinuous({ spo2Pct: reason, pulseRateBpm: 70 })
    const m = parsePlxContinuous(payload)
    assert.equal(m.normal.spo2Pct.absent, reason)
    const [spo2, pr] = decodePlxContinuous(payload, ctx)
    assert.equal(spo2.quality, quality, reason)
    assert.equal(pr.quality, Quality.VALID)
  }
})

test('plx: every continuous flags byte decodes its announced fields in order', () => {
  for (let flags = 0; flags < 256; flags++) {
    const b: number[] = [flags, 0x61, 0x00, 0x4b, 0x00]
    if (flags & 0x01) b.push(0x60, 0x00, 0x4c, 0x00)
    if (flags & 0x02) b.push(0x5f, 0x00, 0x4d, 0x00)
    if (flags & 0x04) b.push(0x80, 0x00)
    if (flags & 0x08) b.push(0x00, 0x80, 0x00)
    if (flags & 0x10) b.push(0x0a, 0xf0)
    const m = parsePlxContinuous(Buffer.from(b))
    assert.equal(m.normal.spo2Pct.value, 97)
    assert.equal(m.fast?.pulseRateBpm.value ?? null, flags & 0x01 ? 76 : null)
    assert.equal(m.slow?.spo2Pct.value ?? null, flags & 0x02 ? 95 : null)
    assert.equal(m.measurementStatus, flags & 0x04 ? 0x0080 : null)
    assert.equal(m.deviceSensorStatus, flags & 0x08 ? 0x8000 : null)
    assert.equal(m.pulseAmplitudeIndexPct?.value ?? null, flags & 0x10 ? 1 : null)
    // A payload one byte short of what the flags announce is truncated, whatever the flags.
    assert.throws(() => parsePlxContinuous(Buffer.from(b.slice(0, -1))), (e: unknown) => e instanceof DecodeError && e.reason === 'truncated')
  }
})

test('plx: spot-check worked example with timestamp, and every flags byte', () => {
  const [spo2, pr] = decodePlxSpotCheck(hex('01 61 00 4B 00 E8 07 03 0F 0E 1E 00'), ctx)
  assert.equal(spo2.value, 97)
  assert.equal(pr.value, 75)
  assert.equal(spo2.deviceTimeMs, Date.UTC(2024, 2, 15, 14, 30, 0))
  for (let flags = 0; flags < 256; flags++) {
    const b: number[] = [flags, 0x61, 0x00, 0x4b, 0x00]
    if (flags & 0x01) b.push(0xe8, 0x07, 0x03, 0x0f, 0x0e, 0x1e, 0x00)
    if (flags & 0x02) b.push(0x00, 0x10)
    if (flags & 0x04) b.push(0x00, 0x08, 0x00)
    if (flags & 0x08) b.push(0x0a, 0xf0)
    const m = parsePlxSpotCheck(Buffer.from(b))
    const timed = (flags & 0x01) !== 0 && (flags & 0x10) === 0
    assert.equal(m.timestampMs, timed ? Date.UTC(2024, 2, 15, 14, 30, 0) : null)
    assert.equal(m.deviceClockNotSet, (flags & 0x10) !== 0)
    assert.equal(m.measurementStatus, flags & 0x02 ? 0x1000 : null)
    assert.equal(m.deviceSensorStatus, flags & 0x04 ? 0x0800 : null)
    assert.equal(m.pulseAmplitudeIndexPct?.value ?? null, flags & 0x08 ? 1 : null)
    assert.throws(() => parsePlxSpotCheck(Buffer.from(b.slice(0, -1))), DecodeError)
  }
})

test('plx: spot-check timestamps: unknown fields fall back to hub time, impossible dates are rejected', () => {
  const unknown = decodePlxSpotCheck(hex('01 61 00 4B 00 00 00 03 0F 0E 1E 00'), ctx)
  assert.equal(unknown[0].deviceTimeMs, ctx.hubTimeMs)
  for (const bad of ['01 61 00 4B 00 E8 07 0D 0F 0E 1E 00', '01 61 00 4B 00 E8 07 02 1E 0E 1E 00', '01 61 00 4B 00 E8 07 03 0F 18 1E 00', '01 61 00 4B 00 10 00 03 0F 0E 1E 00']) {
    assert.throws(() => parsePlxSpotCheck(hex(bad)), (e: unknown) => e instanceof DecodeError && e.reason === 'bad-timestamp', bad)
  }
  // With "device clock not set" the timestamp is not a time: not validated, not used.
  assert.equal(parsePlxSpotCheck(hex('11 61 00 4B 00 E8 07 0D 0F 0E 1E 00')).timestampMs, null)
})

test('plx: status bits map to quality flags', () => {
  assert.equal(measurementStatusQuality(0), Quality.VALID)
  assert.equal(measurementStatusQuality(1 << 5 | 1 << 7 | 1 << 8 | 1 << 9), Quality.VALID)
  assert.equal(measurementStatusQuality(1 << 6), Quality.QUESTIONABLE)
  assert.equal(measurementStatusQuality(1 << 10 | 1 << 11), Quality.DEMO)
  assert.equal(measurementStatusQuality(1 << 12), Quality.CALIBRATING)
  assert.equal(measurementStatusQuality(1 << 13), Quality.UNAVAILABLE)
  assert.equal(measurementStatusQuality(1 << 14), Quality.QUESTIONABLE)
  assert.equal(measurementStatusQuality(1 << 15), Quality.UNAVAILABLE)
  assert.equal(measurementStatusQuality(0x1f), Quality.VALID) // RFU bits 0–4
  assert.equal(deviceSensorStatusQuality(1), Quality.VALID)
  for (const bit of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14]) assert.equal(deviceSensorStatusQuality(1 << bit), Quality.QUESTIONABLE, `bit ${bit}`)
  for (const bit of [11, 13, 15]) assert.equal(deviceSensorStatusQuality(1 << bit), Quality.SENSOR_OFF, `bit ${bit}`)
  assert.equal(deviceSensorStatusQuality(0xff0000), Quality.VALID) // RFU bits 16–23
})

test('plx: JSON views carry status names, quality names and the device time', () => {
  const cont = plxContinuousJson(encodePlxContinuous({ spo2Pct: 96, pulseRateBpm: 80, measurementStatus: 1 << 10, deviceSensorStatus: 1 << 15 })) as Record<string, unknown>
  assert.deepEqual(cont.measurementStatus, ['data-for-demonstration'])
  assert.deepEqual(cont.deviceSensorStatus, ['sensor-disconnected'])
  assert.deepEqual((cont.observations as Array<{ quality: string[] }>)[0].quality, ['sensor-off', 'demo'])
  const spot = plxSpotCheckJson(encodePlxSpotCheck({ spo2Pct: 95, pulseRateBpm: 61, timeMs: Date.UTC(2025, 0, 2, 3, 4, 5) })) as Record<string, unknown>
  assert.equal(spot.deviceTime, '2025-01-02T03:04:05.000Z')
})
