/**
 * TLS for the agent's listeners (HTTP and WebSocket here; MQTT over TLS reuses it): PEM files from
 * the operator, loaded into a SecureContext with TLS 1.2 or newer and forward-secret AEAD ciphers,
 * and reloaded without a restart when the files change. Certificates from a hospital CA are often
 * valid for a year or less and renewed by a script (or certbot-like tooling) that replaces the files
 * in place; a gateway that must be restarted for that drops every device and dashboard connection.
 *
 * Lifecycle: createTlsOptionsReloader() reads the files once (throws TlsError on a bad set, so a
 * misconfigured agent does not start), then polls their mtime, size and inode every `pollMs`.
 * fs.watch is not used: renames, symlink swaps (Kubernetes-style `..data` links) and editors that
 * write a new file lose inotify watches. On a change the whole set is read again and tried; a set
 * that does not load (a half-written file, a key that does not match the certificate) leaves the
 * running context in place and is logged as an error once per change. close() stops the polling;
 * servers keep their last context.
 */
import { readFileSync, statSync } from 'node:fs'
import type { SecureContext, SecureContextOptions, Server, TlsOptions } from 'node:tls'
import { X509Certificate } from 'node:crypto'
import type { Logger } from 'pino'

export interface TlsPaths {
  /** Server certificate chain, PEM (leaf first, then intermediates). */
  readonly cert: string
  /** Private key of the certificate, PEM. */
  readonly key: string
  /** CA bundle, PEM, to verify client certificates (MQTT devices); absent: no client certificates. */
  readonly ca?: string
  /** Ask clients for a certificate and refuse those without a valid one (needs `ca`). */
  readonly requestCert?: boolean
}

export class TlsError extends Error {
  readonly code = 'BEDSIDE_ERR_TLS'
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'TlsError'
  }
}

/**
 * TLS 1.2 suites: ECDHE only (forward secrecy), AEAD only (GCM, ChaCha20-Poly1305), as in Mozilla's
 * "intermediate" profile (ssl-config.mozilla.org, v5.7). TLS 1.3 suites are all acceptable and are
 * configured by Node separately (`ciphersuites`), so they are left at their defaults.
 */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
].join(':')
export const TLS_MIN_VERSION = 'TLSv1.2' as const
export const TLS_POLL_MS = 5000

export interface TlsReloader {
  /** Options for https/tls.createServer: the current files, TLS ≥ 1.2, the cipher list, and an SNICallback answering with the current context. */
  readonly options: TlsOptions
  /** The context of the newest set of files that loaded. */
  current(): SecureContext
  /** Keeps `server`'s default context current (clients that send no SNI, e.g. by IP address, get the default). */
  attach(server: Server): void
  /** Checks the files now (the poll does the same); true when a new context was loaded. */
  check(): boolean
  /** Stops polling; idempotent. */
  close(): void
}

interface Loaded { readonly options: SecureContextOptions; readonly context: SecureContext; readonly stamp: string }

function stampOf(paths: TlsPaths): string {
  return [paths.cert, paths.key, paths.ca].filter((p): p is string => !!p).map((p) => {
    try {
      const s = statSync(p)
      return `${s.ino}:${s.size}:${s.mtimeMs}`
    } catch {
      return 'missing'
    }
  }).join('|')
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path)
  } catch (err) {
    throw new TlsError(`cannot read the TLS ${what} ${path}: ${(err as Error).message}`, { cause: err })
  }
}

/** Reads and checks one set of files: the certificate must parse and the key must belong to it. */
function load(paths: TlsPaths): Loaded {
  const stamp = stampOf(paths)
  const cert = readPem(paths.cert, 'certificate')
  const key = readPem(paths.key, 'key')
  const ca = paths.ca ? readPem(paths.ca, 'CA bundle') : undefined
  const options: SecureContextOptions = { cert, key, ...(ca ? { ca } : {}), minVersion: TLS_MIN_VERSION, ciphers: TLS12_CIPHERS, honorCipherOrder: true }
  try {
    // createSecureContext fails on unparsable PEM and on a key that does not match the certificate.
    // node:tls is loaded on first use, never by an agent without TLS: with https and http2 it cost the
    // 64-bed ward 2-4 MB of resident memory (OpenSSL's TLS code and Node's modules; BENCHMARKS.md,
    // session 10, and scripts/bundle.mjs for the dependencies that require it).
    return { options, context: process.getBuiltinModule('node:tls').createSecureContext(options), stamp }
  } catch (err) {
    throw new TlsError(`TLS certificate ${paths.cert} with key ${paths.key} does not load: ${(err as Error).message}`, { cause: err })
  }
}

/** Subject and expiry of the leaf certificate, for the log. */
function describeCert(pem: SecureContextOptions['cert']): { subject: string; validTo: string; expired: boolean } | null {
  try {
    const x = new X509Certificate(pem as Buffer)
    return { subject: x.subject.replace(/\n/g, ', '), validTo: x.validTo, expired: Date.parse(x.validTo) < Date.now() }
  } catch {
    return null
  }
}

export function createTlsOptionsReloader(paths: TlsPaths, log: Logger, opts: { pollMs?: number } = {}): TlsReloader {
  if (paths.requestCert && !paths.ca) throw new TlsError('client certificates (requestCert) need a CA bundle (ca) to verify them')
  let loaded = load(paths)
  let failedStamp: string | null = null
  const servers = new Set<Server>()
  logLoaded(log, paths, loaded, 'tls_loaded')

  const check = (): boolean => {
    const stamp = stampOf(paths)
    if (stamp === loaded.stamp || stamp === failedStamp) return false
    let next: Loaded
    try {
      next = load(paths)
    } catch (err) {
      // Keep serving with the old files: a renewal script may be half-way through writing them.
      failedStamp = stamp
      log.error({ event: 'tls_reload_failed', cause: (err as Error).message, cert: paths.cert }, 'new TLS files do not load: still serving the previous certificate')
      return false
    }
    loaded = next
    failedStamp = null
    for (const s of servers) s.setSecureContext(serverOptions(loaded, paths))
    logLoaded(log, paths, loaded, 'tls_reloaded')
    return true
  }
  const timer = setInterval(check, opts.pollMs ?? TLS_POLL_MS)
  timer.unref()

  return {
    options: { ...serverOptions(loaded, paths), SNICallback: (_name, cb) => cb(null, loaded.context) },
    current: () => loaded.context,
    attach: (server) => void servers.add(server),
    check,
    close: () => {
      clearInterval(timer)
      servers.clear()
    },
  }
}

function serverOptions(loaded: Loaded, paths: TlsPaths): TlsOptions {
  return { ...loaded.options, ...(paths.requestCert ? { requestCert: true, rejectUnauthorized: true } : {}) }
}

function logLoaded(log: Logger, paths: TlsPaths, loaded: Loaded, event: string): void {
  const info = describeCert(loaded.options.cert)
  const fields = { event, cert: paths.cert, subject: info?.subject, validTo: info?.validTo }
  if (info?.expired) log.error({ ...fields, cause: 'certificate expired' }, `TLS certificate ${paths.cert} expired on ${info.validTo}: clients will refuse it; renew it (the agent picks the new files up without a restart)`)
  else log.info(fields, `TLS certificate ${paths.cert} loaded (valid to ${info?.validTo ?? '?'})`)
}
