/**
 * Issue 24: the weekly cron rotates a gateway-policy key, never a site-policy one; the site's epoch
 * switch is audited once, as `key-rotation` (audit.proto), when the bundle's next epoch comes into force.
 */
import assert from 'node:assert/strict'
import { appendFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import pino from 'pino'
import { AuditAction } from '../../agent/audit-actions.js'
import { Housekeeping } from '../../agent/housekeeping/housekeeping.js'
import { KEYS_AUDIT_LOG, KeyCommandAudit } from '../../agent/housekeeping/key-commands.js'
import { openDatabase } from '../../agent/store/db.js'
import { Meta } from '../../agent/store/meta.js'
import { Pseudonymizer } from '../../agent/sync/pseudonym.js'
import { DAY_MS, newSiteKeys, toDoc } from '../../agent/sync/site-keys.js'
import { tempDir } from '../support/agent-process.js'

const T0 = Date.UTC(2027, 0, 4, 3)

function housekeeping(pseudonyms: Pseudonymizer) {
  const audits: { action: string; detail: string }[] = []
  const parts = { pseudonyms, outbox: { oldestUnsyncedMs: () => null } } as unknown as ConstructorParameters<typeof Housekeeping>[1]
  const opts = { quotaCheckMs: 1000, retentionMs: 7 * DAY_MS, retentionCron: '* * * * *', checkpointCron: '* * * * *', keyRotationCron: '* * * * *', selfTestCron: '* * * * *' }
  const hk = new Housekeeping(opts, parts, { audit: (action, detail) => audits.push({ action, detail }), flush: () => {} }, pino({ level: 'silent' }))
  return { hk, audits }
}

test('housekeeping: a gateway-policy rotation is audited as key-rotation', () => {
  const p = Pseudonymizer.open(tempDir('gw'), 'general', T0)
  const { hk, audits } = housekeeping(p)
  hk.rotateKeys(T0 + DAY_MS)
  assert.equal(p.all.length, 2)
  assert.deepEqual(audits.map((a) => a.action), [AuditAction.KEY_ROTATION])
  assert.equal(AuditAction.KEY_ROTATION, 'key-rotation')
})

test('housekeeping: under site policy the cron does not rotate; the bundle\'s next epoch is audited once when in force', () => {
  const file = join(tempDir('bundle'), 'site-keys.json')
  writeFileSync(file, JSON.stringify(toDoc(newSiteKeys('general', 7, T0))), { mode: 0o600 })
  const p = Pseudonymizer.open(tempDir('site'), 'general', T0, { keyFile: file })
  const { hk, audits } = housekeeping(p)
  ;(hk as unknown as { epochInForce: string }).epochInForce = p.epochAt(T0 + DAY_MS).id // what start() notes
  hk.rotateKeys(T0 + 2 * DAY_MS)
  assert.equal(audits.length, 0, 'no gateway rotation under site policy')
  assert.equal(p.epochAt(T0 + 2 * DAY_MS).id, 'site-general-e1')
  assert.equal(hk.checkSiteEpoch(T0 + 7 * DAY_MS - 1), null)
  assert.equal(hk.checkSiteEpoch(T0 + 7 * DAY_MS), 'site-general-e2')
  assert.equal(hk.checkSiteEpoch(T0 + 7 * DAY_MS + 60_000), null, 'audited once')
  assert.deepEqual(audits.map((a) => a.action), ['key-rotation'])
  assert.match(audits[0]!.detail, /site-general-e1 → site-general-e2 \(site policy/)
})

test('housekeeping: what `bedside-hub keys` did beside the agent is audited once, a line being written waits', () => {
  const dir = tempDir('keys-log')
  const db = openDatabase(dir)
  const meta = new Meta(db)
  const audits: { action: string; detail: string }[] = []
  const log = new KeyCommandAudit(dir, meta, (action, detail) => audits.push({ action, detail }))
  assert.equal(log.poll(), 0, 'no log yet')
  const line = (o: object) => JSON.stringify({ atMs: T0, user: 'root', ...o }) + '\n'
  appendFileSync(join(dir, KEYS_AUDIT_LOG), line({ action: 'key-import', site: 'general', added: ['site-general-e1'] }) + line({ action: 'key-export', site: 'general', epochs: ['site-general-e1'] }) + '{"atMs":1,"us')
  assert.equal(log.poll(), 2)
  assert.deepEqual(audits.map((a) => a.action), ['key-import', 'key-export'])
  assert.match(audits[0]!.detail, /bedside-hub keys by root at 2027-01-04T03:00:00.000Z: site general imported, epochs site-general-e1/)
  assert.equal(log.poll(), 0, 'audited once; the partial line waits')
  appendFileSync(join(dir, KEYS_AUDIT_LOG), 'er":"root","action":"key-rekey","site":"general","added":["site-general-e2"]}\n')
  assert.equal(new KeyCommandAudit(dir, new Meta(db), (action, detail) => audits.push({ action, detail })).poll(), 1, 'the offset survives a restart')
  assert.equal(audits[2]!.action, 'key-rekey')
  db.close()
})
