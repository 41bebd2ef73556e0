/**
 * `bedside-hub keys` (issue 24): the site bundle sealed under a passphrase, carried between two
 * gateways of one site (two data dirs, two hub ids), refused when it is another site's, opened with
 * a wrong passphrase, readable by others, or would change an epoch held.
 */
import assert from 'node:assert/strict'
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { main } from '../../agent/commands/keys.js'
import { PASSPHRASE_ENV, unwrapBundle, wrapBundle } from '../../agent/secrets/key-bundle.js'
import { Pseudonymizer } from '../../agent/sync/pseudonym.js'
import { KeyBundleError, newSiteKeys } from '../../agent/sync/site-keys.js'
import { tempDir } from '../support/agent-process.js'

const PASS = 'correct horse battery staple 42'

/** Runs `bedside-hub keys …` in this process; its exit code, stdout and stderr. */
async function keys(args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number; out: string; err: string }> {
  const saved = { out: process.stdout.write, err: process.stderr.write, env: { ...process.env } }
  let out = ''
  let err = ''
  process.stdout.write = ((s: string) => { out += s; return true }) as typeof process.stdout.write
  process.stderr.write = ((s: string) => { err += s; return true }) as typeof process.stderr.write
  Object.assign(process.env, { [PASSPHRASE_ENV]: PASS }, env)
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete process.env[k]
  try {
    return { code: await main(args), out, err }
  } finally {
    process.stdout.write = saved.out
    process.stderr.write = saved.err
    process.env = saved.env
  }
}

/** A gateway's config (hub id, site), mode 0600. */
function gateway(hubId: string, site = 'general'): { config: string; dataDir: string } {
  const dir = tempDir(hubId)
  const dataDir = join(dir, 'data')
  const config = join(dir, 'config.yaml')
  writeFileSync(config, `hub: { id: ${hubId}, site: ${site}, data_dir: ${dataDir} }\n`, { mode: 0o600 })
  return { config, dataDir }
}

test('keys: create, import on two gateways, export and import again: one pseudonym per patient across wards', async () => {
  const a = gateway('ward-a')
  const b = gateway('ward-b')
  const bundle = join(tempDir('it'), 'general.keys')
  const created = await keys(['create', '--config', a.config, '--out', bundle, '--every-days', '28', '--start', '2027-01-04T03:00:00Z'])
  assert.equal(created.code, 0, created.err)
  assert.equal(statSync(bundle).mode & 0o777, 0o600, 'the bundle is written private')
  assert.doesNotMatch(readFileSync(bundle, 'utf8'), /"key"/, 'no key in clear in the bundle')
  const importedA = await keys(['import', bundle, '--config', a.config])
  assert.equal(importedA.code, 0, importedA.err)
  assert.match(importedA.out, /imported site general: epochs site-general-e1/)
  // Gateway A exports what it holds (derived epochs included); gateway B imports that.
  const exported = join(tempDir('it'), 'from-a.keys')
  assert.equal((await keys(['export', '--config', a.config, '--out', exported])).code, 0)
  assert.equal((await keys(['import', exported, '--config', b.config])).code, 0)
  const now = Date.now()
  const pa = Pseudonymizer.open(a.dataDir, 'general', now)
  const pb = Pseudonymizer.open(b.dataDir, 'general', now)
  assert.equal(pa.policy, 'site')
  assert.equal(pa.epochAt(now).id, pb.epochAt(now).id)
  assert.equal(pa.pseudonym('patient', 'MRN-7', now), pb.pseudonym('patient', 'MRN-7', now))
  // Importing the same bundle again changes nothing.
  const again = await keys(['import', bundle, '--config', b.config])
  assert.equal(again.code, 0)
  assert.match(again.out, /already held|imported/)
  const status = await keys(['status', '--config', b.config, '--json'])
  const s = JSON.parse(status.out) as { policy: string; siteEpochs: { id: string; inForce: boolean }[] }
  assert.equal(s.policy, 'site')
  assert.ok(s.siteEpochs.some((e) => e.inForce))
  assert.ok(existsSync(join(b.dataDir, 'keys-audit.log')), 'the import is logged on the gateway')
  assert.match(readFileSync(join(b.dataDir, 'keys-audit.log'), 'utf8'), /"action":"key-import"/)
})

test('keys: a wrong passphrase, a weak one, an open bundle, another site\'s bundle and a conflicting one are refused with clear errors', async () => {
  const a = gateway('ward-a')
  const bundle = join(tempDir('it'), 'general.keys')
  assert.equal((await keys(['create', '--config', a.config, '--out', bundle, '--every-days', 'never'])).code, 0)
  const wrong = await keys(['import', bundle, '--config', a.config], { [PASSPHRASE_ENV]: 'another passphrase entirely 99' })
  assert.equal(wrong.code, 1)
  assert.match(wrong.err, /BEDSIDE_ERR_KEYS_PASSPHRASE: .* does not open with this passphrase \(a wrong passphrase, or the file was altered\); nothing was imported/)
  assert.ok(!existsSync(join(a.dataDir, 'keys.json')), 'nothing written')
  const weak = await keys(['create', '--config', a.config, '--out', join(tempDir('it'), 'weak.keys'), '--every-days', '7'], { [PASSPHRASE_ENV]: 'aaaaaaaaaaaaaaaaaaaa' })
  assert.equal(weak.code, 1)
  assert.match(weak.err, /BEDSIDE_ERR_KEYS_PASSPHRASE: the passphrase is too weak/)
  const none = await keys(['create', '--config', a.config, '--out', join(tempDir('it'), 'x.keys'), '--every-days', '7'], { [PASSPHRASE_ENV]: undefined })
  assert.equal(none.code, 2)
  assert.match(none.err, /no passphrase: pass --passphrase-file FILE/)
  chmodSync(bundle, 0o644)
  const open = await keys(['import', bundle, '--config', a.config])
  assert.equal(open.code, 1)
  assert.match(open.err, /key bundle .* is readable by others \(mode 0644\).*chmod 600/)
  chmodSync(bundle, 0o600)
  const other = gateway('ward-x', 'other-hospital')
  const foreign = await keys(['import', bundle, '--config', other.config])
  assert.equal(foreign.code, 1)
  assert.match(foreign.err, /BEDSIDE_ERR_KEYS_SITE: .* is the bundle of site "general", this gateway's is "other-hospital"/)
  assert.equal((await keys(['import', bundle, '--config', a.config])).code, 0)
  const rival = join(tempDir('it'), 'rival.keys')
  assert.equal((await keys(['create', '--config', a.config, '--out', rival, '--every-days', 'never'])).code, 0)
  const conflict = await keys(['import', rival, '--config', a.config])
  assert.equal(conflict.code, 1)
  assert.match(conflict.err, /BEDSIDE_ERR_KEYS_CONFLICT: the bundle would change epoch site-general-e1 \(its key\)/)
})

test('keys: a passphrase file must be private; the sealed site cannot be relabelled', async () => {
  const a = gateway('ward-a')
  const passFile = join(tempDir('it'), 'pass')
  writeFileSync(passFile, PASS + '\n', { mode: 0o644 })
  const r = await keys(['create', '--config', a.config, '--out', join(tempDir('it'), 'b.keys'), '--every-days', '7', '--passphrase-file', passFile])
  assert.equal(r.code, 1)
  assert.match(r.err, /passphrase file .* is readable by others/)
  chmodSync(passFile, 0o600)
  assert.equal((await keys(['create', '--config', a.config, '--out', join(tempDir('it'), 'b.keys'), '--every-days', '7', '--passphrase-file', passFile], { [PASSPHRASE_ENV]: undefined })).code, 0)
  const text = wrapBundle(newSiteKeys('general', 7, 0), PASS)
  const relabelled = text.replace('"site": "general"', '"site": "other"')
  assert.notEqual(relabelled, text)
  assert.throws(() => unwrapBundle(relabelled, PASS, 'b'), (e: unknown) => e instanceof KeyBundleError && e.code === 'BEDSIDE_ERR_KEYS_PASSPHRASE')
  assert.equal(unwrapBundle(text, PASS, 'b').epochs[0]!.id, 'site-general-e1')
})

test('keys: create --clear writes the JSON pseudonyms.key_file takes, private, without a passphrase', async () => {
  const a = gateway('ward-a')
  const file = join(tempDir('cm'), 'site-keys.json')
  const r = await keys(['create', '--config', a.config, '--out', file, '--every-days', '28', '--clear'], { [PASSPHRASE_ENV]: undefined })
  assert.equal(r.code, 0, r.err)
  assert.equal(statSync(file).mode & 0o777, 0o600)
  mkdirSync(a.dataDir, { mode: 0o700 })
  const p = Pseudonymizer.open(a.dataDir, 'general', Date.now(), { policy: 'site', keyFile: file })
  assert.equal(p.policy, 'site')
  assert.equal(p.imported[0], 'site-general-e1', 'merged at open, audited by the agent as key-import')
})

test('keys: rekey on one gateway, import on the other: both switch to the fresh key at its start, old keys kept', async () => {
  const a = gateway('ward-a')
  const b = gateway('ward-b')
  const bundle = join(tempDir('it'), 'general.keys')
  assert.equal((await keys(['create', '--config', a.config, '--out', bundle, '--every-days', 'never', '--start', '2026-01-01T00:00:00Z'])).code, 0)
  for (const g of [a, b]) assert.equal((await keys(['import', bundle, '--config', g.config])).code, 0)
  const at = Date.now() + 30 * 86_400_000
  const rekey = join(tempDir('it'), 'rekey.keys')
  const r = await keys(['rekey', '--config', a.config, '--at', new Date(at).toISOString(), '--out', rekey, '--every-days', '28'])
  assert.equal(r.code, 0, r.err)
  assert.match(r.out, /new epoch site-general-e2/)
  assert.equal((await keys(['import', rekey, '--config', b.config])).code, 0)
  const pa = Pseudonymizer.open(a.dataDir, 'general', Date.now())
  const pb = Pseudonymizer.open(b.dataDir, 'general', Date.now())
  assert.equal(pa.epochAt(at).id, 'site-general-e2')
  assert.equal(pa.pseudonym('patient', 'M', at), pb.pseudonym('patient', 'M', at))
  assert.equal(pa.pseudonym('patient', 'M', at - 1), pb.pseudonym('patient', 'M', at - 1))
  assert.equal(pb.epochAt(at + 28 * 86_400_000).id, 'site-general-e3', 'the new cadence from the re-key on')
  const past = await keys(['rekey', '--config', a.config, '--at', '2026-02-01T00:00:00Z', '--out', rekey])
  assert.equal(past.code, 2)
  assert.match(past.err, /--at must be in the future/)
})
