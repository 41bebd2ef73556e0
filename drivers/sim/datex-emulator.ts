/**
 * A Datex-Ohmeda S/5 monitor on a (pseudo-)terminal: it waits for the displayed-values request,
 * then sends Basic records at the requested interval until asked to stop (protocols.md §6.4).
 * The demo ward and the pty tests drive it through socat-linked ptys.
 *
 *   const emu = await startDatexEmulator('/tmp/ward/bed1-monitor', () => ({ hrPerMin: 72, spo2Pct: 97 }))
 *   ...
 *   await emu.stop()
 */
import { SerialPort } from 'serialport'
import { isDecodeError } from '../errors.js'
import { DatexDeframer, encodeFrame } from '../serial/datex/frame.js'
import { decodeRequest, DRI_PH_DISPL, type DatexRequest } from '../serial/datex/request.js'
import { buildBasicRecord, type EmulatorVitals, type MarkerOverrides } from './datex-record.js'

export interface DatexEmulatorOptions {
  /** The monitor's DRI level; it answers only requests for that level (§6.4). Default 9 (2005). */
  readonly driLevel?: number
  readonly plugId?: number
  /** Overrides the requested period (tests and the demo want sub-second updates). */
  readonly periodMs?: number
  /** Markers to put into every record (class offset → raw int16). */
  readonly markers?: () => MarkerOverrides | undefined
  readonly now?: () => number
}

export interface DatexEmulator {
  /** Requests received so far, in order. */
  readonly requests: readonly DatexRequest[]
  /** Records sent so far. */
  readonly recordsSent: number
  /** Scheduled writes that failed (the line went away). */
  readonly writeErrors: number
  /** True while periodic transmission is on. */
  readonly transmitting: boolean
  /** While held, scheduled records are skipped (a monitor that fell silent; tests inject frames). */
  hold(on: boolean): void
  /** Write raw bytes (garbage, split or corrupt frames) to the line. */
  sendRaw(bytes: Uint8Array): Promise<void>
  /** One framed record now, whatever the schedule. */
  sendRecord(): Promise<void>
  /** Close the port (the monitor's side). */
  stop(): Promise<void>
}

export async function startDatexEmulator(
  ptyPath: string,
  vitals: () => EmulatorVitals,
  options: DatexEmulatorOptions = {},
): Promise<DatexEmulator> {
  const port = new SerialPort({ path: ptyPath, baudRate: 19200, dataBits: 8, parity: 'even', stopBits: 1, rtscts: true, autoOpen: false })
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())))
  const now = options.now ?? Date.now
  const driLevel = options.driLevel ?? 9
  const requests: DatexRequest[] = []
  let timer: NodeJS.Timeout | undefined
  let recordsSent = 0
  let writeErrors = 0
  let held = false
  let recordNumber = 0

  const write = (bytes: Uint8Array) =>
    new Promise<void>((resolve, reject) => {
      if (!port.isOpen) return resolve() // the line is gone (unplug test): a real monitor just talks into nothing
      port.write(bytes, (err) => (err ? reject(err) : resolve()))
    })
  const sendRecord = async () => {
    const rec = buildBasicRecord(vitals(), { timeS: Math.floor(now() / 1000), driLevel, plugId: options.plugId, recordNumber: (recordNumber = (recordNumber + 1) & 0xff), markers: options.markers?.() })
    await write(encodeFrame(rec))
    recordsSent++
  }
  const schedule = (intervalS: number) => {
    if (timer) clearInterval(timer)
    timer = undefined
    if (intervalS <= 0) return
    timer = setInterval(() => {
      if (held) return
      sendRecord().catch(() => writeErrors++) // line dropped mid-write: counted, the schedule goes on
    }, options.periodMs ?? intervalS * 1000)
  }
  const deframer = new DatexDeframer({
    frame: (record) => {
      try {
        const req = decodeRequest(record)
        requests.push(req)
        if (req.driLevel === driLevel && req.recordType === DRI_PH_DISPL) schedule(req.intervalS)
      } catch (err) {
        if (!isDecodeError(err)) throw err
        // Not a request: a real monitor ignores it, and so do we.
      }
    },
    reject: () => undefined, // line noise towards the monitor is not the emulator's business
  })
  port.on('data', (chunk: Buffer) => deframer.push(chunk))
  port.on('error', () => undefined) // an unplugged line errors; the test owns that scenario

  return {
    requests,
    get recordsSent() {
      return recordsSent
    },
    get writeErrors() {
      return writeErrors
    },
    get transmitting() {
      return timer !== undefined
    },
    hold: (on: boolean) => {
      held = on
    },
    sendRaw: write,
    sendRecord,
    stop: async () => {
      schedule(0)
      if (port.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()))
    },
  }
}
