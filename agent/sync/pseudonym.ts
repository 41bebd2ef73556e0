/**
 * Pseudonymization: what leaves the gateway names a patient or a device only by a keyed HMAC.
 *   pseudonym = base64url(HMAC-SHA256(epochKey, site ␟ kind ␟ identifier))[0..22)   (132 bits)
 * The key file (`keys.json` in the data dir, mode 0600) holds every epoch key, so the gateway can
 * re-link a pseudonym to its admission within retention. This is pseudonymization, not
 * anonymization: the cloud tier still holds protected health information.
 */
import { createHmac, randomBytes } from 'node:crypto'
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export interface EpochKey {
  readonly id: string
  readonly createdMs: number
  readonly key: Buffer
}

interface KeyFile { epochs: { id: string; created_ms: number; key: string }[] }

export class Pseudonymizer {
  private epochs: EpochKey[]
  private readonly cache = new Map<string, string>()

  private constructor(private readonly file: string, private readonly site: string, epochs: EpochKey[]) {
    this.epochs = epochs
  }

  /** Loads the key file from `dataDir`, creating it (mode 0600) with a first epoch key if absent. */
  static open(dataDir: string, site: string, nowMs: number): Pseudonymizer {
    const file = join(dataDir, 'keys.json')
    if (!existsSync(file)) {
      const p = new Pseudonymizer(file, site, [])
      p.rotate(nowMs)
      return p
    }
    let parsed: KeyFile
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8')) as KeyFile
      if (!Array.isArray(parsed.epochs) || parsed.epochs.length === 0) throw new Error('no epochs')
    } catch (err) {
      throw new Error(`BEDSIDE_ERR_KEYS: ${file} is unreadable (${(err as Error).message}); restore it from backup: without it, pseudonyms cannot be re-linked`)
    }
    const epochs = parsed.epochs.map((e) => ({ id: e.id, createdMs: e.created_ms, key: Buffer.from(e.key, 'base64') }))
    return new Pseudonymizer(file, site, epochs)
  }

  get currentEpoch(): EpochKey {
    return this.epochs[this.epochs.length - 1]!
  }

  /** Starts a new epoch key; older keys stay for re-linking. Written atomically (tmp + rename). */
  rotate(nowMs: number): EpochKey {
    const e: EpochKey = { id: `e${this.epochs.length + 1}-${nowMs}`, createdMs: nowMs, key: randomBytes(32) }
    this.epochs = [...this.epochs, e]
    const doc: KeyFile = { epochs: this.epochs.map((k) => ({ id: k.id, created_ms: k.createdMs, key: k.key.toString('base64') })) }
    const tmp = `${this.file}.tmp`
    writeFileSync(tmp, JSON.stringify(doc), { mode: 0o600 })
    chmodSync(tmp, 0o600)
    renameSync(tmp, this.file)
    this.cache.clear()
    return e
  }

  /** Pseudonym of `identifier` (an MRN, a device serial or id) under the current epoch. Cached. */
  pseudonym(kind: 'patient' | 'device', identifier: string): string {
    const cacheKey = kind === 'patient' ? `p\u001f${identifier}` : `d\u001f${identifier}`
    let p = this.cache.get(cacheKey)
    if (p === undefined) {
      p = pseudonymWith(this.currentEpoch.key, this.site, kind, identifier)
      if (this.cache.size > 100_000) this.cache.clear() // bound memory; recomputing is cheap
      this.cache.set(cacheKey, p)
    }
    return p
  }

  /** Every epoch's pseudonym of an identifier: used by re-linking on the gateway. */
  allPseudonyms(kind: 'patient' | 'device', identifier: string): { epoch: string; pseudonym: string }[] {
    return this.epochs.map((e) => ({ epoch: e.id, pseudonym: pseudonymWith(e.key, this.site, kind, identifier) }))
  }
}

export function pseudonymWith(key: Buffer, site: string, kind: string, identifier: string): string {
  return createHmac('sha256', key).update(`${site}\u001f${kind}\u001f${identifier}`).digest('base64url').slice(0, 22)
}
