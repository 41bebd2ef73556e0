/**
 * The exported site key bundle (issue 24, `bedside-hub keys export|import`): the site's epoch keys
 * (site-keys.ts) sealed under a passphrase, so hospital IT can carry them from gateway to gateway.
 *   key  = scrypt(passphrase, salt, N = 2^17, r = 8, p = 1) → 32 bytes   (RFC 7914; OWASP's minimum
 *          for scrypt: about 128 MiB and a few hundred ms per try, on purpose)
 *   data = AES-256-GCM(key, random 96-bit IV, AAD = format ␟ site) of the bundle's JSON (NIST SP 800-38D)
 * The site is in clear, bound by the AAD, so another site's bundle is refused before any
 * passphrase is tried and cannot be relabelled. A wrong passphrase and an altered file both fail
 * the GCM tag: one error, which says both.
 */
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto'
import { KeyBundleError, fromDoc, toDoc, type SiteKeys } from '../sync/site-keys.js'

export const WRAPPED_FORMAT = 'bedside-hub-site-keys-wrapped/1'
/** The passphrase's environment variable (for automation: a vault agent, an Ansible task). */
export const PASSPHRASE_ENV = 'BEDSIDE_HUB_KEYS_PASSPHRASE'

const SCRYPT = { N: 1 << 17, r: 8, p: 1 } as const
/** Bounds on a bundle's own parameters: a crafted file must not make import take gigabytes. */
const MAX = { N: 1 << 20, r: 16, p: 4 } as const

interface WrappedDoc {
  format: typeof WRAPPED_FORMAT
  site: string
  kdf: { name: 'scrypt'; n: number; r: number; p: number; salt: string }
  cipher: 'aes-256-gcm'
  iv: string
  /** ciphertext ‖ 16-byte tag, base64. */
  data: string
}

/**
 * Refuses an empty or weak passphrase: at least 16 characters, at least 8 of them different
 * (a passphrase of several words, or `openssl rand -base64 24`). What an attacker with the file
 * must guess, at a few hundred ms per try.
 */
export function checkPassphrase(passphrase: string): void {
  if (passphrase.length === 0) throw new KeyBundleError('BEDSIDE_ERR_KEYS_PASSPHRASE', 'the passphrase is empty')
  if ([...passphrase].length < 16 || new Set(passphrase).size < 8) {
    throw new KeyBundleError('BEDSIDE_ERR_KEYS_PASSPHRASE', 'the passphrase is too weak: use at least 16 characters with at least 8 different ones (e.g. `openssl rand -base64 24`, kept in the hospital\'s password safe)')
  }
}

function derive(passphrase: string, salt: Buffer, k: { n: number; r: number; p: number }): Buffer {
  return scryptSync(passphrase.normalize('NFC'), salt, 32, { N: k.n, r: k.r, p: k.p, maxmem: 256 * k.n * k.r + 1024 * 1024 })
}

const aad = (site: string): Buffer => Buffer.from(`${WRAPPED_FORMAT}\u001f${site}`)

/** The bundle sealed under `passphrase` (checked first), as the JSON text of the file. */
export function wrapBundle(keys: SiteKeys, passphrase: string): string {
  checkPassphrase(passphrase)
  const salt = randomBytes(16)
  const iv = randomBytes(12)
  const kdf = { name: 'scrypt' as const, n: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p, salt: salt.toString('base64') }
  const c = createCipheriv('aes-256-gcm', derive(passphrase, salt, kdf), iv)
  c.setAAD(aad(keys.site))
  const data = Buffer.concat([c.update(JSON.stringify(toDoc(keys))), c.final(), c.getAuthTag()])
  const doc: WrappedDoc = { format: WRAPPED_FORMAT, site: keys.site, kdf, cipher: 'aes-256-gcm', iv: iv.toString('base64'), data: data.toString('base64') }
  return JSON.stringify(doc, null, 1) + '\n'
}

/** The site a wrapped bundle says it is for, without the passphrase (to refuse another site's first). */
export function bundleSite(text: string, where: string): string {
  return parseWrapped(text, where).site
}

/** Opens a wrapped bundle; KeyBundleError BEDSIDE_ERR_KEYS_PASSPHRASE for a wrong passphrase or an altered file. */
export function unwrapBundle(text: string, passphrase: string, where: string): SiteKeys {
  const doc = parseWrapped(text, where)
  if (passphrase.length === 0) throw new KeyBundleError('BEDSIDE_ERR_KEYS_PASSPHRASE', 'the passphrase is empty')
  const data = Buffer.from(doc.data, 'base64')
  const d = createDecipheriv('aes-256-gcm', derive(passphrase, Buffer.from(doc.kdf.salt, 'base64'), doc.kdf), Buffer.from(doc.iv, 'base64'))
  d.setAAD(aad(doc.site))
  d.setAuthTag(data.subarray(data.length - 16))
  let clear: Buffer
  try {
    clear = Buffer.concat([d.update(data.subarray(0, data.length - 16)), d.final()])
  } catch (err) {
    throw new KeyBundleError('BEDSIDE_ERR_KEYS_PASSPHRASE', `${where} does not open with this passphrase (a wrong passphrase, or the file was altered); nothing was imported`, { cause: err })
  }
  const keys = fromDoc(JSON.parse(clear.toString('utf8')), where)
  if (keys.site !== doc.site) throw new KeyBundleError('BEDSIDE_ERR_KEYS_BUNDLE', `${where}: the sealed site differs from the label`)
  return keys
}

function parseWrapped(text: string, where: string): WrappedDoc {
  let doc: Partial<WrappedDoc>
  try {
    doc = JSON.parse(text) as Partial<WrappedDoc>
  } catch {
    throw new KeyBundleError('BEDSIDE_ERR_KEYS_BUNDLE', `${where} is not a key bundle (not JSON)`)
  }
  const k = doc.kdf
  if (doc.format !== WRAPPED_FORMAT || typeof doc.site !== 'string' || doc.cipher !== 'aes-256-gcm' || typeof doc.iv !== 'string' || typeof doc.data !== 'string' || k?.name !== 'scrypt' || typeof k.salt !== 'string') {
    throw new KeyBundleError('BEDSIDE_ERR_KEYS_BUNDLE', `${where} is not a bedside-hub key bundle (format "${WRAPPED_FORMAT}")`)
  }
  const pow2 = (n: number): boolean => Number.isInteger(n) && n > 1 && (n & (n - 1)) === 0
  if (!pow2(k.n) || k.n > MAX.N || !Number.isInteger(k.r) || k.r < 1 || k.r > MAX.r || !Number.isInteger(k.p) || k.p < 1 || k.p > MAX.p) {
    throw new KeyBundleError('BEDSIDE_ERR_KEYS_BUNDLE', `${where}: scrypt parameters out of bounds (N ≤ 2^20, r ≤ ${MAX.r}, p ≤ ${MAX.p})`)
  }
  return doc as WrappedDoc
}
