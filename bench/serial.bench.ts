/**
 * Serial protocol throughput, frames/s per protocol:
 * - datex: stream deframing (256-byte reads) + checksum + Basic record decode;
 * - hl7: MLLP deframing + ORU^R01 parse + ACK build, per message;
 * - hl7.tcp: the TCP MLLP listener end to end (client writes, listener emits, ACK read back).
 * Run: npm run bench -- serial
 */
import { connect } from 'node:net'
import { DatexDeframer, encodeFrame } from '../drivers/serial/datex/frame.js'
import { decodeRecord } from '../drivers/serial/datex/record.js'
import { buildAckFrame } from '../drivers/serial/hl7/ack.js'
import { processMessage } from '../drivers/serial/hl7/decode.js'
import { MllpDeframer, mllpFrame } from '../drivers/serial/hl7/mllp.js'
import { Hl7TcpDriver } from '../drivers/serial/hl7/tcp.js'
import { buildBasicRecord, type EmulatorVitals } from '../drivers/sim/datex-record.js'
import { buildOru } from '../drivers/sim/hl7-message.js'
import type { DriverContext } from '../drivers/types.js'
import { opsPerSecond, type Bench, type BenchFigure } from './harness.js'

const VITALS: EmulatorVitals = { hrPerMin: 72, rrPerMin: 16, spo2Pct: 97, pulsePerMin: 71, nibp: { sysMmHg: 121, diaMmHg: 79, meanMmHg: 93 }, art: { sysMmHg: 118, diaMmHg: 70, meanMmHg: 86 }, tempCel: 36.9, etco2MmHg: 38 }
const FRAMES_PER_CALL = 64
const READ_BYTES = 256
/** 19200 baud, 8E1 = 11 bits per byte on the wire (§6.1). */
const DATEX_LINE_BYTES_PER_S = 19200 / 11

function datex(): BenchFigure[] {
  const record = buildBasicRecord(VITALS, { timeS: 1_700_000_000 })
  const frame = encodeFrame(record)
  const stream = Buffer.concat(Array.from({ length: FRAMES_PER_CALL }, () => frame))
  const deframer = new DatexDeframer({
    frame: (record) => {
      decodeRecord(record)
    },
    reject: (e) => {
      throw e
    },
  })
  const run = () => {
    for (let at = 0; at < stream.length; at += READ_BYTES) deframer.push(stream.subarray(at, at + READ_BYTES))
  }
  const fps = opsPerSecond(run, FRAMES_PER_CALL)
  const lineFps = DATEX_LINE_BYTES_PER_S / frame.length
  return [
    { name: 'serial.datex.decode', value: fps, unit: 'frames/s', note: `${frame.length}-byte Basic frame (${decodeRecord(record).values.length} values) in ${READ_BYTES}-byte reads; a 19200-baud 8E1 line carries ${lineFps.toFixed(1)} frames/s` },
  ]
}

function hl7(): BenchFigure[] {
  const body = buildOru(VITALS, { controlId: 'BENCH1', timeMs: 1_710_000_000_000 })
  const frame = mllpFrame(body)
  const stream = Buffer.concat(Array.from({ length: FRAMES_PER_CALL }, () => frame))
  const deframer = new MllpDeframer({
    message: (b) => {
      const out = processMessage(b)
      if (out.ack !== 'AA') throw out.error
      buildAckFrame({ message: out.message, controlId: out.content.controlId, code: 'AA', ackControlId: 'A1', nowMs: 1_710_000_000_000 })
    },
    reject: (e) => {
      throw e
    },
  })
  const run = () => {
    for (let at = 0; at < stream.length; at += READ_BYTES) deframer.push(stream.subarray(at, at + READ_BYTES))
  }
  const fps = opsPerSecond(run, FRAMES_PER_CALL)
  return [{ name: 'serial.hl7.decode+ack', value: fps, unit: 'frames/s', note: `${frame.length}-byte ORU^R01 with 9 NM OBX, ACK built per message` }]
}

async function hl7Tcp(): Promise<BenchFigure> {
  let emitted = 0
  const ac = new AbortController()
  const ctx: DriverContext = { signal: ac.signal, emit: () => void emitted++, status: () => undefined, reject: (r) => {
    throw new Error(`unexpected reject ${r}`)
  } }
  const driver = new Hl7TcpDriver({ deviceId: 'bench', port: 0 })
  await driver.start(ctx)
  const n = 5000
  const batch = Buffer.concat(Array.from({ length: 100 }, (_, i) => mllpFrame(buildOru(VITALS, { controlId: `B${i}`, timeMs: 1_710_000_000_000 }))))
  const sock = connect(driver.address()!.port, '127.0.0.1')
  await new Promise((r) => sock.once('connect', r))
  let acks = 0
  const started = process.hrtime.bigint()
  await new Promise<void>((resolve) => {
    sock.on('data', (d: Buffer) => {
      for (const b of d) if (b === 0x1c) acks++
      if (acks >= n) resolve()
    })
    for (let i = 0; i < n / 100; i++) sock.write(batch)
  })
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  sock.destroy()
  await driver.stop()
  ac.abort()
  return { name: 'serial.hl7.tcp', value: n / seconds, unit: 'frames/s', note: `${n} messages over one loopback connection, ${emitted} observations emitted, every ACK read back` }
}

const bench: Bench = async () => [...datex(), ...hl7(), await hl7Tcp()]
export default bench
