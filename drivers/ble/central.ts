/**
 * The BLE central: one per adapter, shared by every BLE device driver of the hub. It waits for the
 * adapter, scans only while some driver is looking for a device, and hands a discovered peripheral
 * to the driver that asked for its address, and only if the address is on the allowlist.
 *
 * Lifecycle: construct with a noble-like binding (real noble via noble-binding.ts, or the
 * simulated radio), call `find` from drivers, `close` once at shutdown. Not thread-shared: Node's
 * single event loop serialises all calls.
 */
import type { BleDeviceType } from './profiles/profile.js'
import { GATT } from './gatt-uuids.js'
import type { Allowlist } from './allowlist.js'
import { BleError } from './ble-errors.js'
import { normalizeAddress, type NobleLike, type PeripheralLike } from './noble-like.js'

/** A device seen while scanning: what `bedside-hub pair` lists. */
export interface ScanResult {
  readonly address: string
  readonly localName: string | null
  readonly serviceUuids: readonly string[]
  /** dBm of the last advertisement, when the binding reports it. */
  readonly rssi: number | null
  /** The bedside-hub device type its advertised services match, or null when none is supported. */
  readonly supportedType: BleDeviceType | null
  readonly allowlisted: boolean
  readonly lastSeenMs: number
}

interface Waiter {
  readonly address: string
  resolve(p: PeripheralLike): void
}

export class BleCentral {
  private readonly known = new Map<string, PeripheralLike>()
  private readonly seen = new Map<string, ScanResult>()
  private readonly waiters = new Set<Waiter>()
  private scanning = false
  private readonly onDiscover = (p: PeripheralLike) => this.discovered(p)
  // An adapter that powers off stops scanning by itself; scan again for waiting drivers when it is back.
  private readonly onStateChange = (state: string) => {
    if (state !== 'poweredOn') this.scanning = false
    else this.updateScanning().catch((err) => (this.lastScanError = err))
  }
  /** Last scan start/stop failure outside a `find` call (diagnostics; the next `find` retries and reports its own). */
  lastScanError: unknown = null

  constructor(
    readonly binding: NobleLike,
    private readonly allowlist: Allowlist,
    private readonly nowMs: () => number = Date.now,
  ) {
    binding.on('discover', this.onDiscover)
    binding.on('stateChange', this.onStateChange)
  }

  /**
   * Resolves with the peripheral for `address` once it is known (seen in a scan), scanning meanwhile.
   * Rejects on timeout or abort. Never hands out an address that is not on the allowlist.
   */
  async find(address: string, timeoutMs: number, signal: AbortSignal): Promise<PeripheralLike> {
    const addr = normalizeAddress(address)
    if (!this.allowlist.has(addr)) throw new BleError('BEDSIDE_ERR_BLE_NOT_ALLOWLISTED', `${addr} is not on the pairing allowlist`)
    const cached = this.known.get(addr)
    if (cached) return cached
    await this.poweredOn(timeoutMs, signal)
    return this.waitForDiscovery(addr, timeoutMs, signal)
  }

  /** Drops a cached peripheral (e.g. after a failed connect), so the next `find` scans for it again. */
  forget(address: string): void {
    this.known.delete(normalizeAddress(address))
  }

  /** Devices seen since the central started, allowlisted or not (never connected unless allowlisted). */
  scanResults(): ScanResult[] {
    return [...this.seen.values()]
  }

  /** Scans for `durationMs` and returns what was seen (the `pair` command). */
  async scan(durationMs: number, signal: AbortSignal): Promise<ScanResult[]> {
    await this.poweredOn(durationMs, signal)
    const w: Waiter = { address: '', resolve: () => undefined }
    this.waiters.add(w) // keeps the scan running without matching any device
    await this.updateScanning()
    await sleepOrAbort(durationMs, signal).finally(() => this.release(w))
    return this.scanResults()
  }

  async close(): Promise<void> {
    this.waiters.clear()
    this.binding.removeListener('discover', this.onDiscover)
    this.binding.removeListener('stateChange', this.onStateChange)
    await this.updateScanning()
  }

  private discovered(p: PeripheralLike): void {
    const addr = normalizeAddress(p.address)
    const allowlisted = this.allowlist.has(addr)
    const ad = p.advertisement ?? {}
    const serviceUuids = ad.serviceUuids ?? []
    this.seen.set(addr, { address: addr, localName: ad.localName ?? null, serviceUuids, rssi: p.rssi ?? null, supportedType: typeFromServices(serviceUuids), allowlisted, lastSeenMs: this.nowMs() })
    if (!allowlisted) return // seen and listed for pairing, never handed to a driver
    this.known.set(addr, p)
    for (const w of this.waiters) if (w.address === addr) w.resolve(p)
  }

  private async waitForDiscovery(addr: string, timeoutMs: number, signal: AbortSignal): Promise<PeripheralLike> {
    let waiter!: Waiter
    const found = new Promise<PeripheralLike>((resolve) => (waiter = { address: addr, resolve }))
    this.waiters.add(waiter)
    await this.updateScanning()
    try {
      return await raceTimeout(found, timeoutMs, signal, `${addr} not seen advertising within ${timeoutMs} ms`)
    } finally {
      await this.release(waiter)
    }
  }

  private async release(w: Waiter): Promise<void> {
    this.waiters.delete(w)
    await this.updateScanning()
  }

  /** Scan exactly while someone waits: scanning slows connection events of the links already up. */
  private async updateScanning(): Promise<void> {
    const want = this.waiters.size > 0 && this.binding.state === 'poweredOn'
    if (want === this.scanning) return
    this.scanning = want
    try {
      // allowDuplicates: a device seen before the scan began must be reported again to be found.
      if (want) await this.binding.startScanningAsync([], true)
      else await this.binding.stopScanningAsync()
    } catch (err) {
      this.scanning = !want // so that the next call tries again
      throw err
    }
  }

  private async poweredOn(timeoutMs: number, signal: AbortSignal): Promise<void> {
    if (this.binding.state === 'poweredOn') return
    let onState!: (s: string) => void
    const ready = new Promise<void>((resolve) => {
      onState = (s: string) => s === 'poweredOn' && resolve()
    })
    this.binding.on('stateChange', onState)
    try {
      await raceTimeout(ready, timeoutMs, signal, `Bluetooth adapter is ${this.binding.state}, not poweredOn`)
    } finally {
      this.binding.removeListener('stateChange', onState)
    }
  }
}

/**
 * Device type from advertised services: Polar PMD first (an H10 also advertises Heart Rate),
 * then PLX 0x1822, Health Thermometer 0x1809, Heart Rate 0x180D (protocols.md §1–3, §5.1).
 */
export function typeFromServices(uuids: readonly string[]): BleDeviceType | null {
  const norm = uuids.map((u) => u.toLowerCase().replace(/-/g, ''))
  const has = (short: string) => norm.some((u) => u === short || u === `0000${short}00001000800000805f9b34fb`)
  if (norm.includes(GATT.PMD_SERVICE)) return 'polar-pmd'
  if (has(GATT.PULSE_OXIMETER_SERVICE)) return 'ble-plx'
  if (has(GATT.HEALTH_THERMOMETER_SERVICE)) return 'ble-hts'
  if (has(GATT.HEART_RATE_SERVICE)) return 'ble-hrs'
  return null
}

/** Resolves with `p`, or rejects with a BEDSIDE_ERR_BLE_TIMEOUT after `timeoutMs` or with the abort reason. */
export async function raceTimeout<T>(p: Promise<T>, timeoutMs: number, signal: AbortSignal, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  let onAbort: (() => void) | undefined
  const fail = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BleError('BEDSIDE_ERR_BLE_TIMEOUT', message)), timeoutMs)
    onAbort = () => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'))
    if (signal.aborted) onAbort()
    else signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([p, fail])
  } finally {
    clearTimeout(timer)
    if (onAbort) signal.removeEventListener('abort', onAbort)
  }
}

/** Waits `ms`; resolves early (without error) when `signal` aborts. */
export function sleepOrAbort(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    if (signal.aborted) done()
    else signal.addEventListener('abort', done, { once: true })
  })
}
