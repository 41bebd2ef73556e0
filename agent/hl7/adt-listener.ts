/**
 * The ADT feed (issue 21): an MLLP listener (plain or TLS) for the hospital's interface engine.
 * Each message is read (adt-message.ts), decided and applied through the ward's use cases
 * (adt-apply.ts), and acknowledged once the change is durable: AA applied (or found to change
 * nothing, audited as ignored), AE with ERR naming the field (fix and re-send), AR for what this
 * receiver never takes (another message type, not HL7 v2).
 *
 * A re-sent message (same MSH-10 from the same MSH-3/MSH-4, after a lost ACK, HL7 v2.6 §2.9.2)
 * is acknowledged AA again and applied once: its control id is remembered in the redelivery window
 * (store/seen-messages.ts, one window per sending application and facility), written in the same
 * group commit as the message's audit event, so after a crash both are on disk or neither is.
 *
 * Ordering: messages are applied one at a time, in arrival order over all connections (an engine
 * may open several); the decision reads the ward as the previous message left it. ADT volumes are
 * a few messages a minute per ward, so a queue costs nothing; it is bounded per connection
 * (`MAX_PENDING_PER_CONNECTION`, a sender pipelining more is cut off).
 *
 * Hostile input: a sender outside `allow_from` is closed on accept; frame size
 * (`max_message_bytes`), connections at once (`max_connections`, more are closed on accept), silence
 * (`idle_timeout_s`) and TLS handshake time are bounded before they cost memory; bytes outside a
 * frame are dropped. Who may send at all is the config's rule: beyond loopback, client
 * certificates or allow_from (or `insecure`).
 *
 * Lifecycle: start() resolves once listening, rejects if the address cannot be bound or the TLS
 * files do not load. stop() closes the listener and every connection; messages being applied finish
 * (their ACK is not sent), and the engine re-sends them, recognised as re-sends.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import type { Logger } from 'pino'
import { buildAckFrame } from '../../drivers/serial/hl7/ack.js'
import { SourceAllowlist } from '../../drivers/serial/hl7/allow.js'
import { MllpDeframer } from '../../drivers/serial/hl7/mllp.js'
import type { Config } from '../config.js'
import { createTlsOptionsReloader, type TlsReloader } from '../serve/tls.js'
import type { GroupCommitter } from '../store/commit.js'
import type { SeenMessages } from '../store/seen-messages.js'
import type { Actor, Ward } from '../ward/ward.js'
import { decide, execute } from './adt-apply.js'
import { decodeBody, formatErrorLocation, readAdt, type AdtFieldError, type AdtTrigger } from './adt-message.js'
import type { Hl7Message } from '../../drivers/serial/hl7/message.js'
import { LocationMap } from './locations.js'

export type AdtConfig = NonNullable<NonNullable<Config['hl7']>['adt']>

/** Messages one connection may have waiting for their ACK; MLLP senders wait for each ACK (original mode). */
const MAX_PENDING_PER_CONNECTION = 16
const TLS_HANDSHAKE_TIMEOUT_MS = 10_000

export interface AdtListenerDeps {
  readonly ward: Ward
  readonly committer: GroupCommitter
  readonly seen: SeenMessages
  readonly log: Logger
  /** A refused message or connection, counted by reason (bedside_ingest_rejected_total). */
  readonly reject: (reason: string, detail: string) => void
  /** A recognised re-send (bedside_redelivered_total{source="adt"}). */
  readonly redelivered: () => void
  /** One message answered (bedside_hl7_adt_messages_total{event,ack}). */
  readonly answered: (event: string, ack: 'AA' | 'AE' | 'AR') => void
}

export class AdtListener {
  private server: Server | null = null
  private tls: TlsReloader | null = null
  private readonly sockets = new Set<Socket>()
  private readonly raw = new Set<Socket>()
  private readonly map: LocationMap
  /** The tail of the one queue every message is applied in. */
  private queue: Promise<void> = Promise.resolve()
  private ackSeq = 0

  private readonly allow: SourceAllowlist | undefined

  constructor(private readonly cfg: AdtConfig, private readonly d: AdtListenerDeps) {
    this.map = new LocationMap(cfg.locations)
    this.allow = cfg.allow_from ? new SourceAllowlist(cfg.allow_from) : undefined
  }

  /** True between start() and stop() (readiness). */
  get listening(): boolean {
    return this.server?.listening === true
  }

  /** The bound address once started (`listen` port 0 picks a free one). */
  address(): AddressInfo | undefined {
    return (this.server?.address() as AddressInfo | null) ?? undefined
  }

  async start(): Promise<void> {
    const t = this.cfg.tls
    let server: Server
    if (t) {
      this.tls = createTlsOptionsReloader({ cert: t.cert, key: t.key, ...(t.ca ? { ca: t.ca } : {}), requestCert: t.client_certs === 'require' }, this.d.log)
      // node:tls on first use only (serve/tls.ts says why)
      const tlsServer = process.getBuiltinModule('node:tls').createServer({ ...this.tls.options, allowHalfOpen: true, requestCert: t.client_certs !== 'off', rejectUnauthorized: t.client_certs === 'require', handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS }, (s) => this.accept(s))
      this.tls.attach(tlsServer)
      tlsServer.on('tlsClientError', (err: Error, s: TLSSocket) => {
        this.d.reject('adt-tls-failed', `${s.remoteAddress ?? '?'}: ${err.message}`)
        // With allowHalfOpen, Node leaves a socket whose peer closed during the handshake open
        // even after the handshake timeout: it held one of max_connections for good, and stop()
        // waited for it forever (found testing allow_from, session 11).
        s.destroy()
      })
      // allow_from on the TCP socket, before the handshake: a stranger must not hold one of the
      // max_connections slots for the handshake's 10 s
      tlsServer.on('connection', (raw: Socket) => void this.refuseStranger(raw))
      server = tlsServer
    } else {
      // Half-open: a sender that shuts down its side after its last message (socat, nc, scripts) still gets its ACKs.
      server = createServer({ allowHalfOpen: true }, (s) => this.accept(s))
    }
    // Past the cap Node closes new connections on accept, before they cost a session.
    server.maxConnections = this.cfg.max_connections
    // Every TCP connection, handshaking or not, so that stop() ends them all.
    server.on('connection', (raw: Socket) => {
      this.raw.add(raw)
      raw.once('close', () => this.raw.delete(raw))
    })
    server.on('drop', (info) => this.d.reject('adt-too-many-connections', `${info?.remoteAddress ?? '?'}: more than ${this.cfg.max_connections} connections (hl7.adt.max_connections)`))
    this.server = server
    const i = this.cfg.listen.lastIndexOf(':')
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(Number(this.cfg.listen.slice(i + 1)), this.cfg.listen.slice(0, i), () => {
        server.off('error', reject)
        resolve()
      })
    })
    server.on('error', (err) => this.d.log.error({ event: 'adt_listener_error', err: err.message }, `ADT listener: ${err.message}`))
    this.d.log.info({ event: 'adt_listening', listen: this.cfg.listen, tls: t !== undefined, locations: this.cfg.locations.length }, `ADT feed (HL7 v2 MLLP${t ? ' over TLS' : ''}) on ${this.cfg.listen}`)
  }

  async stop(): Promise<void> {
    const server = this.server
    if (!server) return
    this.server = null
    for (const s of this.sockets) s.destroy()
    for (const s of this.raw) s.destroy()
    this.tls?.close()
    await new Promise<void>((resolve) => server.close(() => resolve()))
    await this.queue
  }

  /** True (and the socket destroyed) when allow_from does not list its address. */
  private refuseStranger(socket: Socket): boolean {
    if (!this.allow || this.allow.allows(socket.remoteAddress)) return false
    this.d.reject('adt-source-refused', `${socket.remoteAddress ?? '?'} is not in hl7.adt.allow_from`)
    socket.destroy()
    return true
  }

  private accept(socket: Socket): void {
    if (this.refuseStranger(socket)) return
    this.sockets.add(socket)
    const peer = `${socket.remoteAddress}:${socket.remotePort}`
    let pending = 0
    let ended = false // the peer sent FIN: close our side once its messages are answered
    const settle = () => {
      if (ended && pending === 0 && !socket.destroyed) socket.end()
    }
    const deframer = new MllpDeframer({
      message: (body) => {
        if (++pending > MAX_PENDING_PER_CONNECTION) {
          this.d.reject('adt-pipelined', `${peer}: more than ${MAX_PENDING_PER_CONNECTION} messages without waiting for their ACKs`)
          socket.destroy()
          return
        }
        const text = decodeBody(body) // the view is only valid during this call
        this.queue = this.queue.then(() => this.handle(text, peer)).then((ack) => {
          pending--
          // at most MAX_PENDING_PER_CONNECTION ACKs are ever owed, so unread ones stay bounded
          if (ack && !socket.destroyed) socket.write(ack)
          settle()
        }, (err: Error) => {
          pending--
          this.d.log.error({ event: 'adt_failed', peer, err: err.message }, `ADT message from ${peer} failed: ${err.message}`)
          settle()
        })
      },
      // A broken frame has no control id to answer: dropped and counted; the sender's ACK timeout re-sends it.
      reject: (err) => this.d.reject(`adt-${err.reason}`, `${peer}: ${err.message}`),
    }, undefined, this.cfg.max_message_bytes)
    socket.setTimeout(this.cfg.idle_timeout_s * 1000, () => socket.destroy())
    socket.on('data', (chunk: Buffer) => deframer.push(chunk))
    socket.on('end', () => {
      ended = true
      settle()
    })
    socket.on('error', (err) => this.d.log.warn({ event: 'adt_connection_error', peer, err: err.message }, `ADT connection ${peer}: ${err.message}`))
    socket.on('close', () => this.sockets.delete(socket))
  }

  /** One message: read, decide, apply, answer. Resolves with the framed ACK once the change is durable. */
  private async handle(text: string, peer: string): Promise<Buffer> {
    const read = readAdt(text, this.cfg.mrn_authority)
    if (!read.ok) return this.refuse(read.message, read.controlId, read.error, peer, '?')
    const e = read.event
    const sender = `adt:${e.sendingApp}^${e.sendingFacility}`
    const actor: Actor = { role: 'adt', name: e.sendingApp || 'unknown' }
    if (this.d.seen.has(sender, e.controlId)) {
      // Applied before; its ACK was lost. Answer once the original is durable (it may still be in the batch).
      this.d.redelivered()
      await new Promise<void>((resolve, reject) => this.d.committer.whenCommitted((err) => (err ? reject(err) : resolve())))
      return this.ack(e.message, e.controlId, e.trigger, 'AA')
    }
    const plan = decide(e, this.map, (mrn) => this.d.ward.adt.byMrn(mrn))
    if (plan.kind === 'refuse') return this.refuse(e.message, e.controlId, plan.error, peer, e.trigger)
    const committer = this.d.committer
    let applied: Promise<unknown>
    committer.hold(4) // the audit events of one message and its identity: one transaction
    try {
      const from = committer.peekHubSeq
      applied = execute(plan, e, this.d.ward, actor)
      this.d.seen.add(sender, e.controlId, from)
    } catch (err) {
      applied = Promise.reject(err as Error) // the admissions table refused the write (disk full, I/O error); not remembered
    } finally {
      committer.release()
    }
    try {
      await applied
    } catch (err) {
      // A write or the commit failed: nothing of it is acknowledged; the engine re-sends.
      const error = { reason: 'store-failed', message: `not stored (${(err as Error).message}); re-send` }
      this.d.log.error({ event: 'adt_store_failed', trigger: e.trigger, controlId: e.controlId, err: (err as Error).message }, `ADT^${e.trigger} ${e.controlId} not stored: ${(err as Error).message}`)
      this.d.answered(e.trigger, 'AE')
      return buildAckFrame({ message: e.message, controlId: e.controlId, code: 'AE', error, ackControlId: this.nextAckId(), nowMs: Date.now(), messageType: `ACK^${e.trigger}^ACK`, hl7Error: '207^Application internal error' })
    }
    this.d.log.info({ event: 'adt_applied', trigger: e.trigger, controlId: e.controlId, plan: plan.kind, peer }, `ADT^${e.trigger} ${e.controlId}: ${plan.kind}`)
    return this.ack(e.message, e.controlId, e.trigger, 'AA')
  }

  private refuse(message: Hl7Message | undefined, controlId: string, error: AdtFieldError, peer: string, trigger: AdtTrigger | '?'): Buffer {
    this.d.reject(`adt-${error.reason}`, `${peer} ${controlId || '(no MSH-10)'}: ${error.message}`)
    return this.ack(message, controlId, trigger, error.ack, error)
  }

  private ack(message: Hl7Message | undefined, controlId: string, trigger: AdtTrigger | '?', code: 'AA' | 'AE' | 'AR', error?: AdtFieldError): Buffer {
    this.d.answered(trigger, code)
    return buildAckFrame({
      message, controlId, code, ackControlId: this.nextAckId(), nowMs: Date.now(),
      messageType: trigger === '?' ? 'ACK' : `ACK^${trigger}^ACK`,
      ...(error ? { error, hl7Error: error.hl7Error, ...(error.location ? { errorLocation: formatErrorLocation(error.location) } : {}) } : {}),
    })
  }

  private nextAckId(): string {
    return `ADT-${Date.now().toString(36)}-${++this.ackSeq}`
  }
}
