/**
 * Builds one Driver per configured device (drivers/ are the sources of the data flow). MQTT devices
 * have no driver: they arrive through the broker. BLE devices share one central (the machine's
 * adapter, or the simulated radio of the demo ward), which connects only to allowlisted addresses.
 *
 * Driver families are imported on first use: each library costs 5–10 MB of RSS once loaded
 * (measured: serialport +8 MB, the BLE stack +6 MB over a bare node), and a ward without serial
 * monitors or patches should not pay for them (issue 11 memory goal).
 */
import type { Allowlist } from '../drivers/ble/index.js'
import { familyOf } from '../drivers/families.js'
import type { FamilyEnv } from '../drivers/family.js'
import type { NobleLike } from '../drivers/ble/noble-like.js'
import type { LinkCounters } from '../drivers/serial/index.js'
import type { Logger } from 'pino'
import type { Driver, DriverContext } from '../drivers/types.js'
import type { DeviceEntry, DeviceRegistry } from './pipeline/devices.js'
import type { Pairing, Pairings } from './store/pairings.js'

export interface DriverFactoryOptions {
  readonly allowlist: Allowlist
  /** The demo ward's simulated radio; otherwise the machine's adapter is loaded on first use. */
  readonly simRadio?: NobleLike
}

/** Creates drivers for device entries through their family (drivers/families.ts); all BLE drivers share one central. */
export class DriverFactory {
  /** Per-port counters of serial/TCP drivers, by device id, for /metrics. */
  readonly linkCounters = new Map<string, () => LinkCounters>()
  private readonly sharedByKey = new Map<string, Promise<unknown>>()
  private simSeed = 1
  private readonly env: FamilyEnv

  constructor(o: DriverFactoryOptions) {
    this.env = {
      shared: <T>(key: string, make: () => Promise<T>): Promise<T> => {
        let p = this.sharedByKey.get(key)
        if (!p) this.sharedByKey.set(key, (p = make()))
        return p as Promise<T>
      },
      allowlist: o.allowlist,
      ...(o.simRadio ? { simRadio: o.simRadio } : {}),
      countLink: (deviceId, read) => void this.linkCounters.set(deviceId, read),
      nextSimSeed: () => this.simSeed++,
    }
  }

  /** The device's driver, or null for devices that arrive through the MQTT broker. */
  create(d: DeviceEntry): Promise<Driver | null> {
    return familyOf(d.config.type).create(d.config, this.env)
  }
}

/** What the runner needs from the agent for each device it starts. */
export interface DeviceHost {
  context(deviceId: string): DriverContext
  /** A driver failed to start (configuration error): the ward goes on without it. */
  startFailed(deviceId: string, err: Error): void
  /** A paired device was added or removed while running: audited by the agent. */
  pairingChanged(p: { address: string; deviceId: string; bedId: string; addedBy: string }, change: 'paired' | 'unpaired'): void
}

/**
 * Runs the ward's drivers: those of the config at start, and those of BLE pairings made or removed
 * with `bedside-hub pair` while the agent runs (re-read every few seconds by `syncPairings`).
 */
export class DeviceRunner {
  private readonly running = new Map<string, Driver>()
  /** Paired addresses currently allowed (besides the config's). */
  private readonly paired = new Map<string, Pairing>()
  readonly factory: DriverFactory
  readonly allowlist: Allowlist

  constructor(
    private readonly devices: DeviceRegistry,
    private readonly beds: ReadonlySet<string>,
    private readonly pairings: Pairings | null,
    private readonly host: DeviceHost,
    simRadio: NobleLike | undefined,
    private readonly log: Logger,
  ) {
    const configured = new Set([...devices.all()].flatMap((d) => ('address' in d.config ? [d.config.address.toLowerCase()] : [])))
    this.allowlist = { has: (address) => configured.has(address) || this.paired.has(address) }
    this.factory = new DriverFactory({ allowlist: this.allowlist, simRadio })
  }

  /** Starts every device at once: an absent patch waits out its first connect attempt without holding up the rest. */
  async startAll(): Promise<void> {
    await Promise.all([...this.devices.all()].map((d) => this.start(d)))
    await this.syncPairings()
  }

  private async start(d: DeviceEntry): Promise<void> {
    try {
      const driver = await this.factory.create(d)
      if (!driver) return
      this.running.set(d.id, driver)
      await driver.start(this.host.context(d.id))
    } catch (err) {
      this.host.startFailed(d.id, err as Error)
    }
  }

  /** Starts drivers of new pairings and stops those of removed ones. */
  async syncPairings(): Promise<void> {
    if (!this.pairings) return
    const now = new Map(this.pairings.list().map((p) => [p.address, p]))
    for (const [address, p] of this.paired) {
      const cur = now.get(address)
      if (cur && cur.deviceId === p.deviceId && cur.bedId === p.bedId && cur.deviceType === p.deviceType) continue
      this.paired.delete(address)
      await this.running.get(p.deviceId)?.stop()
      this.running.delete(p.deviceId)
      this.devices.remove(p.deviceId)
      this.host.pairingChanged(p, 'unpaired')
    }
    for (const [address, p] of now) {
      if (this.paired.has(address)) continue
      if (!this.beds.has(p.bedId)) {
        this.log.error({ event: 'pairing_unknown_bed', address, bed: p.bedId }, `pairing of ${address} names bed "${p.bedId}", which is not in the config; ignored`)
        continue
      }
      const entry = this.devices.add(p.bedId, { id: p.deviceId, type: p.deviceType, address, requires_bonding: false, low_battery_pct: 20 })
      if (!entry) {
        this.log.error({ event: 'pairing_id_taken', address, device: p.deviceId }, `pairing of ${address} uses device id "${p.deviceId}", which the config already has; ignored`)
        continue
      }
      this.paired.set(address, p)
      if (!p.audited) {
        this.host.pairingChanged(p, 'paired')
        this.pairings.markAudited(address)
      }
      await this.start(entry)
    }
  }

  async stopAll(): Promise<void> {
    for (const d of this.running.values()) await d.stop()
    this.running.clear()
  }
}
