/**
 * The ward's device registry, from config: which device belongs to which bed, and its credentials.
 * Association device → bed is static config; bed → patient comes from admissions.
 */
import type { Config, DeviceConfig } from '../config.js'

export interface DeviceEntry {
  readonly id: string
  readonly bedId: string
  readonly config: DeviceConfig
  /**
   * Identifier pseudonymized for the cloud: the manufacturer serial when known (configured, else as
   * the device reports it), else the configured id. Changes go through `identify`.
   */
  identity: string
  /** Next hub-assigned sequence number (DeviceSequence): for records whose device sends none. */
  nextSeq: number
}

export interface RegistryOptions {
  /** Where a device's hub-assigned sequence continues (store/device-seqs.ts); default 1. */
  readonly startSeq?: (deviceId: string) => number
  /** The serial a device reported before (a restart need not wait for it to say so again). */
  readonly knownSerial?: (deviceId: string) => string | undefined
  /**
   * Told of every device's identity when it is added and whenever it changes (`reported`: the
   * device told its serial), so that records keep the identity they were accepted under
   * (store/device-identities.ts).
   */
  readonly onIdentity?: (entry: DeviceEntry, reported: boolean) => void
  /** A device left the ward (unpaired): what it reported no longer speaks for its id. */
  readonly onRemove?: (deviceId: string) => void
}

export class DeviceRegistry {
  private readonly byId = new Map<string, DeviceEntry>()

  private readonly o: Required<RegistryOptions>

  constructor(beds: Config['beds'], options: RegistryOptions = {}) {
    this.o = { startSeq: () => 1, knownSerial: () => undefined, onIdentity: () => undefined, onRemove: () => undefined, ...options }
    for (const bed of beds) for (const d of bed.devices) this.put(bed.id, d)
  }

  private put(bedId: string, config: DeviceConfig): DeviceEntry {
    const identity = config.serial ?? this.o.knownSerial(config.id) ?? config.id
    const entry: DeviceEntry = { id: config.id, bedId, config, identity, nextSeq: this.o.startSeq(config.id) }
    this.byId.set(entry.id, entry)
    this.o.onIdentity(entry, false)
    return entry
  }

  /** The device reported its serial: its identity unless the config names one (the operator's word wins). */
  identify(deviceId: string, serial: string): void {
    const entry = this.byId.get(deviceId)
    if (!entry || entry.config.serial !== undefined || entry.identity === serial) return
    entry.identity = serial
    this.o.onIdentity(entry, true)
  }

  /** Adds a device paired at run time (bedside-hub pair add); false when the id is taken. */
  add(bedId: string, config: DeviceConfig): DeviceEntry | undefined {
    if (this.byId.has(config.id)) return undefined
    return this.put(bedId, config)
  }

  remove(deviceId: string): void {
    this.byId.delete(deviceId)
    this.o.onRemove(deviceId)
  }

  get(deviceId: string): DeviceEntry | undefined {
    return this.byId.get(deviceId)
  }

  all(): IterableIterator<DeviceEntry> {
    return this.byId.values()
  }

  /** Device ids of one bed. */
  ofBed(bedId: string): DeviceEntry[] {
    return [...this.byId.values()].filter((d) => d.bedId === bedId)
  }
}
