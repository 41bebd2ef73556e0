/**
 * Issue 24: one pseudonym per patient per hospital, by policy. Two gateways (two data dirs) of one
 * site holding the same bundle give the same pseudonym, switch epochs together at the bundle's
 * start times, and keep their old keys for relink; the gateway policy does not join.
 */
import assert from 'node:assert/strict'
import { chmodSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { Pseudonymizer } from '../../agent/sync/pseudonym.js'
import { DAY_MS, KeyBundleError, newSiteKeys, rekeySiteKeys, toDoc, type SiteKeys } from '../../agent/sync/site-keys.js'
import { parseConfig } from '../../agent/config.js'
import { tempDir } from '../support/agent-process.js'

const T0 = Date.UTC(2027, 0, 4, 3) // a Monday 03:00 UTC
const placed = (keys: SiteKeys): string => {
  const file = join(tempDir('bundle'), 'site-keys.json')
  writeFileSync(file, JSON.stringify(toDoc(keys)), { mode: 0o600 })
  return file
}

test('site keys: two gateways of one site holding the same bundle give one pseudonym per patient, and switch epochs together', () => {
  const bundle = placed(newSiteKeys('general', 28, T0))
  const a = Pseudonymizer.open(tempDir('ward-a'), 'general', T0 + 1000, { keyFile: bundle })
  const b = Pseudonymizer.open(tempDir('ward-b'), 'general', T0 + 5 * DAY_MS, { keyFile: bundle })
  assert.equal(a.policy, 'site', 'site is the default once site keys are held')
  const during = T0 + 10 * DAY_MS
  assert.equal(a.epochAt(during).id, 'site-general-e1')
  assert.equal(a.pseudonym('patient', 'MRN-7', during), b.pseudonym('patient', 'MRN-7', during), 'ward A and ward B: one pseudonym')
  assert.equal(a.pseudonym('patient', 'MRN-7', T0 + 27 * DAY_MS), a.pseudonym('patient', 'MRN-7', during), 'kept within the epoch, whatever the weekly cron did')
  // The bundle's cadence (28 days): both switch at the same instant, to the same derived key.
  const boundary = T0 + 28 * DAY_MS
  assert.equal(a.epochAt(boundary - 1).id, 'site-general-e1')
  assert.equal(a.epochAt(boundary).id, 'site-general-e2')
  assert.equal(b.epochAt(boundary).id, 'site-general-e2')
  assert.equal(a.pseudonym('patient', 'MRN-7', boundary), b.pseudonym('patient', 'MRN-7', boundary), 'the next epoch joins across wards too')
  assert.notEqual(a.pseudonym('patient', 'MRN-7', boundary), a.pseudonym('patient', 'MRN-7', during), 'and changes together when the epoch changes')
  assert.deepEqual(a.all.map((e) => e.id), ['site-general-e1', 'site-general-e2'], 'the derived epoch is kept for relink')
  // Gateway B restarted later reads what A derived, without having seen it.
  const b2 = Pseudonymizer.open(join(tempDir('ward-b2')), 'general', boundary + DAY_MS, { keyFile: bundle })
  assert.equal(b2.pseudonym('patient', 'MRN-7', boundary + DAY_MS), a.pseudonym('patient', 'MRN-7', boundary + DAY_MS))
})

test('site keys: with rotation never, one key until hospital IT re-keys; the re-key switches every gateway at its start', () => {
  const site = newSiteKeys('general', null, T0)
  const a = Pseudonymizer.open(tempDir('ward-a'), 'general', T0, { keyFile: placed(site) })
  const b = Pseudonymizer.open(tempDir('ward-b'), 'general', T0, { keyFile: placed(site) })
  assert.equal(a.epochAt(T0 + 400 * DAY_MS).id, 'site-general-e1')
  const rekeyAt = T0 + 30 * DAY_MS
  const next = rekeySiteKeys(site, rekeyAt)
  assert.deepEqual(a.importSite(next, T0 + DAY_MS).added, ['site-general-e2'])
  b.importSite(next, T0 + 2 * DAY_MS)
  assert.equal(a.pseudonym('patient', 'M', rekeyAt), b.pseudonym('patient', 'M', rekeyAt))
  assert.notEqual(a.pseudonym('patient', 'M', rekeyAt), a.pseudonym('patient', 'M', rekeyAt - 1))
})

test('site keys: gateway policy gives each gateway its own pseudonyms (documented: they do not join across wards)', () => {
  const a = Pseudonymizer.open(tempDir('ward-a'), 'general', T0)
  const b = Pseudonymizer.open(tempDir('ward-b'), 'general', T0)
  assert.equal(a.policy, 'gateway')
  assert.equal(a.policyConfigured, false, 'the default without site keys: warned at start and in status')
  assert.notEqual(a.pseudonym('patient', 'MRN-7', T0), b.pseudonym('patient', 'MRN-7', T0))
  // Named by their gateway, so two wards' own keys are not both "e1-…" in the cloud.
  const named = Pseudonymizer.open(tempDir('ward-d'), 'general', T0, { hubId: 'ward-3a' })
  assert.equal(named.epochAt(T0).id, `ward-3a-e1-${T0}`)
  assert.equal(named.rotate(T0 + DAY_MS).id, `ward-3a-e2-${T0 + DAY_MS}`)
  // Explicitly gateway even with a bundle held: the stricter policy, chosen.
  const dir = tempDir('ward-c')
  Pseudonymizer.open(dir, 'general', T0, { keyFile: placed(newSiteKeys('general', 7, T0)) })
  const c = Pseudonymizer.open(dir, 'general', T0, { policy: 'gateway' })
  assert.equal(c.policy, 'gateway')
  assert.match(c.epochAt(T0 + 1).id, /^e1-/)
})

test('site keys: a gateway that joins the site keeps its own old keys for relink, and switches to the site keys', () => {
  const dir = tempDir('ward-a')
  const own = Pseudonymizer.open(dir, 'general', T0 - DAY_MS)
  const before = own.pseudonym('patient', 'MRN-7', T0 - 1)
  const joined = Pseudonymizer.open(dir, 'general', T0 + DAY_MS, { policy: 'site', keyFile: placed(newSiteKeys('general', 28, T0 - 10 * DAY_MS)) })
  assert.equal(joined.epochAt(T0 + DAY_MS).id, 'site-general-e1')
  assert.match(joined.epochAt(T0 + DAY_MS - 1).id, /^e1-/, 'a backlog accepted before the switch keeps its gateway epoch (a re-sent batch keeps its subjects)')
  assert.ok(joined.allPseudonyms('patient', 'MRN-7').some((p) => p.pseudonym === before), 'the gateway key stays for relink')
  assert.deepEqual(joined.prune(T0), [], 'kept within retention')
  assert.deepEqual(joined.prune(T0 + 2 * DAY_MS).length, 1, 'forgotten once retention passed the switch')
})

test('site keys: policy site without a bundle, another site\'s bundle, a conflicting bundle and an open key file are refused', () => {
  assert.throws(() => Pseudonymizer.open(tempDir('k'), 'general', T0, { policy: 'site' }), (e: unknown) => e instanceof KeyBundleError && e.code === 'BEDSIDE_ERR_KEYS_POLICY' && /keys import/.test(e.message))
  assert.throws(() => Pseudonymizer.open(tempDir('k'), 'general', T0, { keyFile: placed(newSiteKeys('other', 28, T0)) }), (e: unknown) => e instanceof KeyBundleError && e.code === 'BEDSIDE_ERR_KEYS_SITE')
  const p = Pseudonymizer.open(tempDir('k'), 'general', T0, { keyFile: placed(newSiteKeys('general', 28, T0)) })
  assert.throws(() => p.importSite(newSiteKeys('general', 28, T0), T0), (e: unknown) => e instanceof KeyBundleError && e.code === 'BEDSIDE_ERR_KEYS_CONFLICT', 'epoch 1 with another key')
  const open = placed(newSiteKeys('general', 28, T0))
  chmodSync(open, 0o644)
  assert.throws(() => Pseudonymizer.open(tempDir('k'), 'general', T0, { keyFile: open }), (e: unknown) => (e as { code?: string }).code === 'BEDSIDE_ERR_SECRET_PERMISSIONS')
})

test('config: pseudonyms.policy and key_file, with field-named errors', () => {
  const base = { hub: { id: 'w', site: 's', data_dir: '/tmp/x' } }
  assert.equal(parseConfig(base).pseudonyms.policy, undefined)
  assert.equal(parseConfig({ ...base, pseudonyms: { policy: 'site', key_file: '/etc/bedside-hub/site-keys.json' } }).pseudonyms.key_file, '/etc/bedside-hub/site-keys.json')
  assert.throws(() => parseConfig({ ...base, pseudonyms: { policy: 'ward' } }), /pseudonyms\.policy/)
  assert.throws(() => parseConfig({ ...base, pseudonyms: { policy: 'gateway', key_file: '/k' } }), /pseudonyms\.key_file: key_file is the site key bundle/)
  assert.throws(() => parseConfig({ ...base, pseudonyms: { rotate: 1 } }), /pseudonyms\.rotate: unknown key/)
})
