/**
 * One BLE device as a `Driver` (drivers/types.ts): connect, discover, let the profile subscribe,
 * report link state, and reconnect with backoff after link loss, keeping the device's association
 * (device id, sequence numbers, conditions) across connections.
 *
 * Lifecycle:
 * - `start(ctx)` rejects at once on configuration errors (address not allowlisted, device type that
 *   needs bonding); otherwise it resolves after the first connection attempt has finished, whether
 *   subscribed or failed: an absent patch must not hold the agent's start-up. Attempts go on in the
 *   background, reported through `ctx.status`.
 * - Every attempt checks the allowlist again: a device removed from it is not reconnected.
 * - One `start` per instance (a driver is created per configured device).
 * - `stop()` (or `ctx.signal` abort) is idempotent: it stops the profile's stream (PMD `03 00`),
 *   clears the CCCDs, disconnects, and reports `disconnected` with cause `stopped`.
 */
import type { Driver, DriverContext } from '../types.js'
import type { Allowlist } from './allowlist.js'
import { BatteryMonitor, DEFAULT_LOW_BATTERY_PCT } from './battery.js'
import { BleError, BONDING_UNSUPPORTED_TEXT } from './ble-errors.js'
import { backoffDelayMs, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js'
import { raceTimeout, sleepOrAbort, type BleCentral } from './central.js'
import type { DeviceIdentity } from './device-info.js'
import { errorText, Link, type DeviceState } from './link.js'
import { normalizeAddress } from './noble-like.js'
import { COMMON_CHARACTERISTICS, COMMON_SERVICES, readIdentity, watchBattery } from './profiles/common.js'
import type { BleProfile } from './profiles/profile.js'

export interface BleDeviceOptions {
  readonly deviceId: string
  readonly address: string
  readonly profile: BleProfile
  readonly central: BleCentral
  readonly allowlist: Allowlist
  /** The device demands a bonded link: refused at start with BEDSIDE_ERR_BLE_BONDING_UNSUPPORTED. */
  readonly requiresBonding?: boolean
  readonly backoff?: BackoffOptions
  /** Bound on finding and connecting to the device in one attempt. */
  readonly connectTimeoutMs?: number
  /** Bound on each GATT operation. */
  readonly gattTimeoutMs?: number
  readonly lowBatteryPct?: number
  /** Overrides the profile's silence bound (null: never report 'silent'). */
  readonly silenceMs?: number | null
  readonly nowMs?: () => number
  readonly random?: () => number
  /** Called after each connection with the Device Information strings (pairing records). */
  readonly onIdentity?: (identity: DeviceIdentity) => void
}

export class BleDeviceDriver implements Driver {
  readonly deviceId: string
  readonly address: string
  /** Manufacturer/model/serial from the last connection; null before the first. */
  identity: DeviceIdentity | null = null
  private readonly device: DeviceState
  private readonly battery: BatteryMonitor
  private readonly nowMs: () => number
  private abort: AbortController | null = null
  private loop: Promise<void> | null = null
  private silenceTimer: NodeJS.Timeout | null = null
  private silent = false
  /** Resolves with 'stopped' once stop() is called; raced against each link's end. */
  private stopped: Promise<string> = new Promise(() => {})

  constructor(private readonly o: BleDeviceOptions) {
    this.deviceId = o.deviceId
    this.address = normalizeAddress(o.address)
    this.nowMs = o.nowMs ?? Date.now
    this.device = { deviceId: o.deviceId, seq: { nextSeq: 0 }, lastDataMs: 0 }
    this.battery = new BatteryMonitor(o.deviceId, o.lowBatteryPct ?? DEFAULT_LOW_BATTERY_PCT)
  }

  async start(ctx: DriverContext): Promise<void> {
    if (this.abort) throw new Error(`${this.deviceId}: driver already started`)
    if (!this.o.allowlist.has(this.address)) {
      throw new BleError('BEDSIDE_ERR_BLE_NOT_ALLOWLISTED', `${this.deviceId}: ${this.address} is not on the pairing allowlist; pair it first (bedside-hub pair)`)
    }
    if (this.o.requiresBonding) throw new BleError('BEDSIDE_ERR_BLE_BONDING_UNSUPPORTED', `${this.deviceId}: ${BONDING_UNSUPPORTED_TEXT}`)
    this.device.seq = ctx.sequenceOf?.(this.deviceId) ?? this.device.seq
    const abort = new AbortController()
    this.abort = abort
    this.stopped = new Promise((resolve) => abort.signal.addEventListener('abort', () => resolve('stopped'), { once: true }))
    ctx.signal.addEventListener('abort', () => void this.stop(), { once: true })
    let firstAttemptDone!: () => void
    const first = new Promise<void>((resolve) => (firstAttemptDone = resolve))
    this.loop = this.run(ctx, abort.signal, firstAttemptDone)
    await first
  }

  async stop(): Promise<void> {
    const abort = this.abort
    if (!abort || abort.signal.aborted) return this.loop ?? undefined
    abort.abort(new Error('stopped'))
    await this.loop
  }

  private async run(ctx: DriverContext, signal: AbortSignal, firstAttemptDone: () => void): Promise<void> {
    let attempt = 0
    while (!signal.aborted) {
      ctx.status({ state: 'connecting' })
      const cause = await this.session(ctx, signal, firstAttemptDone, () => (attempt = 0))
      if (signal.aborted) break
      this.o.central.forget(this.address) // rescan: after a loss the device may come back elsewhere
      ctx.status({ state: 'disconnected', cause })
      firstAttemptDone()
      if (!this.o.allowlist.has(this.address)) {
        ctx.status({ state: 'disconnected', cause: 'removed from the pairing allowlist; not reconnecting' })
        return
      }
      await sleepOrAbort(backoffDelayMs(attempt++, this.o.backoff ?? DEFAULT_BACKOFF, this.o.random), signal)
    }
    ctx.status({ state: 'disconnected', cause: 'stopped' })
  }

  /** One connection from find to link loss (or stop). Returns the cause of its end. */
  private async session(ctx: DriverContext, signal: AbortSignal, subscribed: () => void, resetBackoff: () => void): Promise<string> {
    let link: Link | null = null
    try {
      link = await this.connect(ctx, signal)
      await this.open(link)
      resetBackoff()
      ctx.status({ state: 'connected' })
      subscribed()
      this.watchSilence(ctx)
      return await Promise.race([link.closed, this.stopped])
    } catch (err) {
      return errorText(err)
    } finally {
      this.unwatchSilence()
      if (link) await this.teardown(link)
    }
  }

  private async connect(ctx: DriverContext, signal: AbortSignal): Promise<Link> {
    const timeoutMs = this.o.connectTimeoutMs ?? 15_000
    const p = await this.o.central.find(this.address, timeoutMs, signal)
    if (!this.o.allowlist.has(this.address)) throw new BleError('BEDSIDE_ERR_BLE_NOT_ALLOWLISTED', `${this.address} left the allowlist`)
    try {
      await raceTimeout(p.connectAsync(), timeoutMs, signal, `${this.deviceId}: connect to ${this.address} did not complete within ${timeoutMs} ms`)
    } catch (err) {
      // A connect left pending would complete later and hold a link nobody uses.
      p.cancelConnect?.()
      throw err
    }
    return new Link(p, ctx, this.device, this.o.gattTimeoutMs ?? 10_000, this.nowMs)
  }

  private async open(link: Link): Promise<void> {
    const profile = this.o.profile
    await link.discover([...profile.serviceUuids, ...COMMON_SERVICES], [...profile.characteristicUuids, ...COMMON_CHARACTERISTICS])
    this.identity = await readIdentity(link)
    this.o.onIdentity?.(this.identity)
    if (this.identity.serial) link.ctx.identified?.(this.identity.serial)
    await watchBattery(link, this.battery)
    this.device.lastDataMs = this.nowMs()
    await profile.open(link)
  }

  /** Leaves the device as it was: the profile stops its stream, then the link clears CCCDs and disconnects. */
  private async teardown(link: Link): Promise<void> {
    if (link.isUp) {
      await this.o.profile.close(link).catch((err) => link.fail('ble-teardown', err))
    }
    await link.close()
  }

  private watchSilence(ctx: DriverContext): void {
    const silenceMs = this.o.silenceMs !== undefined ? this.o.silenceMs : this.o.profile.silenceMs
    if (silenceMs === null) return
    this.silent = false
    this.silenceTimer = setInterval(() => {
      const quiet = this.nowMs() - this.device.lastDataMs > silenceMs
      if (quiet !== this.silent) {
        this.silent = quiet
        ctx.status(quiet ? { state: 'silent', sinceMs: this.device.lastDataMs } : { state: 'connected' })
      }
    }, Math.max(10, silenceMs / 4))
    this.silenceTimer.unref()
  }

  private unwatchSilence(): void {
    if (this.silenceTimer) clearInterval(this.silenceTimer)
    this.silenceTimer = null
  }
}
