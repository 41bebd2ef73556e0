/**
 * Exactly-once intake of sender messages: a message is accepted as a unit under its identity, and a
 * re-send of an accepted message (MQTT DUP after a lost PUBACK, HL7 after a lost ACK, across agent
 * restarts) is acknowledged again without being stored again (DESIGN.md, Delivery semantics).
 *
 * The records of one message and its identity go into one group commit (`hold`), so after a crash
 * either both are on disk or neither is: a re-send is then either recognised or stored, never lost
 * and never doubled.
 */
import type { DeliveryResult } from '../../drivers/types.js'
import type { DeviceRecord } from '../../drivers/records.js'
import type { GroupCommitter } from '../store/commit.js'
import type { SeenMessages } from '../store/seen-messages.js'
import type { IngestResult } from './ingest.js'

export interface IntakeDeps {
  readonly committer: GroupCommitter
  readonly seen: SeenMessages
  /** One record into the pipeline (observations and waveform chunks alike). */
  readonly ingest: (record: DeviceRecord) => IngestResult
  /** Counts a recognised re-send (bedside_redelivered_total). */
  readonly redelivered: (source: string) => void
}

export class MessageIntake {
  constructor(private readonly d: IntakeDeps) {}

  /**
   * Delivers the first `n` records of one message of `deviceId` under `key` (null: a message without
   * an identity, accepted as it comes). See DriverContext.deliver for the results.
   */
  deliver(deviceId: string, source: string, key: string | null, records: readonly DeviceRecord[], n = records.length): DeliveryResult {
    if (key !== null && this.d.seen.has(deviceId, key)) {
      this.d.redelivered(source)
      return 'duplicate'
    }
    const committer = this.d.committer
    committer.hold(n)
    try {
      const firstHubSeq = committer.peekHubSeq
      // One message is one unit: refused (store full) if any of it was refused, so the sender keeps it.
      let result: IngestResult = 'rejected'
      for (let i = 0; i < n; i++) {
        const r = this.d.ingest(records[i]!)
        if (r === 'refused' || (r === 'accepted' && result !== 'refused')) result = r
      }
      if (key !== null && result === 'accepted') this.d.seen.add(deviceId, key, firstHubSeq)
      return result
    } finally {
      committer.release()
    }
  }

  /** `deliver`, then `durable` once what was accepted (or the original of a duplicate) is committed. */
  deliverDurably(deviceId: string, source: string, key: string | null, records: readonly DeviceRecord[], durable: (err: Error | null) => void): DeliveryResult {
    const result = this.deliver(deviceId, source, key, records)
    if (result === 'accepted' || result === 'duplicate') this.d.committer.whenCommitted(durable)
    return result
  }
}
