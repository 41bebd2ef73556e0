/**
 * `bedside-hub keys status|create|export|import|rekey` (issue 24): the site's pseudonym keys, shared
 * by every gateway of a hospital so a patient keeps one pseudonym across wards (sync/pseudonym.ts,
 * sync/site-keys.ts). Hospital IT creates the site bundle once, imports it on every gateway, and
 * re-keys when its data-sharing policy or a suspected leak says so (docs/hospital-it.md, section 6).
 *
 *   keys status [--config FILE] [--json]                    policy, site, epochs held, the one in force
 *   keys create --out FILE --every-days N|never [--start ISO] [--site S | --config FILE] [--clear]
 *   keys export --out FILE [--config FILE] [--clear]        this gateway's site keys, sealed
 *                                                           (--clear: the JSON pseudonyms.key_file takes,
 *                                                           for a configuration management's own vault)
 *   keys import BUNDLE [--config FILE]                      merge a sealed bundle into keys.json
 *   keys rekey --at ISO --out FILE [--every-days N|never] [--config FILE]
 *                                                           a fresh random epoch from ISO: import and export
 *
 * The passphrase comes from `--passphrase-file FILE` (private, like every secret) or the environment
 * variable BEDSIDE_HUB_KEYS_PASSPHRASE; never from a prompt, so automation can run it. Every action is
 * appended to keys-audit.log in the data dir (who, when, which epoch ids; never key material), which
 * the running agent copies into its audit log (housekeeping/key-commands.ts); the agent audits the
 * epoch switches themselves (`key-rotation`). A running agent
 * takes an imported bundle at its next start (`systemctl restart bedside-hub`); its own writes of
 * keys.json keep what was imported meanwhile.
 * Exit 0 done, 1 refused (bundle, passphrase, site, permissions), 2 usage or config error.
 */
import { appendFileSync, chownSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs'
import { userInfo } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { ConfigError, loadConfigFile, type Config } from '../config.js'
import { PASSPHRASE_ENV, bundleSite, unwrapBundle, wrapBundle } from '../secrets/key-bundle.js'
import { assertPrivateFile, SecretFileError } from '../secrets/permissions.js'
import { writeFileAtomic0600 } from '../secrets/atomic-file.js'
import { KEYS_FILE, Pseudonymizer, pseudonymPolicyWarning } from '../sync/pseudonym.js'
import { DAY_MS, KeyBundleError, deriveUntil, fromDoc, newSiteKeys, rekeySiteKeys, toDoc, type SiteKeys, type SiteKeysDoc } from '../sync/site-keys.js'
import { PACKAGED_CONFIG } from './status.js'
import { KEYS_AUDIT_LOG } from '../housekeeping/key-commands.js'

const USAGE = `usage: bedside-hub keys status [--config FILE] [--json]
       bedside-hub keys create --out FILE --every-days N|never [--start ISO-TIME] [--site SITE | --config FILE] [--clear]
       bedside-hub keys export --out FILE [--config FILE] [--clear]
       bedside-hub keys import BUNDLE [--config FILE]
       bedside-hub keys rekey --at ISO-TIME --out FILE [--every-days N|never] [--config FILE]
passphrase: --passphrase-file FILE (mode 0600), or the environment variable ${PASSPHRASE_ENV}
`

class UsageError extends Error {}

type Values = { config?: string; out?: string; 'every-days'?: string; start?: string; at?: string; site?: string; 'passphrase-file'?: string; json?: boolean; clear?: boolean }

function passphrase(values: Values): string {
  const file = values['passphrase-file']
  if (file !== undefined) {
    assertPrivateFile(file, 'passphrase file')
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '')
  }
  const env = process.env[PASSPHRASE_ENV]
  if (env === undefined) throw new UsageError(`no passphrase: pass --passphrase-file FILE (mode 0600) or set ${PASSPHRASE_ENV}`)
  return env
}

function config(values: Values): Readonly<Config> {
  const file = values.config ?? (existsSync(PACKAGED_CONFIG) ? PACKAGED_CONFIG : null)
  if (!file) throw new UsageError('no config: pass --config FILE')
  return loadConfigFile(file)
}

function time(text: string | undefined, what: string): number {
  const ms = text === undefined ? Number.NaN : Date.parse(text)
  if (!Number.isFinite(ms)) throw new UsageError(`${what} must be a time like 2027-01-04T03:00:00Z`)
  return ms
}

/** The site keys keys.json holds, read without writing anything (status runs as any user). */
function heldSiteKeys(dataDir: string): { site: SiteKeys | null; gatewayEpochs: string[] } | null {
  const file = join(dataDir, KEYS_FILE)
  if (!existsSync(file)) return null
  assertPrivateFile(file, 'pseudonym key file')
  const doc = JSON.parse(readFileSync(file, 'utf8')) as { epochs?: { id: string }[]; site_keys?: SiteKeysDoc }
  return { site: doc.site_keys ? fromDoc(doc.site_keys, file) : null, gatewayEpochs: (doc.epochs ?? []).map((e) => e.id) }
}

/** Written as root (sudo), the agent's files must stay the agent's: give `name` the data dir's owner. */
function keepOwner(dataDir: string, name = KEYS_FILE): void {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return
  const st = statSync(dataDir)
  chownSync(join(dataDir, name), st.uid, st.gid)
}

/** One line for the agent to audit (housekeeping/key-commands.ts), and for whoever reads the data dir. */
function auditLine(dataDir: string, action: string, detail: Record<string, unknown>): void {
  appendFileSync(join(dataDir, KEYS_AUDIT_LOG), JSON.stringify({ atMs: Date.now(), user: userInfo().username, action, ...detail }) + '\n', { mode: 0o600 })
  keepOwner(dataDir, KEYS_AUDIT_LOG)
}

/** Sealed under the passphrase, or (--clear) the JSON `pseudonyms.key_file` takes; 0600 either way. */
function writeBundle(out: string, keys: SiteKeys, values: Values): void {
  writeFileAtomic0600(out, values.clear ? JSON.stringify(toDoc(keys), null, 1) + '\n' : wrapBundle(keys, passphrase(values)))
}

const iso = (ms: number): string => new Date(ms).toISOString()

function status(values: Values): number {
  const cfg = config(values)
  const held = heldSiteKeys(cfg.hub.data_dir)
  const nowMs = Date.now()
  const site = held?.site ? deriveUntil(held.site, nowMs) : null
  const policy = cfg.pseudonyms.policy ?? (site ? 'site' : 'gateway')
  const inForce = site ? [...site.epochs].reverse().find((e) => e.startMs <= nowMs) ?? site.epochs[0]! : null
  const out = {
    site: cfg.hub.site, policy, policyConfigured: cfg.pseudonyms.policy !== undefined, keyFile: cfg.pseudonyms.key_file ?? null,
    everyDays: site ? site.everyDays : null,
    siteEpochs: (site?.epochs ?? []).map((e) => ({ id: e.id, startMs: e.startMs, inForce: e === inForce })),
    gatewayEpochs: held?.gatewayEpochs ?? [],
  }
  if (values.json) {
    process.stdout.write(JSON.stringify(out) + '\n')
    return 0
  }
  const lines = [`site ${out.site}: pseudonym policy ${policy}${out.policyConfigured ? '' : ' (default)'}`]
  if (!held) lines.push('no keys yet: the agent creates them at its first start (or import the site bundle first)')
  if (site) {
    lines.push(`site keys: ${site.epochs.length} epochs held, rotation ${site.everyDays === null ? 'never (until a re-key)' : `every ${site.everyDays} days`}`)
    for (const e of site.epochs) lines.push(`  ${e.id}  from ${iso(e.startMs)}${e === inForce ? '  in force' : e.startMs > nowMs ? '  next' : '  kept for relink'}`)
    if (site.everyDays !== null) lines.push(`  next epoch from ${iso(site.epochs[site.epochs.length - 1]!.startMs + site.everyDays * DAY_MS)} (derived from the bundle, the same on every gateway)`)
  } else if (policy === 'site') {
    lines.push('policy site but no site keys: the agent refuses to start; run bedside-hub keys import BUNDLE')
  }
  if (out.gatewayEpochs.length > 0) lines.push(`gateway keys: ${out.gatewayEpochs.join(', ')}${policy === 'site' ? ' (kept for relink)' : ''}`)
  if (policy === 'gateway' && !out.policyConfigured) lines.push(`WARNING: ${pseudonymPolicyWarning({ policy, policyConfigured: out.policyConfigured })}`)
  process.stdout.write(lines.join('\n') + '\n')
  return 0
}

/** --every-days N|never: the rotation cadence of the hospital's data-sharing policy. */
function cadence(every: string): number | null {
  const everyDays = every === 'never' ? null : Number(every)
  if (everyDays !== null && !(Number.isInteger(everyDays) && everyDays >= 1)) throw new UsageError('--every-days must be a whole number of days ≥ 1, or never')
  return everyDays
}

function create(values: Values): number {
  if (!values.out) throw new UsageError('keys create needs --out FILE')
  const every = values['every-days']
  if (every === undefined) throw new UsageError('keys create needs --every-days N or --every-days never: the rotation cadence of the hospital\'s data-sharing policy')
  const everyDays = cadence(every)
  const site = values.site ?? config(values).hub.site
  const startMs = values.start === undefined ? Date.now() : time(values.start, '--start')
  const keys = newSiteKeys(site, everyDays, startMs)
  writeBundle(values.out, keys, values)
  process.stdout.write(`${values.out}: new key bundle of site ${site}, epoch ${keys.epochs[0]!.id} from ${iso(startMs)}, rotation ${everyDays === null ? 'never' : `every ${everyDays} days`}; import it on every gateway of the site (bedside-hub keys import)\n`)
  return 0
}

function exportKeys(values: Values): number {
  if (!values.out) throw new UsageError('keys export needs --out FILE')
  const cfg = config(values)
  const held = heldSiteKeys(cfg.hub.data_dir)
  if (!held?.site) throw new KeyBundleError('BEDSIDE_ERR_KEYS_POLICY', 'this gateway holds no site keys to export: create the site bundle (bedside-hub keys create) or import it')
  const keys = deriveUntil(held.site, Date.now())
  writeBundle(values.out, keys, values)
  auditLine(cfg.hub.data_dir, 'key-export', { site: keys.site, epochs: keys.epochs.map((e) => e.id), out: values.out, clear: values.clear === true })
  process.stdout.write(`${values.out}: site ${keys.site}, epochs ${keys.epochs.map((e) => e.id).join(', ')}\n`)
  return 0
}

function importKeys(bundle: string, values: Values): number {
  const cfg = config(values)
  assertPrivateFile(bundle, 'key bundle') // a sealed bundle readable by others is handled carelessly: refused
  const text = readFileSync(bundle, 'utf8')
  const labelled = bundleSite(text, bundle)
  if (labelled !== cfg.hub.site) throw new KeyBundleError('BEDSIDE_ERR_KEYS_SITE', `${bundle} is the bundle of site "${labelled}", this gateway's is "${cfg.hub.site}" (hub.site): refused`)
  const keys = unwrapBundle(text, passphrase(values), bundle)
  mkdirSync(cfg.hub.data_dir, { recursive: true, mode: 0o700 }) // provisioning before the agent's first start
  const p = Pseudonymizer.open(cfg.hub.data_dir, cfg.hub.site, Date.now(), { policy: cfg.pseudonyms.policy, bundle: keys, hubId: cfg.hub.id })
  keepOwner(cfg.hub.data_dir)
  auditLine(cfg.hub.data_dir, 'key-import', { site: keys.site, added: p.imported, bundle })
  process.stdout.write(p.imported.length > 0
    ? `imported site ${keys.site}: epochs ${p.imported.join(', ')}; policy ${p.policy}. Restart the agent to use them: systemctl restart bedside-hub\n`
    : `site ${keys.site}: every epoch of the bundle was already held; nothing changed\n`)
  if (p.policy === 'gateway') process.stdout.write('note: pseudonyms.policy is gateway: the site keys are held but not used\n')
  return 0
}

function rekey(values: Values): number {
  if (!values.out) throw new UsageError('keys rekey needs --out FILE')
  const cfg = config(values)
  const held = heldSiteKeys(cfg.hub.data_dir)
  if (!held?.site) throw new KeyBundleError('BEDSIDE_ERR_KEYS_POLICY', 'this gateway holds no site keys to re-key: import the site bundle first')
  const nowMs = Date.now()
  const atMs = time(values.at, '--at')
  if (atMs <= nowMs) throw new UsageError('--at must be in the future: every gateway must import the new epoch before it starts')
  const rekeyed = rekeySiteKeys(deriveUntil(held.site, atMs - 1), atMs)
  // A new cadence (from this epoch on) may come with the re-key: the bundle's, once imported everywhere.
  const keys = values['every-days'] === undefined ? rekeyed : { ...rekeyed, everyDays: cadence(values['every-days']) }
  if (!values.clear) passphrase(values) // before anything is written
  const p = Pseudonymizer.open(cfg.hub.data_dir, cfg.hub.site, nowMs, { policy: cfg.pseudonyms.policy, bundle: keys, hubId: cfg.hub.id })
  keepOwner(cfg.hub.data_dir)
  writeBundle(values.out, keys, values)
  auditLine(cfg.hub.data_dir, 'key-rekey', { site: keys.site, added: p.imported, from: iso(atMs) })
  process.stdout.write(`${values.out}: new epoch ${keys.epochs[keys.epochs.length - 1]!.id} from ${iso(atMs)}; import it on every gateway of the site before then\n`)
  return 0
}

export async function main(argv: string[]): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args: argv, allowPositionals: true, strict: true,
      options: { config: { type: 'string', short: 'c' }, out: { type: 'string' }, 'every-days': { type: 'string' }, start: { type: 'string' }, at: { type: 'string' }, site: { type: 'string' }, 'passphrase-file': { type: 'string' }, json: { type: 'boolean' }, clear: { type: 'boolean' } },
    })
  } catch (err) {
    process.stderr.write(`bedside-hub keys: ${(err as Error).message}\n${USAGE}`)
    return 2
  }
  const [action, ...rest] = parsed.positionals
  const values = parsed.values as Values
  try {
    if (action === 'status' && rest.length === 0) return status(values)
    if (action === 'create' && rest.length === 0) return create(values)
    if (action === 'export' && rest.length === 0) return exportKeys(values)
    if (action === 'import' && rest.length === 1) return importKeys(rest[0]!, values)
    if (action === 'rekey' && rest.length === 0) return rekey(values)
    process.stderr.write(USAGE)
    return 2
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError) {
      process.stderr.write(`bedside-hub keys: ${err.message}\n${err instanceof UsageError ? USAGE : ''}`)
      return 2
    }
    if (err instanceof KeyBundleError || err instanceof SecretFileError) {
      process.stderr.write(`bedside-hub keys: ${err.message}\n`)
      return 1
    }
    throw err
  }
}
