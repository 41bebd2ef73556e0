/**
 * A simulated ward for durability tests: one MQTT monitor per bed publishing QoS 1 observation
 * messages (5 codes each) with a per-device seq, tracking which messages were acknowledged (PUBACK).
 * The agent may die at any moment. Like a real MQTT client [MQTT-4.4.0-1], a device keeps every
 * message whose PUBACK it did not get and, after it reconnects (same client id), re-sends each of
 * them with DUP set before anything new; a message counts as acknowledged once any of its sends is.
 * Device time = startMs + seq·100 + device index: (ts, code) names one observation ward-wide.
 */
import mqtt from 'mqtt'
import { deviceId, secret } from '../support/ward.js'

export const CODES = ['MDC_PULS_OXIM_SAT_O2', 'MDC_RESP_RATE', 'MDC_TEMP_BODY', 'MDC_PULS_OXIM_PULS_RATE', 'MDC_PRESS_BLD_NONINV_SYS'] as const
const UNITS = ['%', '/min', 'Cel', '/min', 'mm[Hg]'] as const
const NORMAL = [97, 15, 36.8, 76, 120] as const

export interface LoadOptions {
  readonly devices: number
  /** Messages per second per device (each message `perMessage` observations). */
  readonly rateHz: number
  readonly perMessage?: number
  /** Publishes in flight per device. */
  readonly window?: number
}

export class WardLoad {
  readonly startMs = Date.now() - 60_000
  private readonly nextSeq: number[]
  private readonly acked: Set<number>[]
  /** Per device: seq → payload of messages sent and not yet acknowledged (re-sent after a reconnect). */
  private readonly unacked: Map<number, string>[]
  private clients: (mqtt.MqttClient | null)[] = []
  private loops: Promise<void>[] = []
  private running = false
  published = 0
  /** Messages re-sent with DUP after a reconnect. */
  resent = 0

  constructor(private readonly opts: LoadOptions) {
    this.nextSeq = Array.from({ length: opts.devices }, () => 1)
    this.acked = Array.from({ length: opts.devices }, () => new Set<number>())
    this.unacked = Array.from({ length: opts.devices }, () => new Map<number, string>())
  }

  get devices(): number {
    return this.opts.devices
  }

  get perMessage(): number {
    return this.opts.perMessage ?? CODES.length
  }

  /** Acknowledged observations so far. */
  get ackedObservations(): number {
    return this.acked.reduce((a, s) => a + s.size, 0) * this.perMessage
  }

  isAcked(device: number, seq: number): boolean {
    return this.acked[device]!.has(seq)
  }

  ackedSeqs(device: number): Iterable<number> {
    return this.acked[device]!
  }

  tsOf(device: number, seq: number): number {
    return this.startMs + seq * 100 + device
  }

  /** (device, seq) of a device time, the inverse of tsOf. */
  whoOf(ts: number): { device: number; seq: number } {
    const d = ts - this.startMs
    return { device: d % 100, seq: Math.floor(d / 100) }
  }

  /** Connects every device to `url` and (re)starts publishing. */
  async start(url: string): Promise<void> {
    this.clients = await Promise.all(Array.from({ length: this.opts.devices }, (_, i) =>
      mqtt.connectAsync(url, { username: deviceId(i), password: secret(i), clientId: deviceId(i), reconnectPeriod: 0, clean: true, protocolVersion: 4, connectTimeout: 5000 })))
    this.running = true
    this.loops = this.clients.map((c, i) => this.loop(c!, i))
  }

  /** Stops publishing; with `drop`, the connections are dropped as by a dying broker. */
  async stop(): Promise<void> {
    this.running = false
    await Promise.all(this.loops)
    await Promise.all(this.clients.map((c) => c?.endAsync(true).catch(() => undefined)))
    this.clients = []
  }

  private payload(i: number, seq: number): string {
    const n = this.perMessage
    const obs = new Array(n)
    for (let k = 0; k < n; k++) obs[k] = { code: CODES[k % CODES.length], value: NORMAL[k % CODES.length] + Math.floor(k / CODES.length) * 0.001, unit: UNITS[k % CODES.length] }
    return JSON.stringify({ ts: this.tsOf(i, seq), seq, obs })
  }

  /** One QoS 1 send of message `seq` of device i; the message stays unacknowledged until its PUBACK. */
  private send(c: mqtt.MqttClient, i: number, seq: number, payload: string, dup: boolean): Promise<unknown> {
    this.unacked[i]!.set(seq, payload)
    return c.publishAsync(`bedside/v1/devices/${deviceId(i)}/obs`, payload, { qos: 1, dup }).then(() => {
      this.acked[i]!.add(seq)
      this.unacked[i]!.delete(seq)
    }, () => undefined)
  }

  private async loop(c: mqtt.MqttClient, i: number): Promise<void> {
    const closed = new Promise<'closed'>((resolve) => c.once('close', () => resolve('closed')))
    const window = this.opts.window ?? 1
    const gapMs = 1000 / this.opts.rateHz
    let inflight: Promise<unknown>[] = []
    // First what the last connection left unacknowledged, as it was, with DUP (in seq order).
    for (const [seq, payload] of [...this.unacked[i]!]) {
      if (!c.connected) break
      this.resent++
      inflight.push(Promise.race([this.send(c, i, seq, payload, true), closed]))
    }
    if ((await Promise.race([Promise.all(inflight), closed])) === 'closed') return
    inflight = []
    while (this.running && c.connected) {
      const seq = this.nextSeq[i]++
      const sent = Date.now()
      this.published++
      inflight.push(Promise.race([this.send(c, i, seq, this.payload(i, seq), false), closed]))
      if (inflight.length >= window) {
        if ((await Promise.race([Promise.all(inflight), closed])) === 'closed') break
        inflight = []
      }
      const wait = gapMs - (Date.now() - sent)
      if (wait > 0) await Promise.race([new Promise((r) => setTimeout(r, wait)), closed])
    }
    await Promise.race([Promise.all(inflight), closed])
  }

  /** Publishes `messages` per device as fast as the window allows (outage fill); resolves when all are acknowledged. */
  async burst(messages: number): Promise<void> {
    const window = this.opts.window ?? 32
    await Promise.all(this.clients.map(async (c, i) => {
      let inflight: Promise<unknown>[] = []
      for (let m = 0; m < messages; m++) {
        const seq = this.nextSeq[i]++
        this.published++
        inflight.push(c!.publishAsync(`bedside/v1/devices/${deviceId(i)}/obs`, this.payload(i, seq), { qos: 1 }).then(() => this.acked[i]!.add(seq)))
        if (inflight.length >= window) {
          await Promise.all(inflight)
          inflight = []
        }
      }
      await Promise.all(inflight)
    }))
  }

  /** Connects without the publishing loop (for burst()). */
  async connect(url: string): Promise<void> {
    this.clients = await Promise.all(Array.from({ length: this.opts.devices }, (_, i) =>
      mqtt.connectAsync(url, { username: deviceId(i), password: secret(i), clientId: `${deviceId(i)}-${Math.random().toString(36).slice(2, 8)}`, reconnectPeriod: 0, clean: true, protocolVersion: 4 })))
  }
}

/** Resident set size of a process in bytes (Linux /proc). */
export async function rssBytes(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises')
  const m = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) * 1024 : 0
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Tests on real Kafka/Cassandra run under `npm test` (scripts/test.sh exports their addresses);
 * `npm run test:unit` runs without them, so there they are reported as skipped, never passed.
 */
export const needsServices = process.env.KAFKA_BROKERS && process.env.CASSANDRA_CONTACT ? false : 'needs the real services (npm test exports KAFKA_BROKERS, CASSANDRA_CONTACT)'
