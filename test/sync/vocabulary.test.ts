/**
 * Issue 24, part 2: the data model analytics follows. Subjects made explicit (patient with its
 * encounter, bed, device, hub), one stay across transfers and key epochs, one encounter per ADT
 * visit on every gateway of a site, the demo flag on every kind, site, labels and device type in
 * the Envelope, and a numeric code on every alarm. Real store (SQLite), real encoder, decoded bytes.
 */
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { relink } from '../../agent/commands/relink.js'
import { parseConfig } from '../../agent/config.js'
import { AlarmCodes, alarmCodeOfRule } from '../../agent/pipeline/alarm-codes.js'
import { DeviceRegistry } from '../../agent/pipeline/devices.js'
import { DEFAULT_RULE_DEFS, rulesConfigSchema, RHYTHM_CONDITIONS, TECHNICAL_CONDITIONS } from '../../agent/rules/index.js'
import { Admissions, MANUAL, type AdmissionOrigin } from '../../agent/store/admissions.js'
import { alarmBody, auditBody } from '../../agent/store/bodies.js'
import { GroupCommitter, RecordKind } from '../../agent/store/commit.js'
import { openDatabase } from '../../agent/store/db.js'
import { Outbox } from '../../agent/store/outbox.js'
import { EnvelopeEncoder, type EnvelopeContext } from '../../agent/sync/envelope.js'
import { Pseudonymizer } from '../../agent/sync/pseudonym.js'
import { DAY_MS, newSiteKeys, toDoc } from '../../agent/sync/site-keys.js'
import { eventCodeRef, PRIVATE_BASE, termByRef } from '../../drivers/codes.js'
import { Quality } from '../../drivers/records.js'
import { decodeEnvelope, SubjectKind, type EnvelopeMsg } from '../../proto/codec.js'
import { tempDir } from '../support/agent-process.js'

const T0 = Date.UTC(2027, 0, 4, 3)
const HR = 147842

function bundleFile(): string {
  const file = join(tempDir('bundle'), 'site-keys.json')
  writeFileSync(file, JSON.stringify(toDoc(newSiteKeys('general', 7, T0))), { mode: 0o600 })
  return file
}

/** One gateway of site "general" with beds b1, b2 (a monitor on b1), its store and its encoder. */
function gateway(hubId: string, bundle: string, context?: Partial<EnvelopeContext>) {
  const dir = tempDir(hubId)
  const db = openDatabase(dir)
  const cfg = parseConfig({ hub: { id: hubId, site: 'general', data_dir: dir }, beds: [{ id: 'b1', devices: [{ id: 'mon-1', type: 'mqtt', secret: 'secret-of-mon-1' }] }, { id: 'b2' }] })
  const admissions = new Admissions(db)
  const c = new GroupCommitter(db, { intervalMs: 10_000, maxRecords: 1000 })
  const ctx: EnvelopeContext = { site: 'general', demo: false, wardLabel: `Ward ${hubId}`, bedLabel: (b) => `Bed ${b}`, ...context }
  const encoder = () => new EnvelopeEncoder(hubId, admissions, new DeviceRegistry(cfg.beds), Pseudonymizer.open(dir, 'general', T0, { keyFile: bundle }), undefined, ctx)
  const base = { deviceId: null, admissionId: null, code: null, value: null, unit: null, deviceTimeMs: null, deviceSeq: null, quality: null, body: null } as const
  const rec = {
    reading: (bedId: string | null, admissionId: number | null, atMs: number, quality = 0) => c.append({ ...base, kind: RecordKind.OBSERVATION, bedId, deviceId: 'mon-1', admissionId, code: HR, value: 80, unit: '/min', deviceTimeMs: atMs, hubTimeMs: atMs, deviceSeq: atMs, quality }),
    alarm: (bedId: string, admissionId: number | null, atMs: number, ruleId = 'hr-high', code: string | null = 'MDC_ECG_HEART_RATE') => c.append({
      ...base, kind: RecordKind.ALARM, bedId, admissionId, hubTimeMs: atMs,
      body: alarmBody({ alarmId: `${bedId}:${ruleId}:${atMs}`, bedId, ruleId, state: 'raised', priority: 'medium', category: 'physiological', ...(code ? { code } : {}), message: 'x', conditionSinceMs: atMs, atMs, latching: false }, new AlarmCodes(rulesConfigSchema.parse({}), ['b1', 'b2']).of(ruleId, code ?? undefined)),
    }),
    audit: (action: string, bedId: string | null, admissionId: number | null, atMs: number) => c.append({ ...base, kind: RecordKind.AUDIT, bedId, admissionId, hubTimeMs: atMs, body: auditBody(action, 'agent', atMs, `${action} test`) }),
  }
  const envelopes = (): EnvelopeMsg[] => {
    c.close()
    const e = encoder()
    return new Outbox(db).read(1000).map((r) => decodeEnvelope(e.encode(r).value))
  }
  return { db, cfg, admissions, rec, envelopes }
}

test('subjects: a bed without a patient keys its readings and alarms alike, {hub}/{bed} of kind bed; a hub-wide audit is keyed to the hub', () => {
  const g = gateway('ward-a', bundleFile())
  g.rec.reading('b1', null, T0 + 1000)
  g.rec.alarm('b1', null, T0 + 2000)
  g.rec.audit('key-rotation', null, null, T0 + 3000)
  const [reading, alarm, rotation] = g.envelopes()
  assert.equal(reading!.subject, 'ward-a/b1')
  assert.equal(reading!.subjectKind, SubjectKind.BED)
  assert.equal(alarm!.subject, reading!.subject, 'the bed\'s alarm joins its readings')
  assert.equal(alarm!.subjectKind, SubjectKind.BED)
  assert.match(reading!.observation!.device, /^[A-Za-z0-9_-]{22}$/, 'the device pseudonym stays in the observation')
  assert.equal(rotation!.subject, 'ward-a')
  assert.equal(rotation!.subjectKind, SubjectKind.HUB)
  assert.equal(rotation!.bedId, '')
  for (const e of [reading, alarm, rotation]) assert.equal(e!.encounter, '', 'nobody admitted: no encounter')
  g.db.close()
})

test('encounters: one stay across a transfer within the hub and a key epoch boundary; the discharge audit names the patient and the stay it closes; the next stay is another', () => {
  const g = gateway('ward-a', bundleFile())
  const first = g.admissions.admit('b1', 'MRN-7', null, null, T0 + DAY_MS)
  g.rec.reading('b1', first.id, T0 + DAY_MS + 1000)
  // The API's transfer: discharge and admit with the admission as origin (ward.ts), after the epoch boundary.
  const moved = g.admissions.admit('b2', 'MRN-7', null, null, T0 + 8 * DAY_MS, first)
  g.admissions.discharge('b1', T0 + 8 * DAY_MS)
  g.rec.audit('transfer', 'b2', moved.id, T0 + 8 * DAY_MS)
  g.rec.alarm('b2', moved.id, T0 + 8 * DAY_MS + 1000)
  g.admissions.discharge('b2', T0 + 9 * DAY_MS)
  g.rec.audit('discharge', 'b2', moved.id, T0 + 9 * DAY_MS) // keyed to the admission it closes (Pipeline.audit)
  const again = g.admissions.admit('b1', 'MRN-7', null, null, T0 + 10 * DAY_MS, MANUAL)
  g.rec.reading('b1', again.id, T0 + 10 * DAY_MS + 1000)
  const [r1, transfer, alarm, discharge, r2] = g.envelopes()
  assert.equal(moved.stayOf, first.id)
  assert.equal(r1!.encounter!.length, 22, 'an encounter pseudonym on the reading')
  for (const e of [transfer, alarm, discharge]) {
    assert.equal(e!.encounter, r1!.encounter, 'the same stay after the transfer and across the epoch boundary')
    assert.equal(e!.encounterKeyEpoch, 'site-general-e1', 'under the epoch the stay began in')
  }
  assert.equal(transfer!.keyEpoch, 'site-general-e1', 'the patient subject stays under the epoch the stay began in (docs/analytics.md)')
  assert.equal(transfer!.subject, r1!.subject, 'one patient subject for the whole stay, across the boundary')
  assert.equal(discharge!.subjectKind, SubjectKind.PATIENT, 'the discharge audit is keyed to the patient it discharged')
  assert.equal(discharge!.subject, transfer!.subject)
  assert.equal(discharge!.audit!.action, 'discharge')
  assert.notEqual(r2!.encounter, r1!.encounter, 'a new admission is a new stay')
  assert.equal(r2!.keyEpoch, 'site-general-e2', 'the next stay, begun after the boundary, is named under the new epoch')
  assert.notEqual(r2!.subject, r1!.subject)
  // The gateway re-links a stay's pseudonym to its admissions (bedside-hub relink), and only to them.
  const hits = relink(r1!.encounter!, g.cfg).filter((h) => h.kind === 'encounter')
  assert.deepEqual(hits.map((h) => h.admission!.id).sort(), [first.id, moved.id])
  assert.ok(hits.every((h) => h.epoch === 'site-general-e1'))
  g.db.close()
})

test('encounters: two gateways of one site give one encounter for one ADT visit (PV1-19), under the epoch of PV1-44, wherever the transfer falls', () => {
  const bundle = bundleFile()
  const visit = (startMs: number): AdmissionOrigin => ({ source: 'adt', authority: 'GH', visit: 'V-2027-0042', eventMs: null, stayStartMs: startMs })
  const a = gateway('ward-a', bundle)
  const b = gateway('ward-b', bundle)
  const onA = a.admissions.admit('b1', 'MRN-9', null, null, T0 + 6 * DAY_MS, visit(T0 + 6 * DAY_MS))
  a.rec.reading('b1', onA.id, T0 + 6 * DAY_MS + 1)
  // Transferred to ward B after the boundary: B's admission starts then, PV1-44 says when the visit began.
  const onB = b.admissions.admit('b2', 'MRN-9', null, null, T0 + 8 * DAY_MS, visit(T0 + 6 * DAY_MS))
  b.rec.reading('b2', onB.id, T0 + 8 * DAY_MS + 1)
  const [ra] = a.envelopes()
  const [rb] = b.envelopes()
  assert.equal(ra!.encounter, rb!.encounter, 'one stay across the two wards')
  assert.equal(rb!.encounterKeyEpoch, 'site-general-e1')
  assert.equal(ra!.subject, rb!.subject, 'one patient pseudonym for the stay: PV1-44 names the epoch on both wards')
  assert.equal(rb!.keyEpoch, 'site-general-e1')
  assert.equal(ra!.hubId, 'ward-a')
  assert.equal(rb!.hubId, 'ward-b')
  a.db.close()
  b.db.close()
})

test('vocabulary: site, labels, device type and the demo flag on every kind; every alarm code numeric', () => {
  const demo = gateway('demo-ward', bundleFile(), { demo: true })
  demo.rec.reading('b1', null, T0 + 1)
  demo.rec.alarm('b1', null, T0 + 2)
  demo.rec.audit('sign-in', null, null, T0 + 3)
  for (const e of demo.envelopes()) {
    assert.equal(e.demo, true, `${e.observation ? 'reading' : e.alarm ? 'alarm' : 'audit'} flagged demo`)
    assert.equal(e.site, 'general')
    assert.equal(e.wardLabel, 'Ward demo-ward')
  }
  demo.db.close()
  const ward = gateway('ward-a', bundleFile())
  ward.rec.reading('b1', null, T0 + 1, Quality.DEMO)
  ward.rec.reading('b1', null, T0 + 2)
  ward.rec.alarm('b1', null, T0 + 3)
  ward.rec.alarm('b1', null, T0 + 4, 'news2', null)
  ward.rec.alarm('b1', null, T0 + 5, 'rhythm-asystole', null)
  ward.rec.alarm('b1', null, T0 + 6, 'tech-leads-off', null)
  const [flagged, real, hr, news2, asys, leads] = ward.envelopes()
  assert.equal(flagged!.demo, true, 'a reading its device flags demo (quality bit 128)')
  assert.equal(real!.demo, false)
  assert.equal(hr!.demo, false)
  assert.equal(real!.deviceType, 'mqtt')
  assert.equal(real!.bedLabel, 'Bed b1')
  assert.equal(hr!.alarm!.mdcCode, HR, 'a limit alarm carries its parameter\'s MDC code, like the readings')
  assert.equal(news2!.alarm!.mdcCode, termByRef('BEDSIDE_NEWS2_SCORE')!.code)
  assert.equal(asys!.alarm!.mdcCode, termByRef('BEDSIDE_RHYTHM_ASYS')!.code)
  assert.equal(leads!.alarm!.mdcCode, termByRef('BEDSIDE_TECH_LEADS_OFF')!.code)
  ward.db.close()
})

test('alarm codes: every default rule, rhythm and technical condition has a numeric code; private ones in the private range, none shared', () => {
  for (const def of DEFAULT_RULE_DEFS) assert.ok(alarmCodeOfRule(def) > 0, `rule ${def.id} has a code`)
  for (const c of [...RHYTHM_CONDITIONS, ...TECHNICAL_CONDITIONS]) {
    const t = termByRef(eventCodeRef(c))
    assert.ok(t && t.code >= PRIVATE_BASE && t.code < PRIVATE_BASE + 0x0c00, `${c}: ${eventCodeRef(c)} in the private range`)
  }
  assert.equal(new AlarmCodes(rulesConfigSchema.parse({}), []).of('no-such-rule', undefined), 0, 'an unknown rule: 0, never a wrong code')
})
