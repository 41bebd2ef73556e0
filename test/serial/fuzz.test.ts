/**
 * Fuzzing both serial parsers with 100,000 random and mutated frames each (issue 4): nothing
 * but a DecodeError escapes, every reject carries a reason from the documented set, and the
 * streaming deframers account for every frame. Seeded, so a failure reproduces.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { DecodeError, isDecodeError } from '../../drivers/errors.js'
import { newLinkCounters } from '../../drivers/serial/counters.js'
import { DatexDeframer, encodeFrame } from '../../drivers/serial/datex/frame.js'
import { decodeDatexFrame, decodeRecord } from '../../drivers/serial/datex/record.js'
import { buildAck } from '../../drivers/serial/hl7/ack.js'
import { decodeHl7Frame, processMessage } from '../../drivers/serial/hl7/decode.js'
import { MllpDeframer, mllpFrame } from '../../drivers/serial/hl7/mllp.js'
import { buildBasicRecord, DatexMarker } from '../../drivers/sim/datex-record.js'
import { buildOru } from '../../drivers/sim/hl7-message.js'
import { prng } from '../../drivers/sim/prng.js'

const RUNS = 100_000

const DATEX_REASONS = new Set(['truncated', 'bad-checksum', 'bad-escape', 'too-long', 'length-mismatch', 'bad-subrecord', 'no-flag', 'trailing-bytes'])
const HL7_REASONS = new Set([
  'truncated', 'bad-end-block', 'too-long', 'no-start-block', 'trailing-bytes', 'missing-msh', 'bad-msh', 'bad-segment',
  'bad-escape', 'bad-value', 'bad-time', 'unsupported-message-type', 'unsupported-version', 'unsupported-processing-id', 'missing-control-id',
])

function mutate(buf: Buffer, rnd: () => number, special: readonly number[]): Buffer {
  const int = (n: number) => Math.floor(rnd() * n)
  const out = Buffer.from(buf)
  switch (int(9)) {
    case 0: // bit flips
      for (let k = 1 + int(3); k > 0; k--) out[int(out.length)]! ^= 1 << int(8)
      return out
    case 1: // random byte
      out[int(out.length)] = int(256)
      return out
    case 2: // a framing byte where it does not belong
      out[int(out.length)] = special[int(special.length)]!
      return out
    case 3: // truncation
      return out.subarray(0, int(out.length))
    case 4: // deletion
      return Buffer.concat([out.subarray(0, int(out.length)), out.subarray(int(out.length))])
    case 5: { // insertion
      const at = int(out.length)
      return Buffer.concat([out.subarray(0, at), Buffer.from([rnd() < 0.5 ? special[int(special.length)]! : int(256)]), out.subarray(at)])
    }
    case 6: { // splice of two halves
      const at = int(out.length)
      return Buffer.concat([out.subarray(at), out.subarray(0, at)])
    }
    case 7: // pure random bytes
      return Buffer.from(Array.from({ length: int(400) }, () => int(256)))
    default: // unchanged: valid frames must keep passing inside the mix
      return out
  }
}

function randomDatexFrame(rnd: () => number): Buffer {
  const pick = <T,>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!
  const markers = Object.values(DatexMarker)
  const rec = buildBasicRecord(
    {
      hrPerMin: rnd() < 0.9 ? 30 + rnd() * 150 : undefined,
      rrPerMin: rnd() < 0.8 ? rnd() * 40 : undefined,
      spo2Pct: rnd() < 0.9 ? 70 + rnd() * 30 : undefined,
      pulsePerMin: 60,
      nibp: rnd() < 0.5 ? { sysMmHg: 120, diaMmHg: 80, meanMmHg: 93 } : undefined,
      art: rnd() < 0.3 ? { sysMmHg: 110, diaMmHg: 70, meanMmHg: 85 } : undefined,
      tempCel: rnd() < 0.5 ? 35 + rnd() * 5 : undefined,
      etco2MmHg: rnd() < 0.5 ? rnd() * 60 : undefined,
    },
    { timeS: 1_700_000_000 + Math.floor(rnd() * 1e6), markers: rnd() < 0.3 ? { [pick([6, 14, 78, 92, 124, 138])]: pick(markers) } : undefined },
  )
  return encodeFrame(rec)
}

function checkValues(json: object): void {
  for (const o of (json as { observations: { value: number | null; quality: string[] }[] }).observations) {
    assert.ok(o.quality.length === 0 ? typeof o.value === 'number' && Number.isFinite(o.value) : o.value === null, 'a marker never becomes a value')
  }
}

test('datex: fuzz 100,000 random and mutated frames; only typed rejects with known reasons', () => {
  const rnd = prng(0xda7e)
  const counters = newLinkCounters()
  const framingRejects: Record<string, number> = {}
  const recordRejects: Record<string, number> = {}
  let streamRecords = 0
  const deframer = new DatexDeframer({
    frame: (record) => {
      try {
        decodeRecord(record)
        streamRecords++
      } catch (e) {
        if (!isDecodeError(e)) throw e
        assert.ok(DATEX_REASONS.has(e.reason), e.reason)
        recordRejects[e.reason] = (recordRejects[e.reason] ?? 0) + 1
      }
    },
    reject: (e) => {
      assert.ok(DATEX_REASONS.has(e.reason), e.reason)
      framingRejects[e.reason] = (framingRejects[e.reason] ?? 0) + 1
    },
  }, counters)
  const cliReasons: Record<string, number> = {}
  let accepted = 0
  for (let i = 0; i < RUNS; i++) {
    const frame = mutate(randomDatexFrame(rnd), rnd, [0x7e, 0x7d, 0x5e, 0x5d])
    try {
      checkValues(decodeDatexFrame(frame))
      accepted++
    } catch (e) {
      assert.ok(e instanceof DecodeError, `non-DecodeError escaped: ${String(e)}`)
      assert.ok(DATEX_REASONS.has(e.reason), `unknown reason ${e.reason}`)
      cliReasons[e.reason] = (cliReasons[e.reason] ?? 0) + 1
    }
    for (let at = 0; at < frame.length; ) {
      const n = 1 + Math.floor(rnd() * 64)
      deframer.push(frame.subarray(at, at + n))
      at += n
    }
  }
  const cliRejects = Object.values(cliReasons).reduce((a, b) => a + b, 0)
  assert.equal(accepted + cliRejects, RUNS, 'every frame is either decoded or rejected with a reason')
  assert.ok(accepted > RUNS / 20 && cliRejects > RUNS / 2, `accepted ${accepted}, rejected ${cliRejects}`)
  for (const r of ['bad-checksum', 'bad-escape', 'truncated', 'no-flag']) assert.ok(cliReasons[r]! > 0, `reason ${r} exercised`)
  assert.equal(counters.checksumFailures, framingRejects['bad-checksum'], 'every checksum failure is counted once')
  const sum = (r: Record<string, number>) => Object.values(r).reduce((x, y) => x + y, 0)
  assert.equal(counters.frames, streamRecords + sum(recordRejects), 'every checked frame is decoded or rejected with a reason')
  assert.ok(sum(framingRejects) > RUNS / 4 && streamRecords > RUNS / 20, `stream decoded ${streamRecords}, rejected ${sum(framingRejects)}`)
})

test('hl7: fuzz 100,000 random and mutated messages; every message gets an ACK code, rejects carry known reasons', () => {
  const rnd = prng(0x4c7)
  const counters = newLinkCounters()
  let streamMessages = 0
  let framingRejects = 0
  const streamAcks: Record<string, number> = {}
  const deframer = new MllpDeframer({
    message: (body) => {
      streamMessages++
      const out = processMessage(body)
      streamAcks[out.ack] = (streamAcks[out.ack] ?? 0) + 1
    },
    reject: (e) => {
      assert.ok(HL7_REASONS.has(e.reason), e.reason)
      framingRejects++
    },
  }, counters)
  const acks: Record<string, number> = {}
  const reasons: Record<string, number> = {}
  for (let i = 0; i < RUNS; i++) {
    const body = Buffer.from(buildOru(
      { hrPerMin: rnd() < 0.9 ? Math.round(40 + rnd() * 120) : undefined, spo2Pct: 90 + Math.round(rnd() * 10), tempCel: rnd() < 0.3 ? 37.2 : undefined },
      { controlId: `M${i}`, timeMs: 1_710_000_000_000 + i * 1000, bed: rnd() < 0.1 ? 'b^1|x' : undefined },
    ))
    const mutated = rnd() < 0.5 ? mutate(body, rnd, [0x7c, 0x5e, 0x5c, 0x26, 0x7e, 0x0d]) : body
    const out = processMessage(mutated) // contract: never throws for bad input
    acks[out.ack] = (acks[out.ack] ?? 0) + 1
    if (out.ack !== 'AA') {
      assert.ok(HL7_REASONS.has(out.error.reason), `unknown reason ${out.error.reason}`)
      reasons[out.error.reason] = (reasons[out.error.reason] ?? 0) + 1
    }
    if (i % 16 === 0) checkAck(out)
    const mutateFrame = rnd() < 0.2
    const frame = mutateFrame ? mutate(mllpFrame(mutated), rnd, [0x0b, 0x1c, 0x0d]) : mllpFrame(mutated)
    if (mutateFrame || i % 8 === 0) cliDecode(frame)
    for (let at = 0; at < frame.length; ) {
      const n = 1 + Math.floor(rnd() * 256)
      deframer.push(frame.subarray(at, at + n))
      at += n
    }
  }
  const sum = (r: Record<string, number>) => Object.values(r).reduce((x, y) => x + y, 0)
  assert.equal(sum(acks), RUNS)
  assert.ok(acks.AA! > RUNS / 2 && acks.AE! > 100 && acks.AR! > 100, JSON.stringify(acks))
  for (const r of ['bad-segment', 'bad-escape', 'bad-value', 'bad-msh', 'missing-msh']) assert.ok(reasons[r]! > 0, `reason ${r} exercised: ${JSON.stringify(reasons)}`)
  assert.equal(counters.frames, streamMessages)
  assert.equal(sum(streamAcks), streamMessages, 'every delivered message got exactly one ACK code')
  assert.ok(streamMessages > RUNS * 0.7 && framingRejects > 100, `stream delivered ${streamMessages}, rejected ${framingRejects}`)
})

/** The ACK for any outcome builds and parses back (an ACK is itself refused as not ORU^R01). */
function checkAck(out: ReturnType<typeof processMessage>): void {
  const ack = buildAck(out.ack === 'AA'
    ? { message: out.message, controlId: out.content.controlId, code: 'AA', ackControlId: 'A', nowMs: 0 }
    : { message: out.message, controlId: out.controlId, code: out.ack, error: out.error, ackControlId: 'A', nowMs: 0 })
  assert.equal(processMessage(Buffer.from(ack)).ack, 'AR')
}

function cliDecode(frame: Buffer): void {
  try {
    decodeHl7Frame(frame)
  } catch (e) {
    assert.ok(e instanceof DecodeError, `non-DecodeError escaped: ${String(e)}`)
    assert.ok(HL7_REASONS.has(e.reason), `unknown reason ${e.reason}`)
  }
}
