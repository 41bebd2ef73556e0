/**
 * MLLP framing: `0B` message `1C 0D` (protocols.md §7.1, [S-MLLP-HEX], [S-MLLP-RS]). Pure.
 * There is no length field and no checksum, so the deframer's only defences are the block
 * characters and a size bound.
 */
import { DecodeError } from '../../errors.js'
import type { LinkCounters } from '../counters.js'

export const SB = 0x0b // start block (VT)
export const EB = 0x1c // end block (FS)
export const CR = 0x0d
/** Bound on one message so a sender that never sends FS cannot grow memory without limit. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1 << 20

export function mllpFrame(message: string | Uint8Array): Buffer {
  const body = typeof message === 'string' ? Buffer.from(message, 'utf8') : message
  const out = Buffer.allocUnsafe(body.length + 3)
  out[0] = SB
  out.set(body, 1)
  out[body.length + 1] = EB
  out[body.length + 2] = CR
  return out
}

export interface MllpSink {
  /** One message body (between SB and EB). The view is only valid during the call. */
  message(body: Buffer): void
  reject(err: DecodeError): void
}

const NOISE = 0 // outside a frame; bytes here are line noise
const IN_MESSAGE = 1
const AFTER_EB = 2 // saw FS, expect CR
const DISCARD = 3 // frame rejected; skip to the next SB

/**
 * Streaming MLLP deframer: frames split across reads and several frames per read (§7.1).
 * An SB inside a message means the previous one was cut off: it is rejected as `truncated`
 * and the new message starts there.
 */
export class MllpDeframer {
  private buf = Buffer.allocUnsafe(4096)
  private len = 0
  private state = NOISE
  private noiseRun = false

  constructor(
    private readonly sink: MllpSink,
    private readonly counters?: LinkCounters,
    private readonly maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES,
  ) {}

  get midFrame(): boolean {
    return this.state === IN_MESSAGE || this.state === AFTER_EB
  }

  reset(): void {
    this.state = NOISE
    this.len = 0
  }

  push(chunk: Uint8Array): void {
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!
      if (b === SB) {
        if (this.state === IN_MESSAGE || this.state === AFTER_EB) this.fail('truncated', 'a new start block arrived inside a message')
        this.state = IN_MESSAGE
        this.len = 0
        this.noiseRun = false
        continue
      }
      switch (this.state) {
        case IN_MESSAGE:
          if (b === EB) this.state = AFTER_EB
          else this.append(b)
          break
        case AFTER_EB:
          if (b === CR) this.deliver()
          else this.fail('bad-end-block', `end block followed by 0x${b.toString(16).padStart(2, '0')} instead of CR`)
          break
        case NOISE:
          if (!this.noiseRun && this.counters) this.counters.resyncs++
          this.noiseRun = true
          break
        default: // DISCARD
          break
      }
    }
  }

  private append(b: number): void {
    // Checked per byte, not only when the buffer grows: a bound below the first buffer's 4 KiB
    // (the ADT listener's max_message_bytes may be 1 KiB) must hold too.
    if (this.len >= this.maxMessageBytes) {
      this.fail('too-long', `message longer than ${this.maxMessageBytes} bytes`)
      return
    }
    if (this.len === this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.min(this.buf.length * 2, this.maxMessageBytes))
      this.buf.copy(grown, 0, 0, this.len)
      this.buf = grown
    }
    this.buf[this.len++] = b
  }

  private deliver(): void {
    this.state = NOISE
    this.noiseRun = false
    if (this.counters) this.counters.frames++
    this.sink.message(this.buf.subarray(0, this.len))
  }

  private fail(reason: string, message: string): void {
    this.state = DISCARD
    this.len = 0
    if (this.counters) this.counters.resyncs++
    this.sink.reject(new DecodeError('hl7', reason, message))
  }
}
