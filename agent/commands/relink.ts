/**
 * `bedside-hub relink PSEUDONYM [--config FILE] [--json]`, on the gateway only: which admission (or
 * device) a pseudonym seen in the cloud stands for, under any epoch key still kept (keys older than
 * retention are forgotten, and with them the link). Reading keys.json and the store needs the
 * agent's user (files mode 0600): that is the authorization. Every lookup is appended to
 * relink-audit.log in the data dir (who, when, what, found or not).
 * Exit 0 when found, 1 when not (or the store/keys cannot be read), 2 on a usage or config error.
 */
import { appendFileSync, existsSync } from 'node:fs'
import { userInfo } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { ConfigError, loadConfigFile, type Config } from '../config.js'
import { openAdmissionRow, type SealedAdmissionRow } from '../store/admissions.js'
import { FieldCipherError, fieldPurpose } from '../store/crypto.js'
import { StoreError, storeCipher } from '../store/db.js'
import { DataKeyError } from '../secrets/data-key.js'
import { SecretFileError } from '../secrets/permissions.js'
import { openReadOnly } from '../store/inspect.js'
import { encounterIdentifier } from '../sync/encounter.js'
import { Pseudonymizer, pseudonymWith } from '../sync/pseudonym.js'
import { PACKAGED_CONFIG } from './status.js'

export interface RelinkHit {
  /** encounter (issue 24): the pseudonym is the stay of `admission` (every admission of the stay matches). */
  kind: 'patient' | 'device' | 'encounter'
  epoch: string
  admission?: {
    id: number; bedId: string; mrn: string; name: string | null; birthDate: string | null; admittedMs: number; dischargedMs: number | null
    /** Issue 21: by hand or from the ADT feed, with the MRN's assigning authority and the visit number the feed gave. */
    source: string; mrnAuthority: string | null; visit: string | null
    /** Issue 24: the stay it belongs to (the admission that opened it) and when that began. */
    stayOf: number; stayStartMs: number
  }
  device?: { id: string; bedId: string; identity: string }
}

type Admitted = NonNullable<RelinkHit['admission']>

/**
 * Every admission, opened. The MRN is sealed at rest (issue 18): each row is opened, then its
 * pseudonyms computed; no index on the MRN is needed for a scan of a few thousand admissions.
 */
function readAdmissions(dataDir: string): Admitted[] {
  const db = openReadOnly(dataDir)
  try {
    const cipher = storeCipher(db)
    return (db.prepare('SELECT * FROM admissions ORDER BY id').all() as SealedAdmissionRow[])
      .map((r) => ({
        id: r.id, bedId: r.bed_id, ...openAdmissionRow(cipher, r), admittedMs: r.admitted_ms, dischargedMs: r.discharged_ms,
        source: r.source, mrnAuthority: r.mrn_authority, visit: cipher.openNullable(r.visit, fieldPurpose('admissions.visit', r.id)),
        stayOf: r.stay_of ?? r.id, stayStartMs: r.stay_start_ms ?? r.admitted_ms,
      }))
  } finally {
    db.close()
  }
}

/** Every kept epoch × every admission and configured device: a gateway holds thousands, not millions. */
export function relink(pseudonym: string, cfg: Readonly<Config>): RelinkHit[] {
  const keysFile = join(cfg.hub.data_dir, 'keys.json')
  if (!existsSync(keysFile)) throw new StoreError('BEDSIDE_ERR_STORE_OPEN', keysFile, `${keysFile}: no pseudonym keys on this gateway`)
  const keys = Pseudonymizer.open(cfg.hub.data_dir, cfg.hub.site, Date.now())
  let rows: Admitted[]
  try {
    rows = readAdmissions(cfg.hub.data_dir)
  } catch (err) {
    // The running agent rotated the data key between our reading data-key.json and the rows: read both again.
    if (!(err instanceof FieldCipherError && err.code === 'BEDSIDE_ERR_DATA_KEY_MISSING')) throw err
    rows = readAdmissions(cfg.hub.data_dir)
  }
  const hits: RelinkHit[] = []
  for (const e of keys.all) {
    for (const a of rows) {
      if (pseudonymWith(e.key, cfg.hub.site, 'patient', a.mrn) === pseudonym) hits.push({ kind: 'patient', epoch: e.id, admission: a })
      if (pseudonymWith(e.key, cfg.hub.site, 'encounter', encounterIdentifier(cfg.hub.id, a)) === pseudonym) hits.push({ kind: 'encounter', epoch: e.id, admission: a })
    }
    for (const bed of cfg.beds) {
      for (const d of bed.devices) {
        const identity = d.serial ?? d.id
        if (pseudonymWith(e.key, cfg.hub.site, 'device', identity) === pseudonym) hits.push({ kind: 'device', epoch: e.id, device: { id: d.id, bedId: bed.id, identity } })
      }
    }
  }
  return hits
}

function describe(h: RelinkHit): string {
  if (h.device) return `device ${h.device.id} (bed ${h.device.bedId}, serial/identity ${h.device.identity}), key epoch ${h.epoch}`
  const a = h.admission!
  const span = `${new Date(a.admittedMs).toISOString()} – ${a.dischargedMs === null ? 'now' : new Date(a.dischargedMs).toISOString()}`
  const origin = a.source === 'adt' ? `from the ADT feed${a.mrnAuthority ? ` (MRN of ${a.mrnAuthority}${a.visit ? `, visit ${a.visit}` : ''})` : a.visit ? ` (visit ${a.visit})` : ''}` : 'admitted by hand'
  const what = h.kind === 'encounter' ? `stay (encounter) of admission ${a.id}` : `admission ${a.id}`
  return `${what}: MRN ${a.mrn}${a.name ? `, ${a.name}` : ''}${a.birthDate ? `, born ${a.birthDate}` : ''}; bed ${a.bedId}, ${span}, ${origin}; key epoch ${h.epoch}`
}

export async function main(argv: string[]): Promise<number> {
  // base64url pseudonyms may start with "-": anything that is not one of our options is the pseudonym.
  const ours = argv.flatMap((a, i) => (a === '--config' || a === '-c' ? [a, argv[i + 1] ?? ''] : a === '--json' || a.startsWith('--config=') ? [a] : []))
  const rest = argv.filter((a, i) => !(a === '--config' || a === '-c' || a === '--json' || a.startsWith('--config=') || argv[i - 1] === '--config' || argv[i - 1] === '-c'))
  const { values } = parseArgs({ args: ours, options: { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } }, strict: true })
  const positionals = rest.filter((a) => a !== '--')
  const file = values.config ?? (existsSync(PACKAGED_CONFIG) ? PACKAGED_CONFIG : null)
  if (positionals.length !== 1 || !file) {
    process.stderr.write('usage: bedside-hub relink PSEUDONYM [--config FILE] [--json]\n')
    return 2
  }
  const pseudonym = positionals[0]!
  let cfg: Readonly<Config>
  try {
    cfg = loadConfigFile(file)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    process.stderr.write(`bedside-hub relink: ${err.message}\n`)
    return 2
  }
  let hits: RelinkHit[]
  try {
    hits = relink(pseudonym, cfg)
  } catch (err) {
    if (!(err instanceof StoreError || err instanceof FieldCipherError || err instanceof DataKeyError || err instanceof SecretFileError)) throw err
    process.stderr.write(`bedside-hub relink: ${err.message}\n`)
    return 1
  }
  const line = { atMs: Date.now(), user: userInfo().username, pseudonym, found: hits.map((h) => (h.admission ? `${h.kind === 'encounter' ? 'encounter' : 'admission'}:${h.admission.id}` : `device:${h.device!.id}`)) }
  appendFileSync(join(cfg.hub.data_dir, 'relink-audit.log'), JSON.stringify(line) + '\n', { mode: 0o600 })
  if (values.json) process.stdout.write(JSON.stringify(hits) + '\n')
  else if (hits.length === 0) process.stdout.write(`${pseudonym}: no admission or device under any kept key (unknown, or older than retention)\n`)
  else for (const h of hits) process.stdout.write(`${pseudonym}: ${describe(h)}\n`)
  return hits.length > 0 ? 0 : 1
}
