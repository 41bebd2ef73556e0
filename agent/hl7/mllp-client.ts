/**
 * The MLLP client of the HL7 outputs: one connection to one receiver, one message at a time, the
 * answer read from the receiver's ACK (MSA-1, MSA-2 must echo our MSH-10; shared/protocols.md §7.4).
 * Owns no retry: the outbound loop (outbound.ts) decides what an outcome means.
 *
 * Lifecycle: `send` may be called again after any outcome (a lost connection is reopened on the
 * next send); never concurrently. `close()` ends the connection; a later `send` reopens it.
 */
import { readFileSync } from 'node:fs'
import { connect as netConnect, type Socket } from 'node:net'
import { component, parseMessage, text } from '../../drivers/serial/hl7/message.js'
import { MllpDeframer, mllpFrame } from '../../drivers/serial/hl7/mllp.js'

export interface MllpClientTls {
  readonly ca?: string | undefined
  readonly cert?: string | undefined
  readonly key?: string | undefined
  readonly servername?: string | undefined
}

/** What one send came to: the receiver's answer, or why there was none. */
export type SendOutcome =
  | { readonly kind: 'AA' }
  | { readonly kind: 'AE' | 'AR'; readonly reason: string }
  | { readonly kind: 'no-answer'; readonly reason: string }

export class MllpClient {
  private socket: Socket | null = null
  private deframer: MllpDeframer | null = null
  private waiting: ((body: string | Error) => void) | null = null

  constructor(private readonly target: string, private readonly tls: MllpClientTls | undefined, private readonly ackTimeoutMs: number) {}

  async send(message: string, controlId: string): Promise<SendOutcome> {
    try {
      const socket = this.socket ?? (await this.open())
      const answer = new Promise<string | Error>((resolve) => { this.waiting = resolve })
      const timer = setTimeout(() => this.answer(new Error(`no ACK within ${this.ackTimeoutMs} ms`)), this.ackTimeoutMs)
      socket.write(mllpFrame(message))
      const got = await answer
      clearTimeout(timer)
      if (got instanceof Error) {
        this.close()
        return { kind: 'no-answer', reason: got.message }
      }
      return readAck(got, controlId)
    } catch (err) {
      this.close()
      return { kind: 'no-answer', reason: (err as Error).message }
    }
  }

  close(): void {
    this.socket?.destroy()
    this.socket = null
    this.deframer = null
    this.answer(new Error('connection closed'))
  }

  private answer(v: string | Error): void {
    const w = this.waiting
    this.waiting = null
    w?.(v)
  }

  private open(): Promise<Socket> {
    const colon = this.target.lastIndexOf(':')
    const host = this.target.slice(0, colon).replace(/^\[|\]$/g, '')
    const port = Number(this.target.slice(colon + 1))
    return new Promise((resolve, reject) => {
      const t = this.tls
      // Files are read at each connect, so a renewed certificate is used without a restart.
      const socket = t
        ? process.getBuiltinModule('node:tls').connect({ host, port, servername: t.servername ?? host, ca: t.ca ? readFileSync(t.ca) : undefined, cert: t.cert ? readFileSync(t.cert) : undefined, key: t.key ? readFileSync(t.key) : undefined }, () => done())
        : netConnect({ host, port }, () => done())
      const done = () => {
        socket.off('error', fail)
        socket.on('error', (err) => { if (this.socket === socket) { this.close(); void err } })
        socket.on('close', () => { if (this.socket === socket) this.close() })
        this.socket = socket
        resolve(socket)
      }
      const fail = (err: Error) => { socket.destroy(); reject(err) }
      socket.once('error', fail)
      socket.setNoDelay(true)
      this.deframer = new MllpDeframer({
        message: (body) => this.answer(body.toString('utf8')),
        reject: (err) => this.answer(new Error(`unreadable ACK frame: ${err.message}`)),
      })
      const deframer = this.deframer
      socket.on('data', (chunk: Buffer) => deframer.push(chunk))
    })
  }
}

/** MSA-1 (table 0008), MSA-2 against our MSH-10; the reason from MSA-3 or ERR-8 / ERR-3. */
export function readAck(body: string, controlId: string): SendOutcome {
  let m
  try {
    m = parseMessage(body)
  } catch (err) {
    return { kind: 'no-answer', reason: `unreadable ACK: ${(err as Error).message}` }
  }
  const msa = m.segments.find((s) => s.id === 'MSA')
  const d = m.delimiters
  if (!msa) return { kind: 'no-answer', reason: 'ACK without MSA' }
  const code = component(msa, 1, 1, d)
  const acked = text(msa, 2, 1, d)
  if (acked !== controlId) return { kind: 'no-answer', reason: `ACK for "${acked.slice(0, 40)}", not for "${controlId}"` }
  if (code === 'AA' || code === 'CA') return { kind: 'AA' }
  const err = m.segments.find((s) => s.id === 'ERR')
  const reason = [text(msa, 3, 1, d), err ? text(err, 8, 1, d) : '', err ? component(err, 3, 2, d) || component(err, 3, 1, d) : ''].filter(Boolean).join('; ') || `MSA-1 ${code}`
  if (code === 'AR' || code === 'CR') return { kind: 'AR', reason }
  return { kind: 'AE', reason }
}
