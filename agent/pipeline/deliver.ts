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
   * Delivers one message of `deviceId` under `key` (null: a message without an identity, accepted as
   * it comes). See DriverContext.deliver for the results. For accepted and duplicate, `durable` is
   * called once the records (or the original's) are committed, or with the error of their commit,
   * also when that commit ran inside this call (a message that filled the batch).
   */
  deliver(deviceId: string, source: string, key: string | null, records: readonly DeviceRecord[], durable?: (err: Error | null) => void): DeliveryResult {
    const n = records.length
    if (key !== null && this.d.seen.has(deviceId, key)) {
      this.d.redelivered(source)
      if (durable) this.d.committer.whenCommitted(durable)
      return 'duplicate'
    }
    const committer = this.d.committer
    committer.hold(n)
    const firstHubSeq = committer.peekHubSeq
    let result: IngestResult = 'rejected'
    try {
      // One message is one unit: refused (store full) if any of it was refused, so the sender keeps it.
      for (let i = 0; i < n; i++) {
        const r = this.d.ingest(records[i]!)
        if (r === 'refused' || (r === 'accepted' && result !== 'refused')) result = r
      }
      if (key !== null && result === 'accepted') this.d.seen.add(deviceId, key, firstHubSeq)
    } finally {
      committer.release()
    }
    if (durable && result === 'accepted') committer.durableFrom(firstHubSeq, durable)
    return result
  }
}
