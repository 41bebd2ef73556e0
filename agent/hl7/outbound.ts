/**
 * One HL7 output (results or alarms): takes the next message from its source, sends it with the
 * MLLP client and moves the destination's cursor by the answer.
 *
 *   AA          cursor moves (durably), next message at once
 *   AE, no ACK  the same message again after 1 s, 2 s, 4 s … up to max_backoff_s (it may be a
 *               receiver outage or a transient fault on its side; nothing behind it overtakes it)
 *   AR          the message is set aside in hl7_dead_letter with the receiver's reason, audited and
 *               counted, and the cursor moves on: a message the receiver will never accept must not
 *               stop the ward's charting or alarms for ever
 *
 * In order: one message in flight per output. Exactly the same message on retry: the sources are
 * deterministic (pcd-sources.ts), so a retry and a re-send after a crash carry the same MSH-10.
 *
 * Lifecycle: start() once, then stop() (waits for the message in flight, closes the connection).
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { Hl7Cursors } from '../store/hl7-cursor.js'
import { MllpClient, type SendOutcome } from './mllp-client.js'
import type { Outgoing, PcdSource } from './pcd-sources.js'

export interface OutboundSettings {
  readonly target: string
  readonly tls?: { ca?: string | undefined; cert?: string | undefined; key?: string | undefined; servername?: string | undefined } | undefined
  readonly ack_timeout_s: number
  readonly max_backoff_s: number
}

export interface OutboundEvents {
  /** Every send's outcome, with the time to the answer. */
  sent(name: string, m: Outgoing, outcome: SendOutcome, ms: number): void
  /** AR: the message went to the dead letter. */
  rejected(name: string, m: Outgoing, reason: string): void
}

/** Idle poll: new records are picked up within this (alarms are also woken at once by `wake`). */
const IDLE_MS = 500

export class Hl7Outbound {
  private readonly client: MllpClient
  private readonly stopping = new AbortController()
  private loop: Promise<void> | null = null
  private wakeUp: (() => void) | null = null
  private backoffMs = 0

  constructor(readonly name: 'results' | 'alarms', private readonly settings: OutboundSettings, private readonly source: PcdSource, private readonly cursors: Hl7Cursors, private readonly events: OutboundEvents, private readonly clock: () => number = Date.now) {
    this.client = new MllpClient(settings.target, settings.tls, settings.ack_timeout_s * 1000)
  }

  start(): void {
    this.loop ??= this.run()
  }

  /** New records were committed: look now instead of at the next poll. */
  wake(): void {
    this.wakeUp?.()
  }

  depth(): { n: number; oldestMs: number | null } {
    return this.source.depth(this.clock())
  }

  get retryingMs(): number {
    return this.backoffMs
  }

  async stop(): Promise<void> {
    this.stopping.abort()
    this.wake()
    await this.loop
    this.client.close()
  }

  private async run(): Promise<void> {
    const signal = this.stopping.signal
    while (!signal.aborted) {
      const m = this.source.next(this.clock())
      if (!m) { await this.idle(); continue }
      if ('skipTo' in m) { this.cursors.advance(m.dest, m.skipTo); continue }
      const t0 = performance.now()
      const outcome = await this.client.send(m.text, m.controlId)
      this.events.sent(this.name, m, outcome, performance.now() - t0)
      if (outcome.kind === 'AA') {
        this.cursors.advance(m.dest, m.toSeq)
        this.backoffMs = 0
      } else if (outcome.kind === 'AR') {
        this.cursors.reject(m.dest, m.controlId, m.fromSeq, m.toSeq, outcome.reason, this.clock())
        this.events.rejected(this.name, m, outcome.reason)
        this.backoffMs = 0
      } else {
        this.backoffMs = Math.min(this.settings.max_backoff_s * 1000, this.backoffMs ? this.backoffMs * 2 : 1000)
        await sleep(this.backoffMs, undefined, { signal }).catch(() => undefined)
      }
    }
  }

  private async idle(): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, IDLE_MS)
      function done() { clearTimeout(timer); resolve() }
      this.wakeUp = done
    })
    this.wakeUp = null
  }
}
