import assert from 'node:assert/strict'
import { test } from 'node:test'
import { pino } from 'pino'
import { SelfTest } from '../../agent/housekeeping/self-test.js'
import { GroupCommitter, RecordKind } from '../../agent/store/commit.js'
import { openDatabase } from '../../agent/store/db.js'
import { tempDir } from '../support/agent-process.js'

test('self-test: writes a record, reads it back, and raises then clears its condition when the store fails and recovers', async () => {
  const db = openDatabase(tempDir('selftest'))
  const committer = new GroupCommitter(db, { intervalMs: 1, maxRecords: 100 })
  const conditions: [boolean, string][] = []
  const st = new SelfTest({
    db,
    log: pino({ level: 'silent' }),
    audit: (action, detail) => committer.append({ kind: RecordKind.AUDIT, bedId: null, deviceId: null, admissionId: null, code: null, value: null, unit: null, deviceTimeMs: null, hubTimeMs: Date.now(), deviceSeq: null, quality: null, body: Buffer.from(JSON.stringify({ action, actor: 'bedside-hub', detail })) }),
    whenCommitted: (cb) => committer.whenCommitted(cb),
    condition: (active, detail) => conditions.push([active, detail]),
  })
  assert.equal(await st.run(), true)
  assert.deepEqual(conditions, [], 'a passing self-test raises nothing')
  db.exec('ALTER TABLE records RENAME TO records_away') // the store can no longer take records
  assert.equal(await st.run(), false)
  assert.equal(conditions.length, 1)
  assert.equal(conditions[0]![0], true)
  assert.match(conditions[0]![1], /self-test write failed/)
  assert.equal(await st.run(), false)
  assert.equal(conditions.length, 1, 'a lasting failure is one condition episode')
  db.exec('ALTER TABLE records_away RENAME TO records')
  assert.equal(await st.run(), true)
  assert.equal(conditions.length, 2)
  assert.equal(conditions[1]![0], false, 'recovery clears the condition')
  db.close()
})
