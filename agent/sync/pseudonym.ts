/**
 * Pseudonymization: what leaves the gateway names a patient or a device only by a keyed HMAC.
 *   pseudonym = base64url(HMAC-SHA256(epochKey, site ␟ kind ␟ identifier))[0..22)   (132 bits)
 * The key file (`keys.json` in the data dir, mode 0600) holds every epoch key, so the gateway can
 * re-link a pseudonym to its admission within retention. This is pseudonymization, not
 * anonymization: the cloud tier still holds protected health information.
 *
 * Epochs: a record is pseudonymized with the key of the epoch in force when it was ACCEPTED
 * (`epochAt(hub_time_ms)`), not when it is synced. So rotation changes pseudonyms from the next
 * epoch on, a backlog synced after a rotation keeps its old pseudonyms, and a batch re-sent after a
 * crash carries exactly the same subject (the cloud rows, keyed by subject, stay exact).
 */
import { createHmac, randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { assertPrivateFile } from '../secrets/permissions.js'
import { writeFileAtomic0600 } from '../secrets/atomic-file.js'

export interface EpochKey {
  readonly id: string
  readonly createdMs: number
  readonly key: Buffer
}

interface KeyFile { epochs: { id: string; created_ms: number; key: string }[] }

export class Pseudonymizer {
  private epochs: EpochKey[]
  private readonly cache = new Map<string, string>()
  private readonly caches = new Map<string, Map<string, string>>()

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
    assertPrivateFile(file, 'pseudonym key file') // issue 18: refused with the chmod that fixes it
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
    // Epoch start times must increase even if the wall clock stepped back: epochAt() searches them.
    const last = this.epochs[this.epochs.length - 1]
    const createdMs = last ? Math.max(nowMs, last.createdMs + 1) : nowMs
    const serial = last ? Number(/^e(\d+)-/.exec(last.id)?.[1] ?? this.epochs.length) + 1 : 1
    const e: EpochKey = { id: `e${serial}-${createdMs}`, createdMs, key: randomBytes(32) }
    this.epochs = [...this.epochs, e]
    this.save()
    this.cache.clear()
    return e
  }

  /**
   * Forgets keys whose epoch ended before `beforeMs` (retention, and no unsynced record of theirs left):
   * their pseudonyms can no longer be re-linked, which is the point of retention. Returns their ids.
   */
  prune(beforeMs: number): string[] {
    const dropped: string[] = []
    while (this.epochs.length > 1 && this.epochs[1]!.createdMs < beforeMs) {
      dropped.push(this.epochs[0]!.id)
      this.caches.delete(this.epochs[0]!.id)
      this.epochs = this.epochs.slice(1)
    }
    if (dropped.length > 0) this.save()
    return dropped
  }

  get all(): readonly EpochKey[] {
    return this.epochs
  }

  /** The epoch in force at hub time `atMs` (records older than every key use the oldest key kept). */
  epochAt(atMs: number): EpochKey {
    const es = this.epochs
    for (let i = es.length - 1; i > 0; i--) if (es[i]!.createdMs <= atMs) return es[i]!
    return es[0]!
  }

  /** Pseudonym of `identifier` under `epoch`'s key. Cached per epoch (bounded). */
  pseudonymIn(epoch: EpochKey, kind: 'patient' | 'device', identifier: string): string {
    let cache = this.caches.get(epoch.id)
    if (!cache) this.caches.set(epoch.id, (cache = new Map()))
    const cacheKey = kind === 'patient' ? `p\u001f${identifier}` : `d\u001f${identifier}`
    let p = cache.get(cacheKey)
    if (p === undefined) {
      p = pseudonymWith(epoch.key, this.site, kind, identifier)
      if (cache.size > 100_000) cache.clear() // bound memory; recomputing is cheap
      cache.set(cacheKey, p)
    }
    return p
  }

  /** tmp + fsync + rename + fsync(dir): a power cut leaves the old or the new key file, never a torn one. */
  private save(): void {
    const doc: KeyFile = { epochs: this.epochs.map((k) => ({ id: k.id, created_ms: k.createdMs, key: k.key.toString('base64') })) }
    writeFileAtomic0600(this.file, JSON.stringify(doc))
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
