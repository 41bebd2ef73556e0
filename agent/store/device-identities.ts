/**
 * Which identity a device had when each of its records was accepted (issue 17). A device's
 * pseudonym is computed from its identity (the manufacturer serial when known, else its configured
 * id), and that identity can change while its records wait for the cloud: a serial read from the
 * device, a config edit, a device unpaired. The history is kept here, one row per change, keyed
 * by the first hub_seq it covers; the sync looks the identity up by the record's hub_seq, so a
 * backlog always leaves under the pseudonym it had when it was accepted.
 *
 * Appended only when an identity changes (at start, on pairing, when a device reports its serial):
 * nothing on the ingest path. Serials are identifiers: sealed at rest like the admissions (issue 18).
 */
import { storeCipher, type Db } from './db.js'
import type { FieldCipher } from './crypto.js'

const purposeOf = (deviceId: string, fromHubSeq: number) => `device_identities.identity#${deviceId}@${fromHubSeq}`

interface History {
  /** First hub_seq of each identity, ascending. */
  readonly from: number[]
  readonly identity: string[]
  /** Whether the device reported it (a serial it told), rather than the config naming it. */
  readonly reported: boolean[]
}

export class DeviceIdentities {
  private readonly byDevice = new Map<string, History>()
  private readonly insert
  private readonly unreport
  private readonly cipher: FieldCipher

  constructor(private readonly db: Db) {
    this.cipher = storeCipher(db)
    this.insert = db.prepare('INSERT OR REPLACE INTO device_identities (device_id, from_hub_seq, identity, reported) VALUES (?, ?, ?, ?)')
    this.unreport = db.prepare('UPDATE device_identities SET reported = 0 WHERE device_id = ?')
    const rows = db.prepare('SELECT device_id, from_hub_seq, identity, reported FROM device_identities ORDER BY device_id, from_hub_seq').raw().iterate() as IterableIterator<[string, number, Uint8Array, number]>
    for (const [deviceId, from, sealed, reported] of rows) this.push(deviceId, from, this.cipher.open(sealed, purposeOf(deviceId, from)), reported === 1)
  }

  /** Records that `deviceId` is `identity` from `fromHubSeq` on (nothing when it already was); `reported`: the device told it. */
  record(deviceId: string, identity: string, fromHubSeq: number, reported = false): void {
    if (this.latest(deviceId) === identity) return
    // A device's first identity covers all its records from the beginning (hub_seq 0): a backlog
    // from before this history existed keeps the identity in force when the agent started with it.
    if (!this.byDevice.has(deviceId)) fromHubSeq = 0
    this.insert.run(deviceId, fromHubSeq, this.cipher.seal(identity, purposeOf(deviceId, fromHubSeq)), reported ? 1 : 0)
    const h = this.byDevice.get(deviceId)
    if (h && h.from[h.from.length - 1] === fromHubSeq) {
      // A second change before any record: the later wins.
      h.identity[h.identity.length - 1] = identity
      h.reported[h.reported.length - 1] = reported
      return
    }
    this.push(deviceId, fromHubSeq, identity, reported)
  }

  /** The identity `deviceId` had when record `hubSeq` was accepted; undefined for a device with no history. */
  at(deviceId: string, hubSeq: number): string | undefined {
    const h = this.byDevice.get(deviceId)
    if (!h) return undefined
    // Newest first: a backlog is mostly under the device's latest identity.
    for (let i = h.from.length - 1; i >= 0; i--) if (h.from[i]! <= hubSeq) return h.identity[i]
    return h.identity[0]
  }

  /** The serial the device itself reported last, while it stays paired (a restart need not wait for it again). */
  reportedSerial(deviceId: string): string | undefined {
    const h = this.byDevice.get(deviceId)
    return h && h.reported[h.reported.length - 1] ? h.identity[h.identity.length - 1] : undefined
  }

  /** The device was unpaired (or its id given to another device): what it reported no longer speaks for the id. */
  forgetReported(deviceId: string): void {
    const h = this.byDevice.get(deviceId)
    if (!h) return
    h.reported.fill(false)
    this.unreport.run(deviceId)
  }

  latest(deviceId: string): string | undefined {
    const h = this.byDevice.get(deviceId)
    return h ? h.identity[h.identity.length - 1] : undefined
  }

  private push(deviceId: string, from: number, identity: string, reported: boolean): void {
    let h = this.byDevice.get(deviceId)
    if (!h) this.byDevice.set(deviceId, (h = { from: [], identity: [], reported: [] }))
    h.from.push(from)
    h.identity.push(identity)
    h.reported.push(reported)
  }
}

/** Re-seals every identity under the current data key (data-key rotation, rekey.ts); returns the count. */
export function resealDeviceIdentities(db: Db, currentKeyId: number, keyIdOf: (sealed: Uint8Array) => number): number {
  const cipher = storeCipher(db)
  const update = db.prepare('UPDATE device_identities SET identity = ? WHERE device_id = ? AND from_hub_seq = ?')
  let n = 0
  for (const [deviceId, from, sealed] of db.prepare('SELECT device_id, from_hub_seq, identity FROM device_identities').raw().all() as [string, number, Uint8Array][]) {
    if (keyIdOf(sealed) === currentKeyId) continue
    const purpose = purposeOf(deviceId, from)
    update.run(cipher.seal(cipher.open(sealed, purpose), purpose), deviceId, from)
    n++
  }
  return n
}
