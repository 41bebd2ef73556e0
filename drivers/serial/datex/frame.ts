/**
 * Datex-Ohmeda S/5 computer interface framing: flags, byte stuffing and the 8-bit checksum
 * (protocols.md §6.2, [S-VSC]). Pure: Buffers in, records or typed rejects out.
 */
import { DecodeError } from '../../errors.js'
import type { LinkCounters } from '../counters.js'

/** FRAMECHAR: opens and closes every frame [S-VSC]. */
export const FLAG = 0x7e
/** CTRLCHAR: the next byte is an escaped 0x7E or 0x7D [S-VSC]. */
export const ESC = 0x7d
/** Header (40) + maximum data (1450) [S-VSC]; the checksum byte comes on top. */
export const MAX_RECORD_BYTES = 40 + 1450
/** A record shorter than its own 40-byte header cannot be valid (§6.3). */
export const HEADER_BYTES = 40

/** 8-bit sum (mod 256) of the un-escaped record bytes (§6.2). */
export function checksum(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let sum = 0
  for (let i = start; i < end; i++) sum = (sum + bytes[i]!) & 0xff
  return sum
}

/**
 * Frames one record: flag, stuffed record, stuffed checksum, flag.
 * The checksum byte is escaped too when it is 0x7E/0x7D: §6.2 recommends it (monitor behaviour
 * UNCONFIRMED; VSCapture leaves it raw, which only matters for 2 checksum values in 256).
 */
export function encodeFrame(record: Uint8Array): Buffer {
  const sum = checksum(record)
  let extra = sum === FLAG || sum === ESC ? 1 : 0
  for (const b of record) if (b === FLAG || b === ESC) extra++
  const out = Buffer.allocUnsafe(record.length + 3 + extra)
  let o = 0
  out[o++] = FLAG
  for (let i = 0; i <= record.length; i++) {
    const b = i < record.length ? record[i]! : sum
    if (b === FLAG || b === ESC) {
      out[o++] = ESC
      out[o++] = b & 0x5f // 7E -> 5E, 7D -> 5D (§6.2)
    } else out[o++] = b
  }
  out[o++] = FLAG
  return out
}

/** Receives what the deframer finds. */
export interface DatexFrameSink {
  /** One checked record (checksum removed). The view is only valid during the call. */
  frame(record: Buffer): void
  /** One thrown-away frame, with a stable reason. */
  reject(err: DecodeError): void
}

const HUNT = 0 // waiting for an opening flag; other bytes are line noise
const IN_FRAME = 1
const ESCAPED = 2 // previous byte was 0x7D
const DISCARD = 3 // frame already rejected; skip to the next flag

/**
 * Streaming deframer: feed it reads of any size; it copes with frames split across reads,
 * several frames per read and garbage between frames. A closing flag may double as the next
 * opening flag, so `7E 7E` is an empty frame and is skipped (§6.2).
 */
export class DatexDeframer {
  private readonly buf = Buffer.allocUnsafe(MAX_RECORD_BYTES + 1)
  private len = 0
  private state = HUNT

  constructor(
    private readonly sink: DatexFrameSink,
    private readonly counters?: LinkCounters,
  ) {}

  /** True while bytes of an unfinished frame are buffered. */
  get midFrame(): boolean {
    return (this.state === IN_FRAME && this.len > 0) || this.state === ESCAPED
  }

  /** Forget any partial frame (after a reopen the old bytes belong to nobody). */
  reset(): void {
    this.len = 0
    this.state = HUNT
  }

  push(chunk: Uint8Array): void {
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!
      if (b === FLAG) {
        this.onFlag()
        continue
      }
      switch (this.state) {
        case HUNT:
          this.state = DISCARD // line noise before any flag: one resync per run
          if (this.counters) this.counters.resyncs++
          break
        case IN_FRAME:
          if (b === ESC) this.state = ESCAPED
          else this.append(b)
          break
        case ESCAPED:
          if (b === 0x5e || b === 0x5d) {
            this.state = IN_FRAME
            this.append(b | 0x20) // 5E -> 7E, 5D -> 7D (§6.2)
          } else this.fail('bad-escape', `0x7D followed by 0x${hex(b)}`)
          break
        default: // DISCARD
          break
      }
    }
  }

  private append(b: number): void {
    if (this.len > MAX_RECORD_BYTES) {
      this.fail('too-long', `frame longer than ${MAX_RECORD_BYTES + 1} bytes`)
      return
    }
    this.buf[this.len++] = b
  }

  private onFlag(): void {
    if (this.state === ESCAPED) this.fail('bad-escape', '0x7D followed by a flag')
    else if (this.state === IN_FRAME && this.len > 0) this.finish()
    this.state = IN_FRAME
    this.len = 0
  }

  private finish(): void {
    const n = this.len
    if (n < HEADER_BYTES + 1) {
      this.fail('truncated', `frame of ${n} bytes is shorter than a 40-byte header and checksum`)
      return
    }
    const want = checksum(this.buf, 0, n - 1)
    if (want !== this.buf[n - 1]) {
      if (this.counters) this.counters.checksumFailures++
      this.fail('bad-checksum', `checksum 0x${hex(this.buf[n - 1]!)}, computed 0x${hex(want)}`)
      return
    }
    if (this.counters) this.counters.frames++
    this.sink.frame(this.buf.subarray(0, n - 1))
  }

  private fail(reason: string, message: string): void {
    this.state = DISCARD
    this.len = 0
    if (this.counters) this.counters.resyncs++
    this.sink.reject(new DecodeError('datex', reason, message))
  }
}

function hex(b: number): string {
  return b.toString(16).padStart(2, '0').toUpperCase()
}
