import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MDC } from '../../drivers/codes.js'
import { DecodeError } from '../../drivers/errors.js'
import { Quality } from '../../drivers/records.js'
import { newLinkCounters } from '../../drivers/serial/counters.js'
import { buildAck, buildAckFrame } from '../../drivers/serial/hl7/ack.js'
import { decodeHl7Frame, processMessage } from '../../drivers/serial/hl7/decode.js'
import { escape, parseMessage, STANDARD_DELIMITERS, text, unescape } from '../../drivers/serial/hl7/message.js'
import { MllpDeframer, mllpFrame } from '../../drivers/serial/hl7/mllp.js'
import { parseDtm } from '../../drivers/serial/hl7/time.js'

/** protocols.md §7.5 worked PCD-01 message, one segment per entry. */
const WORKED = [
  'MSH|^~\\&|BEDHUB^0012AB34CD56EF78^EUI-64|WARD7|CIS|HOSP|20240315143005+0000||ORU^R01^ORU_R01|MSG00001|P|2.6|||AL|NE||UNICODE UTF-8|||IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO',
  'PID|||123456^^^HOSP^MR||Doe^Jane||19700101|F',
  'PV1||I|WARD7^^12^HOSP',
  'OBR|1|MSG00001^BEDHUB^0012AB34CD56EF78^EUI-64|MSG00001^BEDHUB^0012AB34CD56EF78^EUI-64|182777000^monitoring of patient^SCT|||20240315143000+0000',
  'OBX|1||69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC|1.0.0.0|||||||X|||||||0012AB34CD56EF78^EUI-64',
  'OBX|2|NM|147842^MDC_ECG_HEART_RATE^MDC|1.1.1.1|72|264864^MDC_DIM_BEAT_PER_MIN^MDC|50-120||||R|||20240315143000+0000||||0012AB34CD56EF78^EUI-64',
  'OBX|3|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.2.1.1|97|262688^MDC_DIM_PERCENT^MDC|90-100||||R|||20240315143000+0000',
  'OBX|4|NM|150021^MDC_PRESS_BLD_NONINV_SYS^MDC|1.3.1.1|121|266016^MDC_DIM_MMHG^MDC|||||R|||20240315142800+0000',
  'OBX|5|NM|150364^MDC_TEMP_BODY^MDC|1.4.1.1|37.2|268192^MDC_DIM_DEGC^MDC|||||R|||20240315142500+0000',
]
const msg = (segments: string[]) => Buffer.from(segments.join('\r') + '\r')
const withObx = (...obx: string[]) => msg([WORKED[0]!, WORKED[3]!, ...obx])

test('hl7: the worked PCD-01 message parses to the §7.5 field values', () => {
  const m = parseMessage(msg(WORKED).toString())
  const obx = m.segments.filter((s) => s.id === 'OBX')[1]!
  const d = m.delimiters
  assert.equal(text(obx, 2, 1, d), 'NM')
  assert.equal(text(obx, 3, 1, d), '147842')
  assert.equal(text(obx, 4, 1, d), '1.1.1.1')
  assert.equal(text(obx, 5, 1, d), '72')
  assert.equal(text(obx, 6, 1, d), '264864')
  assert.equal(text(obx, 7, 1, d), '50-120')
  assert.equal(text(obx, 11, 1, d), 'R')
  assert.equal(text(obx, 14, 1, d), '20240315143000+0000')
  assert.equal(text(obx, 18, 2, d), 'EUI-64')
  assert.equal(text(m.msh, 10, 1, d), 'MSG00001')
  assert.equal(text(m.msh, 21, 1, d), 'IHE_PCD_001')
})

test('hl7: the worked message decodes to MDC codes, UCUM units and OBX-14 times', () => {
  const out = decodeHl7Frame(mllpFrame(msg(WORKED))) as { controlId: string; observations: { code: string; value: number; unit: string; quality: string[]; deviceTimeMs: number }[] }
  assert.equal(out.controlId, 'MSG00001')
  assert.deepEqual(out.observations.map((o) => [o.code, o.value, o.unit]), [
    ['MDC_ECG_HEART_RATE', 72, '/min'],
    ['MDC_PULS_OXIM_SAT_O2', 97, '%'],
    ['MDC_PRESS_BLD_NONINV_SYS', 121, 'mm[Hg]'],
    ['MDC_TEMP_BODY', 37.2, 'Cel'],
  ])
  assert.equal(out.observations[0]!.deviceTimeMs, Date.UTC(2024, 2, 15, 14, 30, 0))
  assert.equal(out.observations[2]!.deviceTimeMs, Date.UTC(2024, 2, 15, 14, 28, 0))
  assert.deepEqual(out.observations[0]!.quality, [])
})

test('hl7: the ACK for the worked message is byte-exact (§7.5, 122 bytes)', () => {
  const m = parseMessage(msg(WORKED).toString())
  const ack = buildAck({ message: m, controlId: 'MSG00001', code: 'AA', ackControlId: 'ACK00001', nowMs: Date.UTC(2024, 2, 15, 14, 30, 6) })
  assert.equal(ack, 'MSH|^~\\&|CIS|HOSP|BEDHUB^0012AB34CD56EF78^EUI-64|WARD7|20240315143006+0000||ACK^R01^ACK|ACK00001|P|2.6\rMSA|AA|MSG00001\r')
  const frame = buildAckFrame({ message: m, controlId: 'MSG00001', code: 'AA', ackControlId: 'ACK00001', nowMs: Date.UTC(2024, 2, 15, 14, 30, 6) })
  assert.equal(frame.length, 122)
  assert.deepEqual(frame.subarray(0, 10), Buffer.from('0B4D53487C5E7E5C267C', 'hex'))
  assert.deepEqual(frame.subarray(-6), Buffer.from('3030310D1C0D', 'hex'))
})

test('hl7: escape sequences decode after splitting and encode before joining (§7.2)', () => {
  const d = STANDARD_DELIMITERS
  assert.equal(unescape('cuff\\S\\L arm \\F\\ sitting', d), 'cuff^L arm | sitting')
  assert.equal(escape('cuff^L arm | sitting'), 'cuff\\S\\L arm \\F\\ sitting')
  assert.equal(unescape('a\\E\\b\\T\\c\\R\\d\\X4142\\e\\.br\\f\\H\\g', d), 'a\\b&c~dABe\nfg')
  assert.throws(() => unescape('open \\S', d), (e: DecodeError) => e.reason === 'bad-escape')
  assert.throws(() => unescape('\\X4\\', d), (e: DecodeError) => e.reason === 'bad-escape')
  // An escaped component separator inside a field does not split it.
  const m = parseMessage(`${WORKED[0]}\rNTE|1||cuff\\S\\L arm\r`)
  assert.equal(text(m.segments[1], 3, 1, m.delimiters), 'cuff^L arm')
})

test('hl7: LOINC identifiers, UCUM units, kPa conversion, empty and X values', () => {
  const out = processMessage(withObx(
    'OBX|1|NM|8867-4^Heart rate^LN||88|/min|||||F|||20240315143000+0100',
    'OBX|2|NM|151708^MDC_AWAY_CO2_ET^MDC||5.0|kPa^kPa^UCUM|||||F',
    'OBX|3|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC||||||||X',
    'OBX|4|NM|9999-9^Unknown^LN||1|/min|||||F',
    'OBX|5|ST|8867-4^Heart rate^LN||text||||||F',
    'OBX|6|NM|59408-5^SpO2^LN||96|%|||||F',
  ))
  assert.equal(out.ack, 'AA')
  if (out.ack !== 'AA') return
  const [hr, et, spo2, spo2b] = out.content.values
  assert.deepEqual([hr!.code, hr!.value, hr!.unit], [MDC.MDC_ECG_HEART_RATE, 88, '/min'])
  assert.equal(hr!.timeMs, Date.UTC(2024, 2, 15, 13, 30, 0), 'OBX-14 with +0100')
  assert.equal(et!.unit, 'mm[Hg]')
  assert.ok(Math.abs(et!.value - 37.5) < 0.01)
  assert.equal(spo2!.quality, Quality.UNAVAILABLE)
  assert.ok(Number.isNaN(spo2!.value))
  assert.equal(spo2b!.value, 96)
  assert.equal(out.content.values[0]!.timeMs !== out.content.values[1]!.timeMs, true, 'OBX without OBX-14 falls back to OBR-7')
  assert.equal(out.content.values[1]!.timeMs, Date.UTC(2024, 2, 15, 14, 30, 0))
  assert.deepEqual(out.content.skipped, ['unmapped-code', 'unsupported-value-type'])
})

test('hl7: rejected messages get AR or AE with a stable reason and an ERR segment', () => {
  const cases: [Buffer, string, string][] = [
    [Buffer.from(WORKED[0]!.replace('ORU^R01^ORU_R01', 'ADT^A01') + '\r'), 'AR', 'unsupported-message-type'],
    [Buffer.from(WORKED[0]!.replace('|2.6|', '|3.0|') + '\r'), 'AR', 'unsupported-version'],
    [Buffer.from(WORKED[0]!.replace('|MSG00001|', '||') + '\r'), 'AR', 'missing-control-id'],
    [Buffer.from('PID|||1\r'), 'AR', 'missing-msh'],
    [withObx('OBX|1|NM|147842^MDC_ECG_HEART_RATE^MDC||seventy|/min'), 'AE', 'bad-value'],
    [withObx('OBX|1|NM|147842^MDC_ECG_HEART_RATE^MDC||7\\X2\\|/min'), 'AE', 'bad-escape'],
    [withObx('OBX|1|NM|147842^MDC_ECG_HEART_RATE^MDC||70|/min|||||R|||2024133'), 'AE', 'bad-time'],
    [withObx('obx|1'), 'AE', 'bad-segment'],
  ]
  for (const [body, ack, reason] of cases) {
    const out = processMessage(body)
    assert.equal(out.ack, ack, reason)
    if (out.ack === 'AA') continue
    assert.equal(out.error.reason, reason)
    const text = buildAck({ message: out.message, controlId: out.controlId, code: out.ack, error: out.error, ackControlId: 'A1', nowMs: 0 })
    assert.match(text, new RegExp(`\\rMSA\\|${ack}\\|${out.controlId}\\rERR\\|\\|\\|\\d{3}\\^[^|]+\\^HL70357\\|E\\|`))
  }
})

test('hl7: CLI decoder exits on a missing MSH, truncation and framing errors', () => {
  const reasonOf = (buf: Buffer) => {
    try {
      decodeHl7Frame(buf)
      return 'accepted'
    } catch (e) {
      assert.ok(e instanceof DecodeError)
      return e.reason
    }
  }
  assert.equal(reasonOf(Buffer.from('0b4d53487c1c0d', 'hex')), 'bad-msh')
  const good = mllpFrame(msg(WORKED))
  assert.equal(reasonOf(good.subarray(0, 50)), 'truncated')
  assert.equal(reasonOf(good.subarray(1)), 'no-start-block')
  const badEnd = Buffer.from(good)
  badEnd[badEnd.length - 1] = 0x0a
  assert.equal(reasonOf(badEnd), 'bad-end-block')
  assert.equal(reasonOf(Buffer.concat([good, good])), 'trailing-bytes')
  assert.equal(reasonOf(good), 'accepted')
})

test('hl7: MLLP deframer handles split reads, several frames per read and noise', () => {
  const counters = newLinkCounters()
  const bodies: string[] = []
  const reasons: string[] = []
  const d = new MllpDeframer({ message: (b) => bodies.push(b.toString()), reject: (e) => reasons.push(e.reason) }, counters)
  const a = mllpFrame('MSH|A')
  const b = mllpFrame('MSH|B')
  const stream = Buffer.concat([Buffer.from('xx'), a, b, Buffer.from([0x0b, 0x41]), a, Buffer.from('\n'), b])
  for (let i = 0; i < stream.length; i += 3) d.push(stream.subarray(i, i + 3))
  assert.deepEqual(bodies, ['MSH|A', 'MSH|B', 'MSH|A', 'MSH|B'])
  assert.deepEqual(reasons, ['truncated'])
  assert.equal(counters.frames, 4)
  assert.equal(counters.resyncs, 3) // leading noise, the cut-off frame, the stray LF
})

test('hl7: DTM parsing with and without offsets', () => {
  assert.equal(parseDtm('20240315143000+0000'), Date.UTC(2024, 2, 15, 14, 30))
  assert.equal(parseDtm('20240315143000.25-0500'), Date.UTC(2024, 2, 15, 19, 30, 0, 250))
  assert.equal(parseDtm('202403151430', 60), Date.UTC(2024, 2, 15, 13, 30))
  assert.equal(parseDtm('2024'), Date.UTC(2024, 0, 1))
  assert.throws(() => parseDtm('20241315'), (e: DecodeError) => e.reason === 'bad-time')
})
