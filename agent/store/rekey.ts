/**
 * Data-key rotation (issue 18): a new data key, every sealed field re-sealed under it, then the
 * keys no field names any more forgotten. Order, so that a crash at any point loses nothing:
 *   1. the new key is appended to data-key.json (fsynced) before any row uses it;
 *   2. every row still under an older key is opened and re-sealed in ONE transaction: after a
 *      crash either all rows or none carry the new key, and the old key is still in the file;
 *   3. only after that commit are the unused keys dropped from the file. A crash between 2 and 3
 *      leaves an extra old key, dropped by the next rotation.
 * Runs inside the agent (housekeeping, with the pseudonym key rotation): the agent holds the ring
 * in memory, so a second process rotating the same file would leave the agent sealing under a key
 * the file no longer has.
 */
import { SEALED_COLUMNS, type SealedAdmissionRow } from './admissions.js'
import { fieldPurpose, keyIdOf, type RotatingKeyRing } from './crypto.js'
import { storeCipher, type Db } from './db.js'
import { resealDeviceIdentities } from './device-identities.js'

export interface DataKeyRotation {
  readonly keyId: number
  readonly resealedFields: number
  readonly droppedKeyIds: readonly number[]
}

/** Key ids named by any sealed field of the store. */
export function dataKeysInUse(db: Db): Set<number> {
  const used = new Set<number>()
  for (const col of SEALED_COLUMNS) {
    for (const r of db.prepare(`SELECT ${col} AS v FROM admissions WHERE ${col} IS NOT NULL`).raw().iterate() as IterableIterator<[Uint8Array]>) used.add(keyIdOf(r[0]))
  }
  for (const r of db.prepare('SELECT identity FROM device_identities').raw().iterate() as IterableIterator<[Uint8Array]>) used.add(keyIdOf(r[0]))
  return used
}

export function rotateDataKey(db: Db, nowMs: number): DataKeyRotation {
  const cipher = storeCipher(db)
  const ring = cipher.keys as RotatingKeyRing
  if (typeof ring.add !== 'function') throw new TypeError('rotateDataKey: the store was opened with a fixed key ring')
  const { id } = ring.add(nowMs)
  let resealed = 0
  const updates = new Map(SEALED_COLUMNS.map((col) => [col, db.prepare(`UPDATE admissions SET ${col} = ? WHERE id = ?`)]))
  db.transaction(() => {
    const rows = db.prepare('SELECT * FROM admissions').all() as SealedAdmissionRow[]
    for (const r of rows) {
      for (const col of SEALED_COLUMNS) {
        const sealed = r[col]
        if (sealed === null || keyIdOf(sealed) === id) continue
        const purpose = fieldPurpose(`admissions.${col}`, r.id)
        updates.get(col)!.run(cipher.seal(cipher.open(sealed, purpose), purpose), r.id)
        resealed++
      }
    }
    resealed += resealDeviceIdentities(db, id, keyIdOf)
  })()
  const droppedKeyIds = ring.retire(dataKeysInUse(db))
  return { keyId: id, resealedFields: resealed, droppedKeyIds }
}
