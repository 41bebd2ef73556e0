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
}

export class DeviceIdentities {
  private readonly byDevice = new Map<string, History>()
  private readonly insert
  private readonly cipher: FieldCipher

  constructor(private readonly db: Db) {
    this.cipher = storeCipher(db)
    this.insert = db.prepare('INSERT OR REPLACE INTO device_identities (device_id, from_hub_seq, identity) VALUES (?, ?, ?)')
    const rows = db.prepare('SELECT device_id, from_hub_seq, identity FROM device_identities ORDER BY device_id, from_hub_seq').raw().iterate() as IterableIterator<[string, number, Uint8Array]>
    for (const [deviceId, from, sealed] of rows) this.push(deviceId, from, this.cipher.open(sealed, purposeOf(deviceId, from)))
  }

  /** Records that `deviceId` is `identity` from `fromHubSeq` on (nothing when it already was). */
  record(deviceId: string, identity: string, fromHubSeq: number): void {
    if (this.latest(deviceId) === identity) return
    this.insert.run(deviceId, fromHubSeq, this.cipher.seal(identity, purposeOf(deviceId, fromHubSeq)))
    const h = this.byDevice.get(deviceId)
    if (h && h.from[h.from.length - 1] === fromHubSeq) {
      h.identity[h.identity.length - 1] = identity // a second change before any record: the later wins
      return
    }
    this.push(deviceId, fromHubSeq, identity)
  }

  /** The identity `deviceId` had when record `hubSeq` was accepted; undefined before its first entry. */
  at(deviceId: string, hubSeq: number): string | undefined {
    const h = this.byDevice.get(deviceId)
    if (!h) return undefined
    // Newest first: a backlog is mostly under the device's latest identity.
    for (let i = h.from.length - 1; i >= 0; i--) if (h.from[i]! <= hubSeq) return h.identity[i]
    return undefined
  }

  /** The latest identity, when it is not the device id itself (a serial, configured or reported). */
  reportedSerial(deviceId: string): string | undefined {
    const latest = this.latest(deviceId)
    return latest === deviceId ? undefined : latest
  }

  latest(deviceId: string): string | undefined {
    const h = this.byDevice.get(deviceId)
    return h ? h.identity[h.identity.length - 1] : undefined
  }

  private push(deviceId: string, from: number, identity: string): void {
    let h = this.byDevice.get(deviceId)
    if (!h) this.byDevice.set(deviceId, (h = { from: [], identity: [] }))
    h.from.push(from)
    h.identity.push(identity)
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
