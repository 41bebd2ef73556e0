import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MDC } from '../../drivers/codes.js'
import { DecodeError } from '../../drivers/errors.js'
import { DatexDriver } from '../../drivers/serial/datex/driver.js'
import { Quality } from '../../drivers/records.js'
import { newLinkCounters } from '../../drivers/serial/counters.js'
import { checksum, DatexDeframer, encodeFrame } from '../../drivers/serial/datex/frame.js'
import { decodeDatexFrame, decodeRecord } from '../../drivers/serial/datex/record.js'
import { buildRequestFrames, buildRequestRecord, decodeRequest } from '../../drivers/serial/datex/request.js'
import { buildBasicRecord, DatexMarker } from '../../drivers/sim/datex-record.js'
import { cleanupStack, lastStatus, recordingContext } from './helpers.js'

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex')

/** protocols.md §6.7: the worked monitor record, assembled from its table, byte by byte. */
function workedRecord(): Buffer {
  const rec = Buffer.alloc(318)
  hex('3E 01 01 09 34 12 00 F1 53 65 00 00 00 00 00 00 00 00 01 00 00 FF').copy(rec, 0)
  hex('03 00 00 00 00 00 48 00 00 00 00 00 00 00 10 00').copy(rec, 44)
  hex('03 00 00 00 00 00 E0 2E 40 1F 54 24 01 80').copy(rec, 116)
  hex('03 00 00 00 00 00 60 0E').copy(rec, 130)
  hex('03 00 00 00 00 00 48 26 48 00 00 00 00 00').copy(rec, 162)
  hex('03 00 00 00 00 00 F4 01 00 00 0E 00 B0 1D').copy(rec, 176)
  return rec
}

function collect(): { frames: Buffer[]; rejects: DecodeError[]; sink: { frame(b: Buffer): void; reject(e: DecodeError): void } } {
  const frames: Buffer[] = []
  const rejects: DecodeError[] = []
  return { frames, rejects, sink: { frame: (b) => frames.push(Buffer.from(b)), reject: (e) => rejects.push(e) } }
}

test('datex: the worked request (level 9, 10 s, all classes) is byte-exact (§6.4)', () => {
  const want = hex(`7E 31 00 00 09 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 FF 00 00 00 00 00 00 00 00 00 00
    00 00 00 00 00 00 00 00 01 0A 00 0E 00 00 00 00 00 52 7E`)
  assert.deepEqual(encodeFrame(buildRequestRecord(9, 10, 0x0e)), want)
  const stop = decodeRequest(buildRequestRecord(9, 0))
  assert.deepEqual(stop, { driLevel: 9, recordType: 1, intervalS: 0, classBits: 0 })
  assert.equal(buildRequestFrames(5, [11, 10]).filter((b) => b === 0x7e).length, 4)
})

test('datex: escaping vector 12 7E 34 7D 56 frames as §6.7 says and deframes back', () => {
  const payload = hex('12 7E 34 7D 56')
  assert.equal(checksum(payload), 0x97)
  assert.deepEqual(encodeFrame(payload), hex('7E 12 7D 5E 34 7D 5D 56 97 7E'))
})

test('datex: the worked monitor record decodes to the §6.7 values', () => {
  const rec = workedRecord()
  // §6.7 states 0xA7, but the bytes it lists sum to 0xF9 (824+91+617+113+185+467 = 2297 ≡ 0xF9,
  // re-checked by hand and in Python): the stated checksum is an error in the digest, reported.
  assert.equal(checksum(rec), 0xf9)
  const out = decodeDatexFrame(encodeFrame(rec)) as { observations: { code: string; value: number | null; unit: string; quality: string[] }[]; deviceTimeMs: number }
  const byCode = Object.fromEntries(out.observations.map((o) => [o.code, o]))
  assert.equal(out.deviceTimeMs, 1_700_000_000_000)
  assert.deepEqual(byCode.MDC_ECG_HEART_RATE, { code: 'MDC_ECG_HEART_RATE', value: 72, unit: '/min', quality: [] })
  assert.equal(byCode.MDC_RESP_RATE!.value, 16)
  assert.equal(byCode.MDC_PRESS_BLD_NONINV_SYS!.value, 120)
  assert.equal(byCode.MDC_PRESS_BLD_NONINV_DIA!.value, 80)
  assert.equal(byCode.MDC_PRESS_BLD_NONINV_MEAN!.value, 93)
  assert.deepEqual(byCode.MDC_PULS_RATE_NON_INV, { code: 'MDC_PULS_RATE_NON_INV', value: null, unit: '/min', quality: ['unavailable'] })
  assert.equal(byCode.MDC_TEMP_BODY!.value, 36.8)
  assert.equal(byCode.MDC_TEMP_BODY!.unit, 'Cel')
  assert.equal(byCode.MDC_PULS_OXIM_SAT_O2!.value, 98)
  assert.equal(byCode.MDC_PULS_OXIM_PULS_RATE!.value, 72)
  assert.deepEqual(byCode.MDC_AWAY_CO2_ET, { code: 'MDC_AWAY_CO2_ET', value: 38, unit: 'mm[Hg]', quality: [] })
  assert.equal(out.observations.filter((o) => o.code === 'MDC_RESP_RATE').length, 1, 'CO2 rr is not sent beside a valid impedance rr')
})

test('datex: markers become quality flags and never values', () => {
  const rec = buildBasicRecord(
    { hrPerMin: 60, spo2Pct: 97, pulsePerMin: 60, nibp: { sysMmHg: 120, diaMmHg: 80, meanMmHg: 90 }, tempCel: 37 },
    { timeS: 1_700_000_000, markers: { 6: DatexMarker.DISCONTINUITY, 124: DatexMarker.OVER_RANGE, 78: DatexMarker.UNDER_RANGE, 80: DatexMarker.NOT_CALIBRATED, 92: DatexMarker.NOT_UPDATED } },
  )
  const { values } = decodeRecord(rec)
  const q = (code: number) => values.find((v) => v.code === code)!
  assert.equal(q(147842).quality, Quality.CALIBRATING)
  assert.ok(Number.isNaN(q(147842).value))
  assert.equal(q(150456).quality, Quality.OUT_OF_RANGE)
  assert.equal(q(150021).quality, Quality.OUT_OF_RANGE)
  assert.equal(q(150022).quality, Quality.CALIBRATING)
  assert.equal(q(150364).quality, Quality.UNAVAILABLE)
  for (const v of values) assert.ok(v.quality === 0 ? Number.isFinite(v.value) : Number.isNaN(v.value))
  const json = decodeDatexFrame(encodeFrame(rec)) as { observations: { code: string; quality: string[] }[] }
  assert.deepEqual(json.observations.find((o) => o.code === 'MDC_ECG_HEART_RATE')!.quality, ['calibrating'])
})

test('datex: invasive pressures carry their labels and site codes', () => {
  const rec = buildBasicRecord({ hrPerMin: 70, art: { sysMmHg: 118.5, diaMmHg: 71, meanMmHg: 88 } }, { timeS: 1_700_000_000 })
  rec.writeUInt32LE(3, 44 + 30) // P2 exists+active, labelled CVP (2)
  rec.writeUInt16LE(2, 44 + 34)
  rec.writeInt16LE(800, 44 + 40)
  rec.writeUInt32LE(3, 44 + 240) // P5 with label 13 (= P5)
  rec.writeUInt16LE(13, 44 + 244)
  rec.writeInt16LE(2500, 44 + 246)
  const json = decodeDatexFrame(encodeFrame(rec)) as { observations: { code: string; value: number; label?: string }[] }
  const find = (code: string) => json.observations.find((o) => o.code === code)
  assert.deepEqual(find('MDC_PRESS_BLD_ART_SYS'), { code: 'MDC_PRESS_BLD_ART_SYS', value: 118.5, unit: 'mm[Hg]', quality: [], label: 'ART' })
  assert.equal(find('MDC_PRESS_BLD_VEN_CENT_MEAN')?.value, 8)
  assert.equal(find('MDC_PRESS_BLD_SYS')?.label, 'P5')
  assert.equal(find('MDC_PRESS_BLD_SYS')?.value, 25)
})

test('datex: CLI decoder rejects malformed frames with stable reasons', () => {
  const good = encodeFrame(workedRecord())
  const reasonOf = (buf: Buffer) => {
    try {
      decodeDatexFrame(buf)
    } catch (e) {
      assert.ok(e instanceof DecodeError)
      return e.reason
    }
    return 'accepted'
  }
  assert.equal(reasonOf(hex('7e00017e')), 'truncated')
  const badSum = Buffer.from(good)
  badSum[badSum.length - 2]! ^= 0x01
  assert.equal(reasonOf(badSum), 'bad-checksum')
  const badEsc = Buffer.concat([good.subarray(0, 10), hex('7D 11'), good.subarray(10)])
  assert.equal(reasonOf(badEsc), 'bad-escape')
  assert.equal(reasonOf(good.subarray(0, good.length - 1)), 'truncated')
  assert.equal(reasonOf(good.subarray(1)), 'no-flag')
  assert.equal(reasonOf(Buffer.concat([good, good])), 'trailing-bytes')
  const shortLen = workedRecord()
  shortLen.writeInt16LE(300, 0)
  assert.equal(reasonOf(encodeFrame(shortLen)), 'length-mismatch')
  assert.equal(reasonOf(good), 'accepted')
})

test('datex: deframer copes with split reads, garbage, empty frames and counts resyncs', () => {
  const good = encodeFrame(workedRecord())
  const counters = newLinkCounters()
  const c = collect()
  const d = new DatexDeframer(c.sink, counters)
  const stream = Buffer.concat([hex('01 02 03'), good, hex('7E 7E'), hex('55 66'), good, good])
  for (let i = 0; i < stream.length; i += 7) d.push(stream.subarray(i, i + 7))
  assert.equal(c.frames.length, 3)
  assert.deepEqual(c.frames[0], workedRecord())
  assert.deepEqual(c.rejects.map((e) => e.reason), ['truncated']) // the 55 66 run between two frames
  assert.equal(counters.frames, 3)
  assert.equal(counters.resyncs, 2) // leading noise + the rejected run
  assert.equal(d.midFrame, false)
})

test('datex: the first subrecord is decoded even when its sr_type is not 1, and r_time 0 falls back to the subrecord time', () => {
  const rec = buildBasicRecord({ hrPerMin: 61 }, { timeS: 1_700_000_123 })
  rec[18] = 2 // sr_desc[0].type: a 10-s trend subrecord (same layout)
  rec.writeUInt32LE(0, 6) // r_time unset
  const out = decodeRecord(rec)
  assert.equal(out.timeS, 1_700_000_123)
  assert.equal(out.values.find((v) => v.code === MDC.MDC_ECG_HEART_RATE)?.value, 61)
})

test('datex: driver stamps plausible device time, else hub time, and numbers records monotonically', async (t) => {
  const cleanup = cleanupStack(t)
  const hubMs = Date.UTC(2026, 0, 1)
  const ctx = recordingContext()
  const driver = new DatexDriver({ deviceId: 'mon-t', port: '/nonexistent/ttyDATEX', now: () => hubMs, reopenInitialMs: 60_000 })
  cleanup(() => driver.stop())
  await driver.start(ctx) // the port is absent: start still resolves and retries later (not a configuration error)
  assert.equal(lastStatus(ctx)?.state, 'disconnected')
  const at = (timeS: number) => {
    const rec = buildBasicRecord({ hrPerMin: 70 }, { timeS })
    driver.frame(rec)
    return ctx.records.filter((r) => r.code === MDC.MDC_ECG_HEART_RATE).pop()!
  }
  const good = at(hubMs / 1000 - 30)
  assert.equal(good.deviceTimeMs, hubMs - 30_000)
  assert.equal(at(0).deviceTimeMs, hubMs, 'unset clock → hub time')
  assert.equal(at(hubMs / 1000 + 3 * 86_400).deviceTimeMs, hubMs, 'days ahead → hub time')
  assert.deepEqual(ctx.records.map((r) => r.deviceSeq), [1, 2, 3, 4, 5, 6], 'one deviceSeq per observation, monotonic')
  assert.ok(ctx.records.every((r) => r.deviceId === 'mon-t' && r.hubTimeMs === hubMs && r.kind === 'obs'))
})

test('datex: one respiration rate per record: impedance when valid, else CO2', () => {
  const rr = (v: Parameters<typeof buildBasicRecord>[0], markers?: Record<number, number>) =>
    decodeRecord(buildBasicRecord(v, { timeS: 1_700_000_000, markers })).values.filter((x) => x.code === MDC.MDC_RESP_RATE)
  assert.deepEqual(rr({ hrPerMin: 60, rrPerMin: 12, etco2MmHg: 38 }).map((x) => x.value), [12])
  assert.deepEqual(rr({ hrPerMin: 60, rrPerMin: 12, etco2MmHg: 38 }, { 14: DatexMarker.INVALID }).map((x) => x.value), [12], 'CO2 rr when the impedance rr is invalid')
  const none = rr({ hrPerMin: 60, etco2MmHg: 38 })
  assert.equal(none.length, 1)
  assert.equal(none[0]!.quality, Quality.UNAVAILABLE)
  assert.deepEqual(rr({ spo2Pct: 97 }), [], 'no ECG and no CO2 module: no rate at all')
})
