/**
 * The data keys that seal the store's identifying fields (store/crypto.ts), kept like the pseudonym
 * keys: `data-key.json` in the data dir, created 0600, written atomically, refused when readable
 * by others (secrets/permissions.ts). The file holds a ring: the last key seals, every kept key
 * opens, so a rotation can re-encrypt row by row and drop the old key only once no row needs it.
 *
 * With a systemd credential (docs/hospital-it.md): when `$CREDENTIALS_DIRECTORY/bedside-hub-data-key`
 * exists (delivered by `LoadCredentialEncrypted=`, sealed to the TPM with `systemd-creds encrypt
 * --with-key=tpm2`), it is a key-encryption key: every data key in data-key.json is itself stored
 * AES-256-GCM-wrapped under it ("wrap": "credential"), so a copy of the disk (database, WAL and
 * key file together) still reveals no identity without the gateway's TPM. A clear file found when
 * the credential is present is wrapped in place at the first open.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { KeyRing } from '../store/crypto.js'
import { assertPrivateFile } from './permissions.js'
import { writeFileAtomic0600 } from './atomic-file.js'

export const DATA_KEY_FILE = 'data-key.json'
export const DATA_KEY_CREDENTIAL = 'bedside-hub-data-key'

export interface DataKey {
  readonly id: number
  readonly createdMs: number
  readonly key: Buffer
}

interface KeyFileDoc { format: 1; wrap: 'none' | 'credential'; keys: { id: number; created_ms: number; key: string }[] }

export class DataKeyError extends Error {
  readonly code = 'BEDSIDE_ERR_DATA_KEY'
  constructor(readonly file: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'DataKeyError'
  }
}

/** The credential's 32 bytes: raw, or written as base64 / hex text (what `head -c32 /dev/urandom | base64` gives). */
function parseKek(file: string, raw: Buffer): Buffer {
  if (raw.length === 32) return raw
  const text = raw.toString('utf8').trim()
  const b = /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64')
  if (b.length !== 32) throw new DataKeyError(file, `${file}: the credential must hold a 256-bit key (32 raw bytes, or 44 base64 / 64 hex characters); it holds ${raw.length} bytes`)
  return b
}

/** Wrapping a data key under the credential: AES-256-GCM, random 96-bit IV (NIST SP 800-38D §8.2.2), key id as AAD. */
function wrap(kek: Buffer, k: DataKey): string {
  const iv = randomBytes(12)
  const c = createCipheriv('aes-256-gcm', kek, iv)
  c.setAAD(Buffer.from(`bedside-hub data key ${k.id}`))
  return Buffer.concat([iv, c.update(k.key), c.final(), c.getAuthTag()]).toString('base64')
}

function unwrap(file: string, kek: Buffer, id: number, text: string): Buffer {
  const b = Buffer.from(text, 'base64')
  const d = createDecipheriv('aes-256-gcm', kek, b.subarray(0, 12))
  d.setAAD(Buffer.from(`bedside-hub data key ${id}`))
  d.setAuthTag(b.subarray(b.length - 16))
  try {
    return Buffer.concat([d.update(b.subarray(12, b.length - 16)), d.final()])
  } catch (err) {
    throw new DataKeyError(file, `${file}: data key ${id} does not open with the credential ${DATA_KEY_CREDENTIAL} (a different credential, or the file was altered)`, { cause: err })
  }
}

export class DataKeys implements KeyRing {
  private constructor(readonly file: string, private keys: DataKey[], private readonly kek: Buffer | null) {}

  /**
   * Loads (creating with a first key when absent) the data keys of `dataDir`. `credentialsDir`
   * defaults to `$CREDENTIALS_DIRECTORY`, where systemd puts the unit's credentials.
   */
  static open(dataDir: string, opts: { credentialsDir?: string | undefined; nowMs?: number } = {}): DataKeys {
    const file = join(dataDir, DATA_KEY_FILE)
    const credDir = 'credentialsDir' in opts ? opts.credentialsDir : process.env.CREDENTIALS_DIRECTORY
    const credFile = credDir ? join(credDir, DATA_KEY_CREDENTIAL) : null
    const kek = credFile && existsSync(credFile) ? parseKek(credFile, readFileSync(credFile)) : null
    if (!existsSync(file)) {
      const ring = new DataKeys(file, [], kek)
      ring.add(opts.nowMs ?? Date.now())
      return ring
    }
    assertPrivateFile(file, 'data key file')
    let doc: KeyFileDoc
    try {
      doc = JSON.parse(readFileSync(file, 'utf8')) as KeyFileDoc
      if (doc.format !== 1 || !Array.isArray(doc.keys) || doc.keys.length === 0) throw new Error('no keys')
    } catch (err) {
      throw new DataKeyError(file, `${file} is unreadable (${(err as Error).message}); restore it from the backup taken with the database: without it, no admission can be read`, { cause: err })
    }
    if (doc.wrap === 'credential' && !kek) {
      throw new DataKeyError(file, `${file} is sealed with the systemd credential ${DATA_KEY_CREDENTIAL}, which this process did not receive ($CREDENTIALS_DIRECTORY${credDir ? ` = ${credDir}` : ' unset'}); run it under the bedside-hub unit, or with systemd-run -p LoadCredentialEncrypted=${DATA_KEY_CREDENTIAL}`)
    }
    const keys = doc.keys.map((k) => ({ id: k.id, createdMs: k.created_ms, key: doc.wrap === 'credential' ? unwrap(file, kek!, k.id, k.key) : Buffer.from(k.key, 'base64') }))
    const ring = new DataKeys(file, keys, kek)
    if (kek && doc.wrap !== 'credential') ring.save() // the credential arrived: wrap the clear keys in place
    return ring
  }

  /** Whether the keys on disk are wrapped under a systemd credential. */
  get sealedByCredential(): boolean {
    return this.kek !== null
  }

  get current(): DataKey {
    return this.keys[this.keys.length - 1]!
  }

  get all(): readonly DataKey[] {
    return this.keys
  }

  byId(id: number): DataKey | undefined {
    for (const k of this.keys) if (k.id === id) return k
    return undefined
  }

  /**
   * A new current key (older keys stay to open what they sealed). Saved before it is used. Its id
   * is random, not a counter: a key file lost and created afresh must not reuse the id of the key
   * that sealed the store, or the rows would fail as "altered" instead of "key missing".
   */
  add(nowMs: number): DataKey {
    let id = 0
    while (id === 0 || this.byId(id)) id = randomBytes(4).readUInt32BE(0)
    const k: DataKey = { id, createdMs: nowMs, key: randomBytes(32) }
    this.keys = [...this.keys, k]
    this.save()
    return k
  }

  /** Forgets every key but the current one and those in `inUse`; returns the ids dropped. */
  retire(inUse: ReadonlySet<number>): number[] {
    const cur = this.current.id
    const dropped = this.keys.filter((k) => k.id !== cur && !inUse.has(k.id)).map((k) => k.id)
    if (dropped.length === 0) return []
    this.keys = this.keys.filter((k) => k.id === cur || inUse.has(k.id))
    this.save()
    return dropped
  }

  /** tmp (0600) + fsync + rename + fsync(dir): a power cut leaves the old or the new ring, never a torn one. */
  private save(): void {
    const kek = this.kek
    const doc: KeyFileDoc = {
      format: 1,
      wrap: kek ? 'credential' : 'none',
      keys: this.keys.map((k) => ({ id: k.id, created_ms: k.createdMs, key: kek ? wrap(kek, k) : k.key.toString('base64') })),
    }
    writeFileAtomic0600(this.file, JSON.stringify(doc))
  }
}
