/**
 * Serial transport on the serialport package: open with the protocol's line settings, reopen
 * with backoff after an unplug, and leave the port as we found it on stop (STYLE.md 12:
 * Fluent Bit's serial input restores the terminal settings on exit).
 *
 * Lifecycle: `start()` once, then `write()` any time while open, then `stop()` (idempotent).
 * Callbacks are never called after `stop()` resolves.
 *
 * Settings restore: serialport has no tcgetattr, so the termios state is saved with
 * `stty -F PATH -g` before each open and written back with `stty -F PATH <saved>` after our
 * close. After an unplug there is nothing to restore (the device node is gone); the next open
 * saves the replugged device's own settings.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { SerialPort } from 'serialport'
import type { LinkCounters } from './counters.js'

const run = promisify(execFile)

export interface SerialSettings {
  readonly baudRate: number
  readonly dataBits: 5 | 6 | 7 | 8
  readonly parity: 'none' | 'even' | 'odd'
  readonly stopBits: 1 | 2
  readonly rtscts: boolean
}

export interface SerialLinkOptions {
  readonly path: string
  readonly settings: SerialSettings
  readonly counters: LinkCounters
  /** First reopen delay after a failure; doubles up to `reopenMaxMs`. */
  readonly reopenInitialMs?: number
  readonly reopenMaxMs?: number
  readonly onData: (chunk: Buffer) => void
  /** The port is open (first time or after a replug). */
  readonly onOpen: () => void
  /** The port closed under us or an open failed; a reopen is scheduled. */
  readonly onDown: (cause: string) => void
  /** Something worth one log line that is not a state change (settings not restored). */
  readonly onWarn?: (message: string) => void
}

export class SerialLink {
  private port: SerialPort | undefined
  private savedSettings: string | undefined
  private reopenTimer: NodeJS.Timeout | undefined
  private backoffMs: number
  private stopped = false
  private down = false

  constructor(private readonly o: SerialLinkOptions) {
    if (!o.path.startsWith('/')) throw new RangeError(`serial port path "${o.path}" is not an absolute device path`)
    this.backoffMs = o.reopenInitialMs ?? 500
  }

  get isOpen(): boolean {
    return this.port?.isOpen === true
  }

  /** First open attempt; a missing device is not an error (it is retried with backoff). */
  async start(): Promise<void> {
    await this.openOnce()
  }

  async write(bytes: Buffer): Promise<void> {
    const port = this.port
    if (!port?.isOpen) throw new Error(`${this.o.path} is not open`)
    await new Promise<void>((resolve, reject) => {
      port.write(bytes, (err) => (err ? reject(err) : port.drain((e) => (e ? reject(e) : resolve()))))
    })
    this.o.counters.bytesOut += bytes.length
  }

  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    if (this.reopenTimer) clearTimeout(this.reopenTimer)
    const port = this.port
    this.port = undefined
    if (port?.isOpen) {
      await new Promise<void>((resolve) => port.close(() => resolve()))
      await this.restoreSettings()
    }
  }

  private async openOnce(): Promise<void> {
    if (this.stopped) return
    try {
      this.savedSettings = await saveSettings(this.o.path)
      const port = await openPort(this.o.path, this.o.settings)
      if (this.stopped) {
        await new Promise<void>((resolve) => port.close(() => resolve()))
        await this.restoreSettings()
        return
      }
      this.attach(port)
    } catch (err) {
      this.o.counters.openFailures++
      this.markDown(`open failed: ${(err as Error).message}`)
    }
  }

  private attach(port: SerialPort): void {
    this.port = port
    this.down = false
    this.backoffMs = this.o.reopenInitialMs ?? 500
    this.o.counters.opens++
    port.on('data', (chunk: Buffer) => {
      this.o.counters.bytesIn += chunk.length
      this.o.onData(chunk)
    })
    port.on('error', (err) => this.o.onWarn?.(`${this.o.path}: ${err.message}`))
    port.on('close', () => {
      if (this.stopped || this.port !== port) return
      this.port = undefined
      this.o.counters.disconnects++
      this.markDown('unplugged')
    })
    this.o.onOpen()
  }

  private markDown(cause: string): void {
    if (this.stopped) return
    if (!this.down) {
      this.down = true
      this.o.onDown(cause)
    }
    const delayMs = this.backoffMs
    this.backoffMs = Math.min(this.backoffMs * 2, this.o.reopenMaxMs ?? 10_000)
    this.reopenTimer = setTimeout(() => void this.openOnce(), delayMs)
  }

  private async restoreSettings(): Promise<void> {
    if (this.savedSettings === undefined) return
    try {
      await run('stty', ['-F', this.o.path, this.savedSettings])
    } catch (err) {
      this.o.onWarn?.(`${this.o.path}: port settings not restored: ${(err as Error).message}`)
    }
  }
}

/** `stty -g` output: the whole termios state in a form stty can write back. */
async function saveSettings(path: string): Promise<string> {
  const { stdout } = await run('stty', ['-F', path, '-g'])
  return stdout.trim()
}

function openPort(path: string, s: SerialSettings): Promise<SerialPort> {
  return new Promise((resolve, reject) => {
    const port = new SerialPort({ path, baudRate: s.baudRate, dataBits: s.dataBits, parity: s.parity, stopBits: s.stopBits, rtscts: s.rtscts, autoOpen: false })
    port.open((err) => (err ? reject(err) : resolve(port)))
  })
}
