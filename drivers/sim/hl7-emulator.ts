/**
 * An HL7 monitor or PCD-01 gateway: sends an ORU^R01 every period over MLLP, on a
 * (pseudo-)terminal or a TCP connection, and reads back the ACKs (protocols.md §7).
 *
 *   const emu = await startHl7Emulator('/tmp/ward/bed2-monitor', () => ({ hrPerMin: 80 }), { periodMs: 1000 })
 *   const gw = await startHl7Emulator({ host: '127.0.0.1', port: 2575 }, vitals)
 */
import { connect, type Socket } from 'node:net'
import { SerialPort } from 'serialport'
import { parseMessage, text } from '../serial/hl7/message.js'
import { MllpDeframer, mllpFrame } from '../serial/hl7/mllp.js'
import type { EmulatorVitals } from './datex-record.js'
import { buildOru } from './hl7-message.js'

export interface Hl7EmulatorOptions {
  /** Period between messages; default 1000 ms. */
  readonly periodMs?: number
  readonly now?: () => number
}

export interface ReceivedAck {
  readonly code: string
  readonly controlId: string
  /** ERR-8 text on AE/AR. */
  readonly error: string
}

export interface Hl7Emulator {
  readonly acks: readonly ReceivedAck[]
  readonly messagesSent: number
  /** Scheduled sends that failed (the line went away). */
  readonly writeErrors: number
  hold(on: boolean): void
  /** One ORU now; returns its control id. */
  sendMessage(): Promise<string>
  sendRaw(bytes: Uint8Array): Promise<void>
  stop(): Promise<void>
}

type Line = { write(b: Uint8Array): Promise<void>; close(): Promise<void> }

export async function startHl7Emulator(
  target: string | { host: string; port: number },
  vitals: () => EmulatorVitals,
  options: Hl7EmulatorOptions = {},
): Promise<Hl7Emulator> {
  const acks: ReceivedAck[] = []
  const deframer = new MllpDeframer({
    message: (body) => acks.push(readAck(body.toString('utf8'))),
    reject: () => undefined, // garbage from the hub side is not the emulator's business
  })
  const line = typeof target === 'string' ? await openSerial(target, deframer) : await openTcp(target, deframer)
  const now = options.now ?? Date.now
  let sent = 0
  let held = false
  let writeErrors = 0
  const sendMessage = async () => {
    const controlId = `SIM${(++sent).toString().padStart(6, '0')}`
    await line.write(mllpFrame(buildOru(vitals(), { controlId, timeMs: now() })))
    return controlId
  }
  const timer = setInterval(() => {
    if (!held) sendMessage().catch(() => writeErrors++) // line gone mid-write: counted, schedule goes on
  }, options.periodMs ?? 1000)
  return {
    acks,
    get messagesSent() {
      return sent
    },
    get writeErrors() {
      return writeErrors
    },
    hold: (on) => {
      held = on
    },
    sendMessage,
    sendRaw: (b) => line.write(b),
    stop: async () => {
      clearInterval(timer)
      await line.close()
    },
  }
}

function readAck(message: string): ReceivedAck {
  try {
    const m = parseMessage(message)
    const msa = m.segments.find((s) => s.id === 'MSA')
    const err = m.segments.find((s) => s.id === 'ERR')
    return { code: text(msa, 1, 1, m.delimiters), controlId: text(msa, 2, 1, m.delimiters), error: text(err, 8, 1, m.delimiters) }
  } catch (e) {
    return { code: '?', controlId: '', error: (e as Error).message }
  }
}

async function openSerial(path: string, deframer: MllpDeframer): Promise<Line> {
  const port = new SerialPort({ path, baudRate: 9600, autoOpen: false })
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())))
  port.on('data', (chunk: Buffer) => deframer.push(chunk))
  port.on('error', () => undefined) // an unplugged line errors; the test owns that scenario
  return {
    write: (b) => new Promise((resolve, reject) => (port.isOpen ? port.write(b, (e) => (e ? reject(e) : resolve())) : resolve())),
    close: () => new Promise((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve())),
  }
}

async function openTcp(addr: { host: string; port: number }, deframer: MllpDeframer): Promise<Line> {
  const socket: Socket = await new Promise((resolve, reject) => {
    const s = connect(addr.port, addr.host, () => resolve(s))
    s.once('error', reject)
  })
  socket.on('data', (chunk: Buffer) => deframer.push(chunk))
  socket.on('error', () => undefined) // peer reset: the stop() path or the test sees the close
  return {
    write: (b) => new Promise((resolve, reject) => socket.write(b, (e) => (e ? reject(e) : resolve()))),
    close: () => new Promise((resolve) => socket.end(() => resolve())),
  }
}
