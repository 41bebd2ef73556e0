/**
 * The ward's device registry, from config: which device belongs to which bed, and its credentials.
 * Association device → bed is static config; bed → patient comes from admissions.
 */
import type { Config, DeviceConfig } from '../config.js'

export interface DeviceEntry {
  readonly id: string
  readonly bedId: string
  readonly config: DeviceConfig
  /** Identifier pseudonymized for the cloud: the manufacturer serial when known, else the configured id. */
  readonly identity: string
  /** Next hub-assigned sequence number (DeviceSequence): for records whose device sends none. */
  nextSeq: number
}

export class DeviceRegistry {
  private readonly byId = new Map<string, DeviceEntry>()

  /** `startSeq`: where a device's hub-assigned sequence continues (store/device-seqs.ts). */
  constructor(beds: Config['beds'], private readonly startSeq: (deviceId: string) => number = () => 1) {
    for (const bed of beds) {
      for (const d of bed.devices) this.byId.set(d.id, { id: d.id, bedId: bed.id, config: d, identity: d.serial ?? d.id, nextSeq: startSeq(d.id) })
    }
  }

  /** Adds a device paired at run time (bedside-hub pair add); false when the id is taken. */
  add(bedId: string, config: DeviceConfig): DeviceEntry | undefined {
    if (this.byId.has(config.id)) return undefined
    const entry: DeviceEntry = { id: config.id, bedId, config, identity: config.serial ?? config.id, nextSeq: this.startSeq(config.id) }
    this.byId.set(config.id, entry)
    return entry
  }

  remove(deviceId: string): void {
    this.byId.delete(deviceId)
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
