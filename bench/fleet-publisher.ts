/**
 * One simulated device of a fleet ward, publishing to its agent over MQTT QoS 1 like a real client:
 * a monitor sends numerics every second (5 observations), a patch sends one ECG chunk per second
 * (250 Hz). Every message keeps its payload until its PUBACK; after a lost connection the device
 * reconnects with the same client id and re-sends each unacknowledged message with DUP set
 * [MQTT-4.4.0-1], before anything new. A message counts as acknowledged once any send is.
 */
import mqtt from 'mqtt'

export type DeviceKind = 'monitor' | 'patch'

const CODES = ['MDC_PULS_OXIM_SAT_O2', 'MDC_RESP_RATE', 'MDC_TEMP_BODY', 'MDC_PULS_OXIM_PULS_RATE', 'MDC_PRESS_BLD_NONINV_SYS'] as const
const UNITS = ['%', '/min', 'Cel', '/min', 'mm[Hg]'] as const
const NORMAL = [97, 15, 36.8, 76, 120] as const
const ECG_HZ = 250
/** Messages in flight per device before the device waits (its own send buffer holds the rest). */
const WINDOW = 8

/** A plausible lead II: baseline, a P wave, a QRS spike every 0.8 s (75/min) and a T wave, in µV. */
function ecgChunk(t0Ms: number): number[] {
  const out = new Array<number>(ECG_HZ)
  for (let i = 0; i < ECG_HZ; i++) {
    const phase = ((t0Ms + (i * 1000) / ECG_HZ) % 800) / 800
    let v = 0
    if (phase > 0.1 && phase < 0.18) v = 120 * Math.sin(((phase - 0.1) / 0.08) * Math.PI)
    else if (phase > 0.25 && phase < 0.27) v = -150
    else if (phase >= 0.27 && phase < 0.3) v = 1200
    else if (phase >= 0.3 && phase < 0.32) v = -300
    else if (phase > 0.45 && phase < 0.6) v = 250 * Math.sin(((phase - 0.45) / 0.15) * Math.PI)
    out[i] = Math.round(v)
  }
  return out
}

export class DevicePublisher {
  private client: mqtt.MqttClient | null = null
  private nextSeq = 1
  private readonly unacked = new Map<number, string>()
  /** Built by the clock but not yet sent (the window was full or the link was down). */
  private readonly queued: { seq: number; payload: string }[] = []
  private inflight = 0
  private timer: NodeJS.Timeout | null = null
  private running = false
  private closed = false
  readonly acked = new Set<number>()
  published = 0
  resent = 0
  reconnects = 0

  constructor(
    private readonly url: string,
    readonly deviceId: string,
    private readonly secret: string,
    readonly kind: DeviceKind,
  ) {}

  private get topic(): string {
    return `bedside/v1/devices/${this.deviceId}/${this.kind === 'monitor' ? 'obs' : 'wave'}`
  }

  private payload(seq: number, ts: number): string {
    if (this.kind === 'patch') return JSON.stringify({ code: 'MDC_ECG_ELEC_POTL_II', rate: ECG_HZ, t0: ts, seq, samples: ecgChunk(ts) })
    return JSON.stringify({ ts, seq, obs: CODES.map((code, k) => ({ code, value: NORMAL[k], unit: UNITS[k] })) })
  }

  async start(): Promise<void> {
    this.closed = false
    await this.connect()
    this.resume()
  }

  /** Starts (again) producing one message per second. */
  resume(): void {
    if (this.running) return
    this.running = true
    // Spread the devices over the second, as real ones are.
    const tick = () => {
      const seq = this.nextSeq++
      this.published++
      this.queued.push({ seq, payload: this.payload(seq, Date.now()) })
      this.pump()
    }
    this.timer = setTimeout(() => {
      tick()
      this.timer = setInterval(tick, 1000)
    }, Math.floor(Math.random() * 1000))
  }

  /** Stops producing new messages; those in flight still complete. */
  pause(): void {
    this.running = false
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
  }

  get pending(): number {
    return this.unacked.size + this.queued.length
  }

  private async connect(): Promise<void> {
    for (;;) {
      try {
        const c = await mqtt.connectAsync(this.url, { username: this.deviceId, password: this.secret, clientId: this.deviceId, reconnectPeriod: 0, clean: true, protocolVersion: 4, connectTimeout: 5000 })
        this.client = c
        c.once('close', () => this.onClose(c))
        // First what the last connection left unacknowledged, as it was, with DUP (seq order).
        for (const [seq, payload] of [...this.unacked].sort((a, b) => a[0] - b[0])) {
          this.resent++
          this.send(c, seq, payload, true)
        }
        this.pump()
        return
      } catch {
        if (this.closed) return
        await new Promise((r) => setTimeout(r, 1000))
      }
    }
  }

  private onClose(c: mqtt.MqttClient): void {
    if (this.client !== c) return
    this.client = null
    this.inflight = 0
    if (this.closed) return
    this.reconnects++
    setTimeout(() => void this.connect(), 1000)
  }

  private pump(): void {
    const c = this.client
    while (c?.connected && this.inflight < WINDOW && this.queued.length > 0) {
      const m = this.queued.shift()!
      this.unacked.set(m.seq, m.payload)
      this.send(c, m.seq, m.payload, false)
    }
  }

  private send(c: mqtt.MqttClient, seq: number, payload: string, dup: boolean): void {
    this.inflight++
    c.publishAsync(this.topic, payload, { qos: 1, dup }).then(() => {
      this.acked.add(seq)
      this.unacked.delete(seq)
      if (this.client === c) {
        this.inflight--
        this.pump()
      }
    }, () => undefined) // the close handler re-sends it
  }

  async stop(): Promise<void> {
    this.pause()
    this.closed = true
    const c = this.client
    this.client = null
    await c?.endAsync(true).catch(() => undefined)
  }
}
