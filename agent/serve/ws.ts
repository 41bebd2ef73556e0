/**
 * The dashboard's live feed at GET /ws (DESIGN.md, HTTP contract). One JSON message per frame:
 *   snapshot  on every (re)connect: the whole ward, so a client that missed messages resynchronizes
 *   bed       a bed's tile (vitals, NEWS2, devices) when its vitals change: at most 1 Hz per bed
 *   alarm     every alarm state change, sent the moment the pipeline publishes it, with the
 *             grouping of the bed's open alarms after it (`folded`: alarm id → the alarm it is
 *             folded under, or null when shown; rules/grouping.ts)
 *   link      a device's link state change
 *   wave      ECG for the strip: decimated to about 125 Hz, flushed every WAVE_FLUSH_MS
 *   status    queue depth, oldest unsynced age, sync state: every STATUS_EVERY_MS (also a heartbeat)
 * The feed is read-only; acknowledgements go through the token-checked HTTP API. Opening it needs a
 * viewer token (http.ts checks it before the upgrade; the page sends it as a subprotocol, access.ts),
 * and every bed shown is reported to the audit of reads (LiveState.viewed).
 */
import type { EventEmitter } from 'node:events'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { WebSocket } from 'ws'
import { refOf } from '../../drivers/codes.js'
import type { WaveformChunk } from '../../drivers/records.js'
import type { LinkStatus } from '../../drivers/types.js'
import type { AlarmChange } from '../rules/index.js'
import { alarmJson } from '../outputs.js'
import type { Actor } from './access.js'

/** The events the feed listens to; a subset of AgentEvents (events.ts). */
export interface LiveEvents {
  alarm: [change: AlarmChange, hubSeq: number]
  vitals: [bedId: string]
  link: [deviceId: string, status: LinkStatus]
  wave: [bedId: string, chunk: WaveformChunk]
}

/** Read access to the agent's current state, for snapshots and per-bed updates. */
export interface LiveState {
  hubId(): string
  beds(): unknown[]
  bed(bedId: string): unknown
  alarms(): unknown[]
  /** Grouping of a bed's open alarms: alarm id → the id it is folded under, null when shown. */
  alarmFolding(bedId: string): Record<string, string | null>
  status(): unknown
  /** Audit of reads: `actor` was shown these beds ('all': the ward snapshot). */
  viewed(actor: Actor, bedIds: readonly string[] | 'all', via: string): void
}

/** Browsers draw the strip at ≤ 125 Hz; more only costs bandwidth on the ward network. */
export const WAVE_MAX_RATE_HZ = 125
export const WAVE_FLUSH_MS = 100
export const STATUS_EVERY_MS = 2000
/** Bound of samples held per bed between flushes (a stalled timer cannot grow memory). */
const WAVE_PENDING_MAX = 2 * WAVE_MAX_RATE_HZ
/** A bed whose shown lead sent nothing for this long may switch to another lead. */
const LEAD_STALE_MS = 5000
/** A client that has not answered the previous ping by the next one is gone (cable pulled, tab killed). */
export const PING_EVERY_MS = 15_000
/** Sockets with more than this buffered are too slow; they are closed and will resync on reconnect. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024
/**
 * Live sockets of one token at once; a new one closes the oldest. Without it one token (a leaked
 * read-only one, say) held all 512 HTTP sockets with /ws from loopback, where a local TLS proxy puts
 * every station, and blinded the central station (red-team round 2, session 11). Several screens
 * sharing one token fit; a page that reconnects is the newest, so it is never the one shut out.
 */
export const MAX_SOCKETS_PER_TOKEN = 32

/** Per-bed ECG decimation state: boxcar average of `step` input samples per output sample. */
class WaveStrip {
  code = 0
  inRateHz = 0
  step = 1
  acc = 0
  accN = 0
  /** Output time of the first pending sample, ms. */
  t0Ms = 0
  lastInputMs = 0
  /** Display samples dropped because more than WAVE_PENDING_MAX waited for a flush (logged at flush). */
  dropped = 0
  readonly pending: number[] = []

  /** Appends a chunk; false when the chunk is of another lead than the one shown. */
  add(chunk: WaveformChunk, nowMs: number): boolean {
    if (this.code !== chunk.code || this.inRateHz !== chunk.rateHz) {
      if (this.code !== 0 && nowMs - this.lastInputMs < LEAD_STALE_MS) return false
      this.code = chunk.code
      this.inRateHz = chunk.rateHz
      this.step = Math.max(1, Math.round(chunk.rateHz / WAVE_MAX_RATE_HZ))
      this.acc = 0
      this.accN = 0
      this.pending.length = 0
    }
    this.lastInputMs = nowMs
    const s = chunk.samplesUv
    if (this.pending.length === 0 && this.accN === 0) this.t0Ms = chunk.t0Us / 1000
    for (let i = 0; i < s.length; i++) {
      this.acc += s[i]!
      if (++this.accN < this.step) continue
      if (this.pending.length >= WAVE_PENDING_MAX) {
        this.pending.shift()
        this.dropped++
      }
      this.pending.push(Math.round(this.acc / this.accN))
      this.acc = 0
      this.accN = 0
    }
    return true
  }

  get outRateHz(): number {
    return this.inRateHz / this.step
  }
}

export class LiveFeed {
  private readonly clients = new Set<WebSocket>()
  /** Who opened each socket (the token's actor), for the audit of the beds it is shown. */
  private readonly actors = new WeakMap<WebSocket, Actor>()
  /** Open sockets per token (its actor: one object per configured token), oldest first. */
  private readonly byToken = new Map<Actor, WebSocket[]>()
  /** Clients that answered the last ping. */
  private readonly alive = new WeakSet<WebSocket>()
  private readonly strips = new Map<string, WaveStrip>()
  private readonly timers: NodeJS.Timeout[] = []

  private readonly onAlarm = (c: AlarmChange, hubSeq: number): void => {
    if (this.clients.size === 0) return
    this.broadcast({ type: 'alarm', alarm: alarmJson(c, hubSeq), folded: this.state.alarmFolding(c.bedId) })
    // The tile shows the value and the NEWS2 that raised the alarm now, not at the next 1 Hz update.
    if (c.category !== 'technical') this.broadcastBed(c.bedId)
  }
  private readonly onVitals = (bedId: string): void => {
    if (this.clients.size > 0) this.broadcastBed(bedId)
  }
  private readonly onLink = (deviceId: string, link: LinkStatus): void => this.broadcast({ type: 'link', deviceId, link })
  private readonly onWave = (bedId: string, chunk: WaveformChunk): void => this.addWave(bedId, chunk)

  /** Listens to `events` until close(). */
  constructor(private readonly events: EventEmitter<LiveEvents>, private readonly state: LiveState, private readonly log: Logger) {
    events.on('alarm', this.onAlarm)
    events.on('vitals', this.onVitals)
    events.on('link', this.onLink)
    events.on('wave', this.onWave)
    this.timers.push(setInterval(() => this.flushWaves(), WAVE_FLUSH_MS))
    this.timers.push(setInterval(() => this.clients.size > 0 && this.broadcast({ type: 'status', status: this.state.status() }), STATUS_EVERY_MS))
    this.timers.push(setInterval(() => this.pingAll(), PING_EVERY_MS))
  }

  private pingAll(): void {
    for (const ws of this.clients) {
      if (!this.alive.has(ws)) {
        this.log.info({ event: 'ws_client_gone', cause: 'no pong' }, 'dashboard client stopped answering pings: dropped')
        ws.terminate()
        this.clients.delete(ws)
        continue
      }
      this.alive.delete(ws)
      ws.ping()
    }
  }

  /** Registers GET /ws (viewer token or above); call after `@fastify/websocket` is registered on `app`. */
  route(app: FastifyInstance): void {
    app.get('/ws', { websocket: true, config: { access: 'viewer' } }, (socket, req) => {
      // The access hook refused the upgrade already when there is no actor; this guards a wiring mistake.
      if (!req.actor) return socket.close(1008, 'not signed in')
      this.accept(socket, req.actor)
    })
  }

  get clientCount(): number {
    return this.clients.size
  }

  /** Stops listening and closes every client (1001 going away); idempotent. */
  close(): void {
    this.events.off('alarm', this.onAlarm)
    this.events.off('vitals', this.onVitals)
    this.events.off('link', this.onLink)
    this.events.off('wave', this.onWave)
    for (const t of this.timers) clearInterval(t)
    for (const ws of this.clients) ws.close(1001, 'agent stopping')
    this.clients.clear()
  }

  private accept(ws: WebSocket, actor: Actor): void {
    let mine = this.byToken.get(actor)
    if (!mine) this.byToken.set(actor, (mine = []))
    if (mine.length >= MAX_SOCKETS_PER_TOKEN) {
      const oldest = mine.shift()!
      this.log.warn({ event: 'ws_token_limit', actor: `${actor.role}:${actor.name}`, max: MAX_SOCKETS_PER_TOKEN }, `live feed: the token of ${actor.role}:${actor.name} holds ${MAX_SOCKETS_PER_TOKEN} sockets; its oldest is closed for the new one`)
      // no more broadcasts; the close frame first (a page shows why), then the socket itself for
      // one that does not read
      this.clients.delete(oldest)
      oldest.close(1008, 'too many live sockets for this token')
      setTimeout(() => oldest.terminate(), 1000).unref()
    }
    mine.push(ws)
    this.actors.set(ws, actor)
    this.state.viewed(actor, 'all', 'GET /ws')
    this.clients.add(ws)
    this.alive.add(ws)
    ws.on('pong', () => this.alive.add(ws))
    ws.on('close', () => {
      this.clients.delete(ws)
      const list = this.byToken.get(actor)
      const at = list?.indexOf(ws) ?? -1
      if (at >= 0) list!.splice(at, 1)
      if (list?.length === 0) this.byToken.delete(actor)
    })
    ws.on('error', (err) => this.log.debug({ event: 'ws_error', cause: err.message }, 'dashboard socket error'))
    // Clients send nothing; anything they do send is ignored rather than parsed.
    ws.on('message', () => undefined)
    this.send(ws, JSON.stringify({
      type: 'snapshot', hub: this.state.hubId(), serverTimeMs: Date.now(), beds: this.state.beds(), alarms: this.state.alarms(), status: this.state.status(),
    }))
  }

  private addWave(bedId: string, chunk: WaveformChunk): void {
    if (this.clients.size === 0) return
    const ref = refOf(chunk.code)
    if (!ref || !ref.startsWith('MDC_ECG_ELEC_POTL')) return
    let strip = this.strips.get(bedId)
    if (!strip) this.strips.set(bedId, (strip = new WaveStrip()))
    strip.add(chunk, Date.now())
  }

  private flushWaves(): void {
    for (const [bedId, strip] of this.strips) {
      if (strip.dropped > 0) {
        this.log.warn({ event: 'ws_wave_backlog', bedId, cause: 'flush timer late', droppedSamples: strip.dropped }, 'ECG display samples dropped (display only; the stored waveform is complete)')
        strip.dropped = 0
      }
      if (strip.pending.length === 0) continue
      if (this.clients.size > 0) {
        this.broadcast({ type: 'wave', bedId, code: refOf(strip.code), rateHz: strip.outRateHz, t0Ms: strip.t0Ms, samples: strip.pending })
      }
      strip.t0Ms += (strip.pending.length * 1000) / strip.outRateHz
      strip.pending.length = 0
    }
  }

  /** A bed's tile to every client; a patient admitted since a client connected is audited as seen by it. */
  private broadcastBed(bedId: string): void {
    for (const ws of this.clients) {
      const actor = this.actors.get(ws)
      if (actor) this.state.viewed(actor, [bedId], 'GET /ws')
    }
    this.broadcast({ type: 'bed', bed: this.state.bed(bedId) })
  }

  private broadcast(msg: Record<string, unknown>): void {
    if (this.clients.size === 0) return
    const text = JSON.stringify(msg)
    for (const ws of this.clients) this.send(ws, text)
  }

  private send(ws: WebSocket, text: string): void {
    if (ws.readyState !== ws.OPEN) return
    if (ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.log.warn({ event: 'ws_slow_client', cause: 'send buffer over bound', bufferedBytes: ws.bufferedAmount }, 'dashboard client too slow: closing it (it resynchronizes on reconnect)')
      ws.close(1013, 'too slow')
      return
    }
    ws.send(text)
  }
}
