/**
 * Issue 24, part 2, through the agent: real ADT over MLLP and real MQTT devices in, real Kafka out,
 * every Envelope decoded. Two ward agents (two hubs, two stores) share one site key bundle. A patient
 * admitted on ward A (A01, PV1-19 and PV1-44) is transferred to ward B (A02 to both: a transfer-out
 * on A, an admission on B) and discharged there (A03); meanwhile a bed of ward A with nobody in it
 * alarms. Asserted on what Kafka holds: one patient pseudonym and one encounter on both wards, the
 * transfer-out and the discharge audits keyed to that patient and stay, the empty bed's readings and
 * alarm under one bed subject, every code numeric, the demo flag on every kind of the demo ward, site
 * and labels on every event.
 */
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { Kafka, logLevel } from 'kafkajs'
import mqtt from 'mqtt'
import { pino } from 'pino'
import { startAgent, type RunningAgent } from '../../agent/agent.js'
import { parseConfig } from '../../agent/config.js'
import { newSiteKeys, toDoc } from '../../agent/sync/site-keys.js'
import { decodeEnvelope, observationEvents, SubjectKind, type EnvelopeMsg } from '../../proto/codec.js'
import { adtMessage, sendAdt } from '../support/adt.js'
import { tempDir, waitFor } from '../support/agent-process.js'
import { readAllMessages } from '../support/kafka-scan.js'
import { kafkaBrokers } from '../support/services.js'

const SITE = 'general-hospital'
const VISIT = 'V-2026-0077'
const MRN = 'MRN-PLANT-5150'
const PATIENT = { mrn: MRN, visit: VISIT }
const adt = (trigger: string, ctl: string, location: string, admitMs: number) => adtMessage(trigger, ctl, location, { ...PATIENT, admitMs })

/** A real MQTT device (QoS 1): HR readings, `hr` each. */
async function publishHr(url: string, deviceId: string, values: number[], firstSeq: number): Promise<void> {
  const c = await mqtt.connectAsync(url, { username: deviceId, password: `secret-of-${deviceId}`, clientId: `${deviceId}-${firstSeq}`, reconnectPeriod: 0, protocolVersion: 4 })
  let seq = firstSeq
  for (const v of values) await c.publishAsync(`bedside/v1/devices/${deviceId}/obs`, JSON.stringify({ ts: Date.now(), seq: seq++, obs: [{ code: 'MDC_ECG_HEART_RATE', value: v, unit: '/min' }] }), { qos: 1 })
  await c.endAsync()
}

test('encounter: one patient and one stay across a transfer between two wards of one site; bed subjects, numeric codes, demo flags, site and labels on what Kafka holds', async (t) => {
  const id = `enc-${Date.now().toString(36)}`
  const topics = { raw_vitals: `${id}-raw-vitals`, waveforms: `${id}-waveforms`, alert_events: `${id}-alert-events`, audit_log: `${id}-audit-log`, dead_letter: `${id}-dead-letter` }
  const admin = new Kafka({ clientId: id, brokers: kafkaBrokers(), logLevel: logLevel.NOTHING }).admin()
  await admin.connect()
  await admin.createTopics({ topics: Object.values(topics).map((topic) => ({ topic, numPartitions: 3 })), waitForLeaders: true })
  await admin.disconnect()
  const bundle = join(tempDir('site-bundle'), 'site-keys.json')
  writeFileSync(bundle, JSON.stringify(toDoc(newSiteKeys(SITE, 7, Date.now() - 86_400_000))), { mode: 0o600 })
  const admitMs = Date.now() - 3_600_000

  const ward = (hubId: string, label: string, pointOfCare: string, beds: string[], demo: boolean) => parseConfig({
    hub: { id: hubId, site: SITE, label, data_dir: join(tempDir(hubId), 'data') },
    demo,
    http: { listen: '127.0.0.1:0', tokens: [{ token: `${hubId}-nurse-token`, role: 'nurse', name: 'nurse-1' }] },
    mqtt: { listen: '127.0.0.1:0' },
    beds: beds.map((b) => ({ id: b, label: `Bed ${b.toUpperCase()}`, devices: [{ id: `mon-${b}`, type: 'mqtt', secret: `secret-of-mon-${b}` }] })),
    pseudonyms: { policy: 'site', key_file: bundle },
    hl7: { adt: { listen: '127.0.0.1:0', locations: beds.map((b, i) => ({ point_of_care: pointOfCare, room: String(i + 1), bed_id: b })) } },
    cloud: { kafka: { brokers: kafkaBrokers(), topics } },
    // An HR limit alarm without delay, so the empty bed alarms at once.
    rules: { set: [{ id: 'hr-high', kind: 'threshold', code: 'MDC_ECG_HEART_RATE', op: '>', limit: 120, hysteresis: 5 }] },
  })
  const quiet = pino({ level: 'silent' })
  const a: RunningAgent = await startAgent(ward('ward-a', 'Cardiology 3A', 'WA', ['a1', 'a2'], false), { log: quiet })
  t.after(() => a.stop())
  const b: RunningAgent = await startAgent(ward('ward-b', 'Step-down 4B', 'WB', ['b1'], true), { log: quiet })
  t.after(() => b.stop())

  assert.equal(await sendAdt(a.adtPort, adt('A01', 'C1', 'WA^1', admitMs)), 'AA')
  await publishHr(`mqtt://127.0.0.1:${a.mqttPort}`, 'mon-a1', [72, 74, 76], 1)
  await publishHr(`mqtt://127.0.0.1:${a.mqttPort}`, 'mon-a2', [80, 185, 186], 1) // nobody in a2: a bed alarm
  // The transfer: the engine tells both wards (A: to a location off the ward; B: into its bed).
  assert.equal(await sendAdt(a.adtPort, adt('A02', 'C2', 'WB^1', admitMs)), 'AA')
  assert.equal(await sendAdt(b.adtPort, adt('A02', 'C2', 'WB^1', admitMs)), 'AA')
  await publishHr(`mqtt://127.0.0.1:${b.mqttPort}`, 'mon-b1', [70, 185], 1) // the patient alarms on ward B
  assert.equal(await sendAdt(b.adtPort, adt('A03', 'C3', 'WB^1', admitMs)), 'AA')

  const wanted = Object.values(topics).filter((x) => x !== topics.dead_letter)
  const envelopes = await waitFor('both wards\' events in Kafka', async () => {
    const all = (await readAllMessages(wanted)).map((m) => ({ topic: m.topic, key: m.key?.toString() ?? '', e: decodeEnvelope(m.value!) }))
    const done = all.some((x) => x.e.hubId === 'ward-b' && x.e.audit?.action === 'discharge') && all.some((x) => x.e.hubId === 'ward-a' && x.e.audit?.action === 'transfer-out')
      && all.some((x) => x.e.alarm && x.e.bedId === 'a2') && all.some((x) => x.e.alarm && x.e.hubId === 'ward-b') && all.filter((x) => x.e.hubId === 'ward-b').flatMap((x) => observationEvents(x.e)).length >= 2
    return done ? all : undefined
  }, 60_000, 500)
  const of = (hub: string, pred: (e: EnvelopeMsg) => boolean) => envelopes.filter((x) => x.e.hubId === hub && pred(x.e))

  // One patient, one stay, on both wards.
  const patient = envelopes.filter((x) => x.e.subjectKind === SubjectKind.PATIENT)
  assert.deepEqual([...new Set(patient.map((x) => x.e.hubId))].sort(), ['ward-a', 'ward-b'])
  assert.equal(new Set(patient.map((x) => x.e.subject)).size, 1, 'one patient pseudonym on both wards (one site key)')
  assert.equal(new Set(patient.map((x) => x.e.encounter)).size, 1, 'one encounter across the transfer')
  const encounter = patient[0]!.e.encounter!
  assert.match(encounter, /^[A-Za-z0-9_-]{22}$/)
  assert.notEqual(encounter, patient[0]!.e.subject)
  for (const x of patient) assert.equal(x.key, x.e.subject, 'the Kafka key is the subject')
  // The audits that close each ward's part of the stay name the patient and the stay, not free text.
  const [out] = of('ward-a', (e) => e.audit?.action === 'transfer-out')
  const [discharge] = of('ward-b', (e) => e.audit?.action === 'discharge')
  for (const x of [out!, discharge!]) {
    assert.equal(x.e.subjectKind, SubjectKind.PATIENT, `${x.e.audit!.action} keyed to the patient`)
    assert.equal(x.e.encounter, encounter, `${x.e.audit!.action} names the stay it closes`)
  }
  assert.equal(of('ward-b', (e) => e.audit?.action === 'admission').length, 1)
  assert.ok(of('ward-b', (e) => e.audit?.action === 'admission').every((x) => x.e.encounter === encounter))

  // The empty bed: its readings and its alarm under one subject, {hub}/{bed}.
  const bed = of('ward-a', (e) => e.bedId === 'a2')
  assert.ok(bed.some((x) => x.e.alarm) && bed.some((x) => observationEvents(x.e).length > 0))
  for (const x of bed) {
    assert.equal(x.e.subject, 'ward-a/a2')
    assert.equal(x.e.subjectKind, SubjectKind.BED)
    assert.equal(x.e.encounter, '')
  }

  // One vocabulary: every code numeric, alarms included; the demo ward's every kind flagged.
  for (const x of envelopes) {
    for (const o of observationEvents(x.e)) assert.ok(Number.isInteger(o.observation.code) && o.observation.code > 0)
    // A limit alarm the parameter's MDC code (HR), a NEWS2 alarm (185 /min scores 3) its documented private code.
    if (x.e.alarm) assert.equal(x.e.alarm.mdcCode, x.e.alarm.ruleId === 'news2' ? 192512 : 147842, `alarm ${x.e.alarm.alarmId}'s numeric code`)
    assert.equal(x.e.site, SITE)
    assert.equal(x.e.demo, x.e.hubId === 'ward-b', `${x.topic}: demo exactly on the demo ward`)
    assert.equal(x.e.wardLabel, x.e.hubId === 'ward-a' ? 'Cardiology 3A' : 'Step-down 4B')
    if (x.e.bedId) assert.equal(x.e.bedLabel, `Bed ${x.e.bedId.toUpperCase()}`)
    if (observationEvents(x.e).length > 0) assert.equal(x.e.deviceType, 'mqtt')
  }
  const kinds = new Set(of('ward-b', () => true).map((x) => (x.e.alarm ? 'alarm' : x.e.audit ? 'audit' : 'reading')))
  assert.deepEqual([...kinds].sort(), ['alarm', 'audit', 'reading'], 'the demo ward sent every kind')
  assert.ok(of('ward-b', (e) => e.alarm !== null && e.alarm !== undefined).every((x) => x.e.encounter === encounter), 'the patient\'s alarms name the stay')
  // No MRN in any byte.
  for (const m of await readAllMessages(wanted)) assert.equal(m.value!.includes(MRN), false)
})
