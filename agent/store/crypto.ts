/**
 * Field encryption of the store (issue 18): every identifying column (MRN, name, birth date) is
 * sealed with AES-256-GCM (node:crypto) under the current data key, so the database file alone,
 * or a copy of it with its WAL, reveals no identity. One sealed field, stored as a BLOB:
 *
 *   0      1          5              17                 n-16        n
 *   │ ver │ key id    │ IV (12 B)    │ ciphertext       │ tag (16 B) │
 *     0x01  uint32 BE   random         same length as      GCM tag
 *                                      the UTF-8 plaintext
 *
 * - IV: 96 random bits per seal, the construction of NIST SP 800-38D §8.2.2. With random IVs the
 *   same key must seal at most 2^32 fields (§8.3); a ward seals three per admission, thousands a
 *   year, and the key rotates with the pseudonym keys, so the bound is never approached.
 * - Tag: the full 128 bits (SP 800-38D §5.2.1.2 allows shorter; nothing here needs to save bytes).
 * - Associated data: the 5-byte header (so the version and key id cannot be swapped) and the
 *   field's purpose, `table.column#rowid`: a ciphertext moved to another row or column (an MRN
 *   copied over another patient's) fails authentication instead of decrypting to the wrong person.
 * - Opening never returns unauthenticated bytes: a flipped bit is a FieldCipherError, not garbage.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'

export const FIELD_FORMAT_V1 = 0x01
const HEADER_BYTES = 5
const IV_BYTES = 12
const TAG_BYTES = 16

/** The data keys a cipher may use: the current one seals, any kept one opens. */
export interface KeyRing {
  readonly current: { readonly id: number; readonly key: Buffer }
  byId(id: number): { readonly id: number; readonly key: Buffer } | undefined
}

/** A ring that can rotate: add a new current key, and forget keys no sealed field names any more. */
export interface RotatingKeyRing extends KeyRing {
  add(nowMs: number): { readonly id: number }
  retire(inUse: ReadonlySet<number>): number[]
}

export type FieldCipherErrorCode = 'BEDSIDE_ERR_FIELD_AUTH' | 'BEDSIDE_ERR_FIELD_FORMAT' | 'BEDSIDE_ERR_DATA_KEY_MISSING'

export class FieldCipherError extends Error {
  constructor(readonly code: FieldCipherErrorCode, readonly purpose: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'FieldCipherError'
  }
}

/** `admissions.mrn#42`: what a sealed field is bound to. */
export const fieldPurpose = (column: string, rowId: number): string => `${column}#${rowId}`

export class FieldCipher {
  constructor(readonly keys: KeyRing) {}

  seal(plain: string, purpose: string): Buffer {
    const { id, key } = this.keys.current
    const header = Buffer.alloc(HEADER_BYTES)
    header[0] = FIELD_FORMAT_V1
    header.writeUInt32BE(id, 1)
    const iv = randomBytes(IV_BYTES)
    const c = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES })
    c.setAAD(aad(header, purpose))
    const body = Buffer.concat([c.update(plain, 'utf8'), c.final()])
    return Buffer.concat([header, iv, body, c.getAuthTag()])
  }

  open(sealed: Uint8Array, purpose: string): string {
    if (!(sealed instanceof Uint8Array)) throw new FieldCipherError('BEDSIDE_ERR_FIELD_FORMAT', purpose, `${purpose}: stored as ${typeof sealed}, not sealed: the store predates schema v3; start the agent once to convert it`)
    const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength)
    if (buf.length < HEADER_BYTES + IV_BYTES + TAG_BYTES || buf[0] !== FIELD_FORMAT_V1) {
      throw new FieldCipherError('BEDSIDE_ERR_FIELD_FORMAT', purpose, `${purpose}: not a sealed field of format ${FIELD_FORMAT_V1} (${buf.length} bytes, first byte ${buf[0] ?? 'none'}); the store is damaged or from another program`)
    }
    const keyId = keyIdOf(buf)
    const k = this.keys.byId(keyId)
    if (!k) throw new FieldCipherError('BEDSIDE_ERR_DATA_KEY_MISSING', purpose, `${purpose}: sealed under data key ${keyId}, which this gateway no longer holds; restore data-key.json from the backup taken with the database`)
    const d = createDecipheriv('aes-256-gcm', k.key, buf.subarray(HEADER_BYTES, HEADER_BYTES + IV_BYTES), { authTagLength: TAG_BYTES })
    d.setAAD(aad(buf.subarray(0, HEADER_BYTES), purpose))
    d.setAuthTag(buf.subarray(buf.length - TAG_BYTES))
    try {
      return Buffer.concat([d.update(buf.subarray(HEADER_BYTES + IV_BYTES, buf.length - TAG_BYTES)), d.final()]).toString('utf8')
    } catch (err) {
      throw new FieldCipherError('BEDSIDE_ERR_FIELD_AUTH', purpose, `${purpose}: authentication failed under data key ${keyId}: the stored bytes were altered or moved from another row; the value is not shown`, { cause: err })
    }
  }

  sealNullable(plain: string | null, purpose: string): Buffer | null {
    return plain === null ? null : this.seal(plain, purpose)
  }

  openNullable(sealed: Uint8Array | null, purpose: string): string | null {
    return sealed === null ? null : this.open(sealed, purpose)
  }
}

/** The key id a sealed field names (rotation uses it to find rows still under an old key). */
export function keyIdOf(sealed: Uint8Array): number {
  return Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength).readUInt32BE(1)
}

function aad(header: Buffer, purpose: string): Buffer {
  return Buffer.concat([header, Buffer.from(`bedside-hub:${purpose}`, 'utf8')])
}
