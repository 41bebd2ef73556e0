/**
 * Hub-assigned device sequence numbers survive a restart: each commit writes, in the same
 * transaction as the records, the next number of every device that took numbers since the last
 * one (DeviceSequence, drivers/types.ts), and the agent starts each device from there. So
 * (device, device_seq) names one record of a device that sends no numbers of its own, across
 * reconnects and restarts. One UPSERT per active device per commit.
 */
import type { DeviceSequence } from '../../drivers/types.js'
import type { BatchCompanion } from './commit.js'
import type { Db } from './db.js'

export interface SequencedDevice extends DeviceSequence {
  readonly id: string
}

export class DeviceSeqStore implements BatchCompanion {
  private readonly saved = new Map<string, number>()
  private readonly upsert

  constructor(db: Db, private readonly devices: () => Iterable<SequencedDevice>) {
    this.upsert = db.prepare('INSERT INTO device_seqs (device_id, next_seq) VALUES (?, ?) ON CONFLICT (device_id) DO UPDATE SET next_seq = excluded.next_seq')
    for (const [id, next] of db.prepare('SELECT device_id, next_seq FROM device_seqs').raw().iterate() as IterableIterator<[string, number]>) this.saved.set(id, next)
  }

  /** Where a device's sequence starts (configured at start, or paired later): where it stopped, or 1. */
  startOf(deviceId: string): number {
    return this.saved.get(deviceId) ?? 1
  }

  write(): void {
    for (const d of this.devices()) {
      if (this.saved.get(d.id) === d.nextSeq || (d.nextSeq === 1 && !this.saved.has(d.id))) continue
      this.upsert.run(d.id, d.nextSeq)
    }
  }

  settled(ok: boolean): void {
    if (!ok) return // the rows rolled back; the next commit writes the same high-water marks again
    for (const d of this.devices()) if (d.nextSeq !== 1 || this.saved.has(d.id)) this.saved.set(d.id, d.nextSeq)
  }
}
