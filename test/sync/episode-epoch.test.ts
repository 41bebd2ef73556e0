/**
 * Issue 24: rotation must not split what belongs together. An alarm episode raised before a site
 * epoch boundary and acknowledged and cleared after it keeps the subject (and key_epoch) it started
 * with, on two gateways of the site alike; so do the patient's readings after the boundary while
 * the stay lasts (the stay's start epoch names its subject); the next stay takes the new epoch.
 */
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { parseConfig } from '../../agent/config.js'
import { DeviceRegistry } from '../../agent/pipeline/devices.js'
import { alarmBody } from '../../agent/store/bodies.js'
import { Admissions } from '../../agent/store/admissions.js'
import { GroupCommitter, RecordKind } from '../../agent/store/commit.js'
import { openDatabase } from '../../agent/store/db.js'
import { Outbox } from '../../agent/store/outbox.js'
import { EnvelopeEncoder } from '../../agent/sync/envelope.js'
import { Pseudonymizer } from '../../agent/sync/pseudonym.js'
import { DAY_MS, newSiteKeys, toDoc } from '../../agent/sync/site-keys.js'
import { decodeEnvelope } from '../../proto/codec.js'
import { tempDir } from '../support/agent-process.js'

const T0 = Date.UTC(2027, 0, 4, 3)
const BOUNDARY = T0 + 7 * DAY_MS // the bundle's second epoch

function bundleFile(): string {
  const file = join(tempDir('bundle'), 'site-keys.json')
  writeFileSync(file, JSON.stringify(toDoc(newSiteKeys('general', 7, T0))), { mode: 0o600 })
  return file
}

/** One gateway of the site: an admitted patient, an alarm episode across the boundary, a reading after it; its envelopes. */
function ward(hubId: string, bundle: string) {
  const dir = tempDir(hubId)
  const db = openDatabase(dir)
  const cfg = parseConfig({ hub: { id: hubId, site: 'general', data_dir: dir }, beds: [{ id: 'b1', devices: [] }] })
  const admissions = new Admissions(db)
  const a = admissions.admit('b1', 'MRN-7', null, null, T0 + DAY_MS)
  const since = BOUNDARY - 60_000 // the condition began a minute before the boundary
  const episode = { alarmId: `b1:hr-high:${since}`, bedId: 'b1', ruleId: 'hr-high', priority: 'high', category: 'physiological', code: 'MDC_ECG_HEART_RATE', value: 185, message: 'HR 185 /min > 120 for 10 s', conditionSinceMs: since, latching: false } as const
  const c = new GroupCommitter(db, { intervalMs: 10_000, maxRecords: 100 })
  const alarm = (state: 'raised' | 'acknowledged' | 'cleared', atMs: number) => c.append({ kind: RecordKind.ALARM, bedId: 'b1', deviceId: null, admissionId: a.id, code: null, value: null, unit: null, deviceTimeMs: null, hubTimeMs: atMs, deviceSeq: null, quality: null, body: alarmBody({ ...episode, state, atMs }) })
  alarm('raised', BOUNDARY - 50_000)
  alarm('acknowledged', BOUNDARY + 30_000)
  alarm('cleared', BOUNDARY + 600_000)
  const reading = (admissionId: number, atMs: number, seq: number) => c.append({ kind: RecordKind.OBSERVATION, bedId: 'b1', deviceId: null, admissionId, code: 147842, value: 90, unit: '/min', deviceTimeMs: atMs, hubTimeMs: atMs, deviceSeq: seq, quality: 0, body: null })
  reading(a.id, BOUNDARY + 700_000, 1)
  // Discharged after the boundary, re-admitted: a new stay, begun in the new epoch.
  admissions.discharge('b1', BOUNDARY + 800_000)
  const next = admissions.admit('b1', 'MRN-7', null, null, BOUNDARY + 900_000)
  reading(next.id, BOUNDARY + 1_000_000, 2)
  c.close()
  const encoder = new EnvelopeEncoder(hubId, admissions, new DeviceRegistry(cfg.beds), Pseudonymizer.open(dir, 'general', T0, { keyFile: bundle }))
  const out = new Outbox(db).read(10).map((r) => ({ key: encoder.encode(r).key, env: decodeEnvelope(encoder.encode(r).value) }))
  db.close()
  return out
}

test('subject: an alarm episode raised before an epoch boundary and cleared after it keeps one subject, as does the rest of the stay; the next stay takes the new epoch', () => {
  const bundle = bundleFile()
  const [raised, acked, cleared, reading, nextStay] = ward('ward-a', bundle)
  assert.equal(raised!.env.keyEpoch, 'site-general-e1')
  assert.equal(acked!.env.keyEpoch, 'site-general-e1', 'acknowledged after the boundary: the epoch the episode started in')
  assert.equal(cleared!.env.keyEpoch, 'site-general-e1')
  assert.equal(new Set([raised!.key, acked!.key, cleared!.key]).size, 1, 'one Kafka key, one alerts_by_patient partition for the whole episode')
  assert.equal(cleared!.env.subject, raised!.env.subject)
  assert.equal(reading!.env.keyEpoch, 'site-general-e1', 'a reading after the boundary, same stay: the epoch the stay began in')
  assert.equal(reading!.env.subject, raised!.env.subject, 'one patient subject for the whole stay')
  assert.equal(nextStay!.env.keyEpoch, 'site-general-e2', 'the next stay, begun after the boundary, takes the new epoch')
  assert.notEqual(nextStay!.env.subject, raised!.env.subject)
  assert.notEqual(nextStay!.env.encounter, reading!.env.encounter)
  // Another ward of the site, same bundle, same patient: the same subjects on both sides of the boundary.
  const other = ward('ward-b', bundle)
  assert.deepEqual(other.map((o) => o.env.subject), [raised, acked, cleared, reading, nextStay].map((o) => o!.env.subject))
  assert.deepEqual(other.map((o) => o.env.hubId), ['ward-b', 'ward-b', 'ward-b', 'ward-b', 'ward-b'])
})
