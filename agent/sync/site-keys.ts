/**
 * The site key bundle (issue 24): the pseudonym epoch keys shared by every gateway of a hospital,
 * so that one patient keeps one pseudonym across wards. Pure: parse, check, derive, merge; the
 * files are read and written by sync/pseudonym.ts (keys.json) and secrets/key-bundle.ts (export).
 *
 * Epochs are numbered site-wide (`site-<site>-e<N>`) and start at times the bundle fixes, so every
 * gateway that holds the same bundle switches to the same key at the same instant, whatever its
 * own clock of rotations. When the bundle sets a cadence (`every_days`, the hospital's
 * data-sharing policy), the epoch after the last one listed is derived, not distributed:
 *   key(N+1)   = HMAC-SHA256(key(N), "bedside-hub/epoch-ratchet" ␟ site ␟ (N+1))
 *   start(N+1) = start(N) + every_days days
 * A one-way ratchet: a gateway that forgets epoch N's key (retention) cannot compute it back from
 * N+1's, and every gateway computes the same N+1. Its price: whoever holds key(N) can compute every
 * later key; after a suspected leak, hospital IT re-keys (a fresh random epoch, `keys rekey`).
 * `every_days: null` ("never") keeps one key until hospital IT re-keys.
 */
import { createHmac, randomBytes } from 'node:crypto'

export const DAY_MS = 86_400_000
export const SITE_KEYS_FORMAT = 'bedside-hub-site-keys/1'

export interface SiteEpoch {
  /** Site-wide serial, from 1. */
  readonly n: number
  /** `site-<site>-e<n>`: the `key_epoch` of every Envelope pseudonymized under it. */
  readonly id: string
  /** When the epoch comes into force (ms since the Unix epoch), the same instant on every gateway. */
  readonly startMs: number
  readonly key: Buffer
}

export interface SiteKeys {
  readonly site: string
  /** Days between derived epochs; null: no scheduled rotation (only a re-key starts a new epoch). */
  readonly everyDays: number | null
  /** Ascending by `n` and by `startMs`. */
  readonly epochs: readonly SiteEpoch[]
}

/** The bundle as JSON (keys.json's `site_keys`, a `pseudonyms.key_file`, the inside of an exported bundle). */
export interface SiteKeysDoc {
  format: typeof SITE_KEYS_FORMAT
  site: string
  every_days: number | null
  epochs: { n: number; id: string; start_ms: number; key: string }[]
}

export type KeyBundleErrorCode =
  | 'BEDSIDE_ERR_KEYS_BUNDLE'      // not a site key bundle, or a damaged one
  | 'BEDSIDE_ERR_KEYS_SITE'        // a bundle of another site
  | 'BEDSIDE_ERR_KEYS_CONFLICT'    // would change the key or start of an epoch already held
  | 'BEDSIDE_ERR_KEYS_PASSPHRASE'  // wrong, weak or missing passphrase
  | 'BEDSIDE_ERR_KEYS_POLICY'      // the configured policy cannot be honoured (no site keys)

export class KeyBundleError extends Error {
  constructor(readonly code: KeyBundleErrorCode, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options)
    this.name = 'KeyBundleError'
  }
}

export function siteEpochId(site: string, n: number): string {
  return `site-${site}-e${n}`
}

/** A new site's bundle (`keys create`): epoch 1 with a random key, in force from `startMs`. */
export function newSiteKeys(site: string, everyDays: number | null, startMs: number): SiteKeys {
  return { site, everyDays, epochs: [{ n: 1, id: siteEpochId(site, 1), startMs, key: randomBytes(32) }] }
}

/**
 * A re-key (`keys rekey`): epoch N+1 with a fresh random key from `startMs`, which breaks the
 * ratchet (a leaked key no longer gives the later ones). `startMs` must be after every epoch held.
 */
export function rekeySiteKeys(keys: SiteKeys, startMs: number): SiteKeys {
  const last = keys.epochs[keys.epochs.length - 1]!
  if (startMs <= last.startMs) throw new KeyBundleError('BEDSIDE_ERR_KEYS_CONFLICT', `a new epoch must start after ${last.id} (${new Date(last.startMs).toISOString()})`)
  const n = last.n + 1
  return { ...keys, epochs: [...keys.epochs, { n, id: siteEpochId(keys.site, n), startMs, key: randomBytes(32) }] }
}

/** The epoch after `e` under the bundle's cadence (see the header); null without a cadence. */
export function nextEpoch(keys: SiteKeys, e: SiteEpoch): SiteEpoch | null {
  if (keys.everyDays === null) return null
  const n = e.n + 1
  const key = createHmac('sha256', e.key).update(`bedside-hub/epoch-ratchet\u001f${keys.site}\u001f${n}`).digest()
  return { n, id: siteEpochId(keys.site, n), startMs: e.startMs + keys.everyDays * DAY_MS, key }
}

/** `keys` with every derived epoch that has started by `atMs` appended (the same on every gateway). */
export function deriveUntil(keys: SiteKeys, atMs: number): SiteKeys {
  let epochs = keys.epochs
  let next = nextEpoch(keys, epochs[epochs.length - 1]!)
  if (!next || next.startMs > atMs) return keys
  const added: SiteEpoch[] = []
  while (next && next.startMs <= atMs) {
    added.push(next)
    next = nextEpoch(keys, next)
  }
  epochs = [...epochs, ...added]
  return { ...keys, epochs }
}

export function toDoc(keys: SiteKeys): SiteKeysDoc {
  return { format: SITE_KEYS_FORMAT, site: keys.site, every_days: keys.everyDays, epochs: keys.epochs.map((e) => ({ n: e.n, id: e.id, start_ms: e.startMs, key: e.key.toString('base64') })) }
}

/** Checks a parsed bundle; `where` names it in the errors. */
export function fromDoc(doc: unknown, where: string): SiteKeys {
  const bad = (why: string): never => { throw new KeyBundleError('BEDSIDE_ERR_KEYS_BUNDLE', `${where}: ${why}`) }
  if (!doc || typeof doc !== 'object') bad('not a JSON object')
  const d = doc as Partial<SiteKeysDoc>
  if (d.format !== SITE_KEYS_FORMAT) bad(`format is ${JSON.stringify(d.format)}, expected "${SITE_KEYS_FORMAT}"`)
  if (typeof d.site !== 'string' || d.site === '') bad('site missing')
  if (d.every_days !== null && !(typeof d.every_days === 'number' && Number.isInteger(d.every_days) && d.every_days >= 1)) bad('every_days must be a whole number of days ≥ 1, or null (never)')
  if (!Array.isArray(d.epochs) || d.epochs.length === 0) bad('no epochs')
  const epochs = d.epochs!.map((e, i) => {
    const key = typeof e?.key === 'string' ? Buffer.from(e.key, 'base64') : Buffer.alloc(0)
    if (!Number.isInteger(e?.n) || e.n < 1) bad(`epochs[${i}].n must be a whole number ≥ 1`)
    if (e.id !== siteEpochId(d.site!, e.n)) bad(`epochs[${i}].id must be "${siteEpochId(d.site!, e.n)}"`)
    if (!Number.isSafeInteger(e.start_ms)) bad(`epochs[${i}].start_ms must be ms since the Unix epoch`)
    if (key.length !== 32) bad(`epochs[${i}].key must be 32 bytes, base64`)
    return { n: e.n, id: e.id, startMs: e.start_ms, key }
  })
  for (let i = 1; i < epochs.length; i++) {
    if (epochs[i]!.n <= epochs[i - 1]!.n || epochs[i]!.startMs <= epochs[i - 1]!.startMs) bad(`epochs must ascend by n and start_ms (epochs[${i}])`)
  }
  return { site: d.site!, everyDays: d.every_days ?? null, epochs }
}

/**
 * `incoming` merged into `mine` (null: none yet). Keeps every epoch `mine` holds (old keys stay for
 * relink), adds those it lacks, takes `incoming`'s cadence; refuses another site's bundle and any
 * epoch whose key or start differs from the one held. `atMs`: epochs derived by then count as held
 * (a pseudonym was already issued under them). Returns the merge and the ids added.
 */
export function mergeSiteKeys(mine: SiteKeys | null, incoming: SiteKeys, atMs: number): { merged: SiteKeys; added: string[] } {
  if (mine === null) return { merged: incoming, added: incoming.epochs.map((e) => e.id) }
  if (mine.site !== incoming.site) {
    throw new KeyBundleError('BEDSIDE_ERR_KEYS_SITE', `the bundle is for site "${incoming.site}", this gateway's is "${mine.site}" (hub.site): refused`)
  }
  const held = deriveUntil(mine, atMs)
  const byN = new Map(held.epochs.map((e) => [e.n, e]))
  const added: SiteEpoch[] = []
  for (const e of incoming.epochs) {
    const h = byN.get(e.n)
    if (!h) { added.push(e); continue }
    if (!h.key.equals(e.key) || h.startMs !== e.startMs) {
      throw new KeyBundleError('BEDSIDE_ERR_KEYS_CONFLICT', `the bundle would change epoch ${e.id} (${h.key.equals(e.key) ? 'its start time' : 'its key'}), which this gateway already holds: pseudonyms were issued under it. Refused; export the bundle again from the gateway that holds the site's current keys`)
    }
  }
  const epochs = [...held.epochs, ...added].sort((a, b) => a.n - b.n)
  for (let i = 1; i < epochs.length; i++) {
    if (epochs[i]!.startMs <= epochs[i - 1]!.startMs) {
      throw new KeyBundleError('BEDSIDE_ERR_KEYS_CONFLICT', `epoch ${epochs[i]!.id} would start before epoch ${epochs[i - 1]!.id}: refused`)
    }
  }
  return { merged: { site: mine.site, everyDays: incoming.everyDays, epochs }, added: added.map((e) => e.id) }
}
