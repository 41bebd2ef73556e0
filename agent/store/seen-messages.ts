/**
 * The redelivery window: which sender messages each device already had accepted, so that a message
 * re-sent after a lost acknowledgement is acknowledged again and stored once.
 *
 * Why it exists: an MQTT QoS 1 device re-sends every PUBLISH whose PUBACK it did not get, with DUP
 * set, after it reconnects [MQTT-4.4.0-1]; an HL7 v2 sender re-sends a message (same MSH-10) whose
 * ACK it did not get (HL7 v2.x §2.9 original acknowledgement mode). When the agent dies after the
 * group commit and before the acknowledgement, the re-send carries records that are already stored.
 *
 * What is remembered: per device, the keys of its last `perDevice` accepted messages (MQTT: seq and
 * device time; HL7: sender and MSH-10). That covers every message a sender can still re-send, since
 * a sender re-sends only its unacknowledged messages and keeps at most its in-flight window of them
 * (mqtt.js, Paho and the test publishers keep ≤ 64; the default keeps 1024).
 *
 * Where it lives: in memory for the lookup (a KeyWindow of key fingerprints per device, in arrival
 * order, so eviction drops the oldest; key-window.ts says why not a Map of strings), and in the
 * `seen_messages` table written in the same transaction as the records it covers (GroupCommitter
 * companion): after a crash, a key is on disk exactly when its records are.
 * A failed commit rolls back both, and the keys of that batch are forgotten here too, so the
 * sender's re-send is stored then. Bounded: at most `perDevice` (+ one batch) rows per device; the
 * rows of evicted keys are deleted in the next commit.
 */
import type { BatchCompanion } from './commit.js'
import type { Db } from './db.js'
import { KeyWindow } from './key-window.js'

/** Messages remembered per device by default. */
export const DEFAULT_REDELIVERY_WINDOW = 1024

/**
 * Keys per INSERT statement, as the group commit does for its records (commit.ts ROWS_PER_INSERT):
 * a statement per key was 5.6 % of the agent's CPU under issue 23's 1-obs load (a key per
 * message, BENCHMARKS.md). The rest of a batch goes one by one.
 */
const KEYS_PER_INSERT = 32

export class SeenMessages implements BatchCompanion {
  private readonly windows = new Map<string, KeyWindow>()
  // Keys added since the last commit, in columns (device, key, hub_seq).
  private pendingDevice: string[] = []
  private pendingKey: string[] = []
  private pendingSeq: number[] = []
  private readonly pruned = new Set<string>()
  private readonly insert
  private readonly insertMany
  /** The bound values of `insertMany`, reused. */
  private readonly manyArgs: unknown[] = new Array<unknown>(3 * KEYS_PER_INSERT).fill(null)
  private readonly prune

  constructor(db: Db, private readonly perDevice = DEFAULT_REDELIVERY_WINDOW) {
    if (!Number.isInteger(perDevice) || perDevice < 1) throw new RangeError(`redelivery window must be a positive integer, got ${perDevice}`)
    this.insert = db.prepare('INSERT OR REPLACE INTO seen_messages (device_id, hub_seq, msg_key) VALUES (?, ?, ?)')
    this.insertMany = db.prepare(`INSERT OR REPLACE INTO seen_messages (device_id, hub_seq, msg_key) VALUES ${new Array(KEYS_PER_INSERT).fill('(?, ?, ?)').join(', ')}`)
    this.prune = db.prepare('DELETE FROM seen_messages WHERE device_id = ? AND hub_seq < ?')
    const rows = db.prepare('SELECT device_id, hub_seq, msg_key FROM seen_messages ORDER BY device_id, hub_seq').raw().iterate() as IterableIterator<[string, number, string]>
    for (const [device, hubSeq, key] of rows) if (this.windowOf(device).add(key, hubSeq)) this.pruned.add(device)
  }

  /** True when `deviceId` already had the message `key` accepted (committed, or in the pending batch). */
  has(deviceId: string, key: string): boolean {
    return this.windows.get(deviceId)?.has(key) === true
  }

  /**
   * Remembers an accepted message whose first record gets `hubSeq`. Call it in the same synchronous
   * turn as the records' appends, inside the committer's `hold`, so that both share one transaction.
   */
  add(deviceId: string, key: string, hubSeq: number): void {
    if (this.windowOf(deviceId).add(key, hubSeq)) this.pruned.add(deviceId)
    this.pendingDevice.push(deviceId)
    this.pendingKey.push(key)
    this.pendingSeq.push(hubSeq)
  }

  /** Remembered keys over all devices (for tests and /metrics). */
  get size(): number {
    let n = 0
    for (const w of this.windows.values()) n += w.size
    return n
  }

  /** BatchCompanion: inside the batch's transaction, after its records. */
  write(): void {
    const n = this.pendingKey.length
    const a = this.manyArgs
    let i = 0
    // in order: a later row of the same (device, hub_seq) replaces an earlier one, as one by one
    for (; i + KEYS_PER_INSERT <= n; i += KEYS_PER_INSERT) {
      for (let k = 0; k < KEYS_PER_INSERT; k++) {
        a[3 * k] = this.pendingDevice[i + k]
        a[3 * k + 1] = this.pendingSeq[i + k]
        a[3 * k + 2] = this.pendingKey[i + k]
      }
      this.insertMany.run(a)
    }
    for (; i < n; i++) this.insert.run(this.pendingDevice[i]!, this.pendingSeq[i]!, this.pendingKey[i]!)
    a.fill(null) // holds no key past the commit
    for (const device of this.pruned) {
      const w = this.windows.get(device)
      if (w && w.pruneBelow === w.pruneBelow) this.prune.run(device, w.pruneBelow)
    }
  }

  /** BatchCompanion: the transaction committed (`ok`) or was rolled back. */
  settled(ok: boolean): void {
    if (ok) {
      for (const device of this.pruned) {
        const w = this.windows.get(device)
        if (w) w.pruneBelow = NaN
      }
      this.pruned.clear()
    } else {
      // Rolled back: the records of these messages are not stored, so their re-sends must be.
      for (let i = 0; i < this.pendingKey.length; i++) this.windows.get(this.pendingDevice[i]!)?.forget(this.pendingKey[i]!)
    }
    this.pendingDevice = []
    this.pendingKey = []
    this.pendingSeq = []
  }

  private windowOf(deviceId: string): KeyWindow {
    let w = this.windows.get(deviceId)
    if (!w) {
      w = new KeyWindow(this.perDevice)
      this.windows.set(deviceId, w)
    }
    return w
  }
}
