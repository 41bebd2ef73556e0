/**
 * Pseudonymization: what leaves the gateway names a patient or a device only by a keyed HMAC.
 *   pseudonym = base64url(HMAC-SHA256(epochKey, site ␟ kind ␟ identifier))[0..22)   (132 bits)
 * The key file (`keys.json` in the data dir, mode 0600) holds every epoch key, so the gateway can
 * re-link a pseudonym to its admission within retention. This is pseudonymization, not
 * anonymization: the cloud tier still holds protected health information.
 *
 * Key policy (issue 24, `pseudonyms.policy` in the config, docs/analytics.md says what each joins):
 * - `site`: the epoch keys are the hospital's site bundle (site-keys.ts), imported with
 *   `bedside-hub keys import` or placed by configuration management (`pseudonyms.key_file`). Every
 *   gateway of the hospital derives the same pseudonym for the same patient, and all switch epochs
 *   at the bundle's start times. The default when the gateway holds site keys.
 * - `gateway`: a random key per gateway, rotated by its own `housekeeping.key_rotation_cron`: a
 *   patient gets another pseudonym on every ward and after every rotation. The default without
 *   site keys (with a warning at start and in `bedside-hub status`), or chosen for a stricter policy.
 * Keys of the other policy (a gateway's keys from before it joined the site) stay for re-linking,
 * and for the records it accepted before the switch (`site_since_ms`), which keep their subjects.
 *
 * Epochs: a record is pseudonymized with the key of the epoch in force when it was ACCEPTED
 * (`epochAt(hub_time_ms)`; an alarm: when its episode started, subject-time.ts), not when it is
 * synced. So rotation changes pseudonyms from the next epoch on, a backlog synced after a
 * rotation keeps its old pseudonyms, and a batch re-sent after a crash carries exactly the same
 * subject (the cloud rows, keyed by subject, stay exact).
 */
import { createHmac, randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { assertPrivateFile } from '../secrets/permissions.js'
import { writeFileAtomic0600 } from '../secrets/atomic-file.js'
import { KeyBundleError, deriveUntil, fromDoc, mergeSiteKeys, nextEpoch, toDoc, type SiteKeys, type SiteKeysDoc } from './site-keys.js'

export interface EpochKey {
  readonly id: string
  readonly createdMs: number
  readonly key: Buffer
}

export type PseudonymPolicy = 'site' | 'gateway'

/** What a pseudonym stands for; part of the HMAC input, so the same string never collides across kinds. Encounter: encounter.ts. */
export type PseudonymKind = 'patient' | 'device' | 'encounter'

export interface PseudonymOptions {
  /** The configured policy; absent: `site` when the gateway holds site keys, else `gateway`. */
  readonly policy?: PseudonymPolicy | undefined
  /** A site bundle placed by configuration management (clear JSON, private), merged at open. */
  readonly keyFile?: string | undefined
  /** A site bundle to merge (`bedside-hub keys import`), like keyFile's. */
  readonly bundle?: SiteKeys | undefined
  /**
   * hub.id: names this gateway's own epochs (`<hub>-e<N>-<ms>`), so two wards' keys are not both
   * "e1-…" in the cloud (issue 24). Without it (older key files, tests): `e<N>-<ms>`.
   */
  readonly hubId?: string | undefined
}

interface KeyFile {
  /** The gateway's own epochs (policy gateway), oldest first. */
  epochs: { id: string; created_ms: number; key: string }[]
  /** The site bundle held, derived epochs included. */
  site_keys?: SiteKeysDoc
  /** When this gateway, holding gateway keys, took the site keys: its gateway keys ended then. */
  site_since_ms?: number
}

export const KEYS_FILE = 'keys.json'

function readJson(file: string, what: string): unknown {
  assertPrivateFile(file, what) // issue 18: refused with the chmod that fixes it
  try {
    return JSON.parse(readFileSync(file, 'utf8'))
  } catch (err) {
    throw new Error(`BEDSIDE_ERR_KEYS: ${file} is unreadable (${(err as Error).message}); restore it from backup: without it, pseudonyms cannot be re-linked`)
  }
}

export class Pseudonymizer {
  private readonly caches = new Map<string, Map<string, string>>()
  /** The epochs of the policy in force, oldest first (what epochAt searches). */
  private active: EpochKey[] = []
  /** Start of the next derived site epoch (Infinity: none), so epochAt's hot path is one compare. */
  private nextStartMs = Number.POSITIVE_INFINITY
  /** Derived epochs held in memory that keys.json does not have yet (a failed write). */
  private unsaved = false

  private constructor(
    private readonly file: string,
    private readonly site: string,
    private gatewayEpochs: EpochKey[],
    private siteKeys: SiteKeys | null,
    private siteSinceMs: number | undefined,
    /** The policy in force, and whether the config chose it (else it is the default). */
    readonly policy: PseudonymPolicy,
    readonly policyConfigured: boolean,
  ) {
    this.refreshActive()
  }

  /**
   * Loads `keys.json` from `dataDir` (creating it, mode 0600, when absent), merges the site bundle
   * of `opts.keyFile`, and settles the policy. Throws KeyBundleError (BEDSIDE_ERR_KEYS_POLICY)
   * when the policy is `site` and no site keys are held, BEDSIDE_ERR_KEYS_SITE for another site's.
   */
  static open(dataDir: string, site: string, nowMs: number, opts: PseudonymOptions = {}): Pseudonymizer {
    const file = join(dataDir, KEYS_FILE)
    let doc: KeyFile = { epochs: [] }
    const existed = existsSync(file)
    if (existed) {
      doc = readJson(file, 'pseudonym key file') as KeyFile
      if (!Array.isArray(doc.epochs) || (doc.epochs.length === 0 && !doc.site_keys)) throw new Error(`BEDSIDE_ERR_KEYS: ${file} is unreadable (no epochs); restore it from backup: without it, pseudonyms cannot be re-linked`)
    }
    const gatewayEpochs = doc.epochs.map((e) => ({ id: e.id, createdMs: e.created_ms, key: Buffer.from(e.key, 'base64') }))
    let siteKeys = doc.site_keys ? fromDoc(doc.site_keys, file) : null
    if (siteKeys && siteKeys.site !== site) {
      throw new KeyBundleError('BEDSIDE_ERR_KEYS_SITE', `${file} holds the keys of site "${siteKeys.site}", but hub.site is "${site}": pseudonyms would not join; restore hub.site or this gateway's keys`)
    }
    let changed = !existed
    const imported: string[] = []
    const incoming: [SiteKeys, string][] = []
    if (opts.keyFile !== undefined) {
      if (!existsSync(opts.keyFile)) throw new KeyBundleError('BEDSIDE_ERR_KEYS_POLICY', `pseudonyms.key_file ${opts.keyFile} does not exist: place the site key bundle there (configuration management) or remove the setting`)
      incoming.push([fromDoc(readJson(opts.keyFile, 'site key file'), opts.keyFile), opts.keyFile])
    }
    if (opts.bundle) incoming.push([opts.bundle, 'the bundle'])
    for (const [placed, where] of incoming) {
      if (placed.site !== site) throw new KeyBundleError('BEDSIDE_ERR_KEYS_SITE', `${where} is the bundle of site "${placed.site}", but hub.site is "${site}": refused`)
      const before = siteKeys
      const m = mergeSiteKeys(siteKeys, placed, nowMs)
      siteKeys = m.merged
      imported.push(...m.added)
      changed ||= before === null || m.added.length > 0 || siteKeys.everyDays !== before.everyDays || siteKeys.epochs.length !== before.epochs.length
    }
    const policy = opts.policy ?? (siteKeys ? 'site' : 'gateway')
    if (policy === 'site' && !siteKeys) {
      throw new KeyBundleError('BEDSIDE_ERR_KEYS_POLICY', `pseudonyms.policy is site, but this gateway holds no site keys: run \`bedside-hub keys import BUNDLE\` (the bundle hospital IT exported) or set pseudonyms.key_file`)
    }
    let siteSinceMs = doc.site_since_ms
    // The switch is when the AGENT starts under the site policy (not when `keys import` ran beside
    // it): what it accepted before keeps its gateway epochs, so a batch re-sent keeps its subjects.
    if (policy === 'site' && siteSinceMs === undefined && gatewayEpochs.length > 0 && opts.bundle === undefined) {
      siteSinceMs = nowMs
      changed = true
    }
    const p = new Pseudonymizer(file, site, gatewayEpochs, siteKeys, siteSinceMs, policy, opts.policy !== undefined)
    p.imported = imported
    p.hubId = opts.hubId
    if (policy === 'gateway' && gatewayEpochs.length === 0) p.rotate(nowMs)
    else if (changed) p.save()
    return p
  }

  /** Site epoch ids that open() merged from the key file or bundle (to audit), oldest first. */
  imported: readonly string[] = []
  private hubId: string | undefined

  /** The site keys held (derived epochs included), or null. */
  get siteKeysHeld(): SiteKeys | null {
    return this.siteKeys
  }

  /** The epoch in force now. */
  get currentEpoch(): EpochKey {
    return this.policy === 'site' ? this.epochAt(Date.now()) : this.active[this.active.length - 1]!
  }

  /**
   * Policy gateway: starts a new random epoch key; older keys stay for re-linking. Written
   * atomically (tmp + rename). Under policy site the epochs are the bundle's: refused.
   */
  rotate(nowMs: number): EpochKey {
    if (this.policy === 'site') throw new Error('BEDSIDE_ERR_KEYS_POLICY: under policy site the epochs come from the site bundle, not from a gateway rotation')
    // Epoch start times must increase even if the wall clock stepped back: epochAt() searches them.
    const last = this.gatewayEpochs[this.gatewayEpochs.length - 1]
    const createdMs = last ? Math.max(nowMs, last.createdMs + 1) : nowMs
    const serial = last ? Number(/(?:^|-)e(\d+)-\d+$/.exec(last.id)?.[1] ?? this.gatewayEpochs.length) + 1 : 1
    const e: EpochKey = { id: `${this.hubId ? `${this.hubId}-` : ''}e${serial}-${createdMs}`, createdMs, key: randomBytes(32) }
    this.gatewayEpochs = [...this.gatewayEpochs, e]
    this.refreshActive()
    this.save()
    return e
  }

  /**
   * Policy site: records the derived epochs that started by `nowMs` (for relink), and writes any
   * that epochAt() could not write (throws then: housekeeping logs it). Returns the ids derived.
   */
  advance(nowMs: number): string[] {
    const added = this.derive(nowMs)
    if (added.length > 0 || this.unsaved) {
      this.unsaved = true
      this.save()
      this.unsaved = false
    }
    return added
  }

  /** Appends the derived epochs started by `atMs`, in memory; returns their ids. */
  private derive(atMs: number): string[] {
    if (this.policy !== 'site' || !this.siteKeys) return []
    const before = this.siteKeys.epochs.length
    this.siteKeys = deriveUntil(this.siteKeys, atMs)
    if (this.siteKeys.epochs.length === before) return []
    this.refreshActive()
    return this.siteKeys.epochs.slice(before).map((e) => e.id)
  }

  /**
   * Merges a site bundle (`bedside-hub keys import`): old keys stay for relink; another site's
   * bundle, or one that would change an epoch held, is refused (site-keys.ts). Saved at once.
   */
  importSite(incoming: SiteKeys, nowMs: number): { added: string[]; everyDays: number | null } {
    if (incoming.site !== this.site) throw new KeyBundleError('BEDSIDE_ERR_KEYS_SITE', `the bundle is for site "${incoming.site}", this gateway's is "${this.site}" (hub.site): refused`)
    const { merged, added } = mergeSiteKeys(this.siteKeys, incoming, nowMs)
    this.siteKeys = merged
    this.refreshActive()
    this.save()
    return { added, everyDays: merged.everyDays }
  }

  /**
   * Forgets keys whose epoch ended before `beforeMs` (retention, and no unsynced record of theirs left):
   * their pseudonyms can no longer be re-linked, which is the point of retention. Returns their ids.
   */
  prune(beforeMs: number): string[] {
    const dropped: string[] = []
    const keep = (es: readonly { id: string }[], startOf: (i: number) => number): number => {
      let i = 0
      while (es.length - i > 1 && startOf(i + 1) < beforeMs) dropped.push(es[i++]!.id)
      return i
    }
    if (this.siteKeys) {
      const es = this.siteKeys.epochs
      const from = keep(es, (i) => es[i]!.startMs)
      if (from > 0) this.siteKeys = { ...this.siteKeys, epochs: es.slice(from) }
    }
    const gw = this.gatewayEpochs
    if (this.policy === 'site' && this.siteSinceMs !== undefined && this.siteSinceMs < beforeMs) {
      dropped.push(...gw.map((e) => e.id)) // the gateway keys ended when the site keys came
      this.gatewayEpochs = []
    } else {
      this.gatewayEpochs = gw.slice(keep(gw, (i) => gw[i]!.createdMs))
    }
    for (const id of dropped) this.caches.delete(id)
    if (dropped.length > 0) {
      this.refreshActive()
      this.save()
    }
    return dropped
  }

  /** Every key kept, of either policy: what re-linking tries. */
  get all(): readonly EpochKey[] {
    return [...this.gatewayEpochs, ...this.siteEpochKeys()]
  }

  /** The epoch in force at hub time `atMs` (records older than every key use the oldest key kept). */
  epochAt(atMs: number): EpochKey {
    if (atMs >= this.nextStartMs) {
      // The sync path must not fail on a key file write: the derived epoch is kept in memory (and
      // derives again identically from the kept key); housekeeping's minute check writes it, or logs why not.
      this.derive(atMs)
      this.unsaved = true
      try {
        this.save()
        this.unsaved = false
      } catch {
        // left to advance(), which reports it
      }
    }
    // Accepted before this gateway switched to the site keys: the gateway epoch in force then.
    const es = this.siteSinceMs !== undefined && atMs < this.siteSinceMs && this.policy === 'site' && this.gatewayEpochs.length > 0 ? this.gatewayEpochs : this.active
    for (let i = es.length - 1; i > 0; i--) if (es[i]!.createdMs <= atMs) return es[i]!
    return es[0]!
  }

  /** Pseudonym of `identifier` under `epoch`'s key. Cached per epoch (bounded). */
  pseudonymIn(epoch: EpochKey, kind: PseudonymKind, identifier: string): string {
    let cache = this.caches.get(epoch.id)
    if (!cache) this.caches.set(epoch.id, (cache = new Map()))
    const cacheKey = `${kind[0]}\u001f${identifier}`
    let p = cache.get(cacheKey)
    if (p === undefined) {
      p = pseudonymWith(epoch.key, this.site, kind, identifier)
      if (cache.size > 100_000) cache.clear() // bound memory; recomputing is cheap
      cache.set(cacheKey, p)
    }
    return p
  }

  /** Pseudonym of `identifier` (an MRN, a device serial or id) under the epoch in force at `atMs` (now). */
  pseudonym(kind: 'patient' | 'device', identifier: string, atMs = Date.now()): string {
    return this.pseudonymIn(this.epochAt(atMs), kind, identifier)
  }

  /** Every epoch's pseudonym of an identifier: used by re-linking on the gateway. */
  allPseudonyms(kind: 'patient' | 'device', identifier: string): { epoch: string; pseudonym: string }[] {
    return this.all.map((e) => ({ epoch: e.id, pseudonym: pseudonymWith(e.key, this.site, kind, identifier) }))
  }

  private siteEpochKeys(): EpochKey[] {
    return (this.siteKeys?.epochs ?? []).map((e) => ({ id: e.id, createdMs: e.startMs, key: e.key }))
  }

  private refreshActive(): void {
    if (this.policy === 'site' && this.siteKeys) {
      this.active = this.siteEpochKeys()
      const next = nextEpoch(this.siteKeys, this.siteKeys.epochs[this.siteKeys.epochs.length - 1]!)
      this.nextStartMs = next ? next.startMs : Number.POSITIVE_INFINITY
    } else {
      this.active = this.gatewayEpochs
      this.nextStartMs = Number.POSITIVE_INFINITY
    }
  }

  /**
   * tmp + fsync + rename + fsync(dir): a power cut leaves the old or the new key file, never a torn
   * one. Site keys another process put in the file meanwhile (`keys import` beside the running
   * agent) are merged first, so this write cannot undo an import.
   */
  private save(): void {
    if (existsSync(this.file)) {
      try {
        const disk = JSON.parse(readFileSync(this.file, 'utf8')) as KeyFile
        if (disk.site_keys) {
          // Only epochs newer than those held: an epoch this process pruned must not come back.
          const theirs = fromDoc(disk.site_keys, this.file)
          const lastN = this.siteKeys ? this.siteKeys.epochs[this.siteKeys.epochs.length - 1]!.n : 0
          const newer = theirs.epochs.filter((e) => e.n > lastN)
          if (newer.length > 0) {
            this.siteKeys = mergeSiteKeys(this.siteKeys, { ...theirs, epochs: newer }, 0).merged
            this.refreshActive()
          }
          this.siteSinceMs ??= disk.site_since_ms
        }
      } catch (err) {
        if (err instanceof KeyBundleError) throw err
        // an unreadable file is replaced by what this process holds
      }
    }
    const doc: KeyFile = { epochs: this.gatewayEpochs.map((k) => ({ id: k.id, created_ms: k.createdMs, key: k.key.toString('base64') })) }
    if (this.siteKeys) doc.site_keys = toDoc(this.siteKeys)
    if (this.siteSinceMs !== undefined) doc.site_since_ms = this.siteSinceMs
    writeFileAtomic0600(this.file, JSON.stringify(doc))
  }
}

export function pseudonymWith(key: Buffer, site: string, kind: string, identifier: string): string {
  return createHmac('sha256', key).update(`${site}\u001f${kind}\u001f${identifier}`).digest('base64url').slice(0, 22)
}

/** The warning of a gateway whose pseudonyms will not join across wards without anyone having chosen it, or null. */
export function pseudonymPolicyWarning(p: { readonly policy: PseudonymPolicy; readonly policyConfigured: boolean }): string | null {
  if (p.policy !== 'gateway' || p.policyConfigured) return null
  return 'pseudonym keys are this gateway\'s own (no site key bundle imported): a patient gets another pseudonym on every ward and after every key rotation, so analytics cannot join a stay across wards. Import the hospital\'s bundle (bedside-hub keys import), or set pseudonyms.policy: gateway to choose this knowingly (docs/hospital-it.md, section 6)'
}
