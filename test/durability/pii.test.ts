/**
 * Pseudonyms on real Kafka: planted MRNs, names, birth dates and device serials never appear in any
 * Kafka byte; the key rotated by node-cron names every new stay under the new epoch (a patient's
 * records carry the epoch in force when the stay began, issue 24; other records the epoch in force
 * when they were accepted); `bedside-hub relink` resolves the pseudonyms of every epoch to the
 * admission or device; `bedside-hub queue` answers from the store.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { decodeEnvelope, observationEvents, SubjectKind, type EnvelopeMsg } from '../../proto/codec.js'
import { spawnCli, startAgentProcess, waitFor, metricValue, type AgentHandle } from '../support/agent-process.js'
import { setupCloud, type CloudSetup } from '../support/cloud-process.js'
import { readAllMessages } from '../support/kafka-scan.js'
import { kafkaBrokers } from '../support/services.js'
import { admitAll, planted, wardBeds } from '../support/ward.js'
import { WardLoad, needsServices, sleep } from './load.js'

const BEDS = 4

let cloud: CloudSetup
let agent: AgentHandle

before(async () => {
  if (needsServices) return
  cloud = await setupCloud('pii')
  agent = await startAgentProcess({
    beds: wardBeds(BEDS),
    cloud: { kafka: { brokers: kafkaBrokers(), topics: cloud.agentTopics } },
    housekeeping: { key_rotation_cron: '*/4 * * * * *' }, // every 4 s: several epochs in one test
  })
  await admitAll(agent.http, BEDS)
})
after(async () => {
  if (needsServices) return
  await agent?.stop()
  await cloud?.close()
})

async function cli(args: string[]): Promise<{ code: number | null; out: string }> {
  const c = spawnCli(args)
  const code = await c.exited
  return { code, out: c.output() }
}

test('durability: no identifier in any Kafka byte; key rotation names each new stay under the new epoch; relink resolves every epoch', { skip: needsServices }, async () => {
  const load = new WardLoad({ devices: BEDS, rateHz: 5 })
  await load.start(agent.mqtt)
  await sleep(3000)
  // Bed 0's patient discharged and, after at least one rotation (every 4 s), admitted again: a second stay.
  const nurse = { 'content-type': 'application/json', authorization: 'Bearer test-nurse-token' }
  assert.equal((await fetch(`${agent.http}/api/admissions/bed-0`, { method: 'DELETE', headers: { authorization: nurse.authorization } })).status, 204)
  await sleep(4500)
  const again = await fetch(`${agent.http}/api/admissions`, { method: 'POST', headers: nurse, body: JSON.stringify({ bed_id: 'bed-0', mrn: planted.mrn(0) }) })
  assert.equal(again.status, 201, await again.text())
  await sleep(4000)
  await load.stop()
  await waitFor('outbox drained', async () => (await metricValue(agent.http, 'bedside_outbox_depth')) === 0, 60_000, 250)

  const topics = Object.values(cloud.agentTopics).filter((t) => !t.endsWith('dead-letter'))
  const messages = await readAllMessages(topics)
  const needles = Array.from({ length: BEDS }, (_, i) => [planted.mrn(i), planted.name(i), planted.birthDate(i), planted.serial(i)]).flat()
  for (const m of messages) {
    for (const b of [m.key, m.value, ...m.headers]) {
      if (b) for (const n of needles) assert.equal(b.includes(n), false, `"${n}" found in ${m.topic}`)
    }
  }

  const keys = (JSON.parse(readFileSync(join(agent.dir, 'data', 'keys.json'), 'utf8')) as { epochs: { id: string; created_ms: number }[] }).epochs
  const epochAt = (t: number) => [...keys].reverse().find((e) => e.created_ms <= t)?.id ?? keys[0]!.id
  const envs: EnvelopeMsg[] = messages.map((m) => decodeEnvelope(m.value!))
  const patientOf = (e: EnvelopeMsg) => e.subjectKind === SubjectKind.PATIENT
  // Issue 24: an alarm of no patient takes the epoch in force when its episode started (agent/sync/subject-time.ts).
  const subjectTime = (e: EnvelopeMsg) => (e.alarm && Number(e.alarm.conditionSinceMs) > 0 ? Math.min(Number(e.alarm.conditionSinceMs), Number(e.hubTimeMs)) : Number(e.hubTimeMs))
  for (const e of envs.filter((x) => !patientOf(x))) assert.equal(e.keyEpoch, epochAt(subjectTime(e)), `record ${e.hubSeq} carries the epoch in force when it was accepted (an alarm: when its episode started)`)
  // A stay is named under one epoch, the one in force when it began: one subject and one key epoch per encounter.
  const stays = new Map<string, { subjects: Set<string>; epochs: Set<string>; beds: Set<string>; firstMs: number }>()
  for (const e of envs.filter(patientOf)) {
    let s = stays.get(e.encounter!)
    if (!s) stays.set(e.encounter!, (s = { subjects: new Set(), epochs: new Set(), beds: new Set(), firstMs: Infinity }))
    s.subjects.add(e.subject)
    s.epochs.add(e.keyEpoch)
    s.beds.add(e.bedId)
    s.firstMs = Math.min(s.firstMs, Number(e.hubTimeMs))
  }
  for (const [enc, s] of stays) {
    assert.equal(s.subjects.size, 1, `stay ${enc}: one patient pseudonym through the rotations`)
    assert.equal(s.epochs.size, 1, `stay ${enc}: one key epoch`)
    // The stay began before its first record reached the outbox: its epoch is that one's or an earlier one.
    const at = (id: string) => keys.findIndex((k) => k.id === id)
    assert.ok(at([...s.epochs][0]!) >= 0 && at([...s.epochs][0]!) <= at(epochAt(s.firstMs)), `stay ${enc}: named under the epoch it began in`)
  }
  // Bed 0: two stays, the second begun after a rotation: another epoch, another pseudonym.
  const bed0 = [...stays.values()].filter((s) => s.beds.has('bed-0')).sort((a, b) => a.firstMs - b.firstMs)
  console.log(`# pii: ${messages.length} Kafka messages, ${needles.length} planted identifiers absent; ${keys.length} key epochs; bed-0 stays: ${bed0.map((s) => `${[...s.epochs][0]}=${[...s.subjects][0]}`).join(' ')}`)
  assert.equal(bed0.length, 2, 'bed 0 had two stays')
  assert.notEqual([...bed0[0]!.epochs][0], [...bed0[1]!.epochs][0], 'the second stay began in a later epoch')
  assert.notEqual([...bed0[0]!.subjects][0], [...bed0[1]!.subjects][0], 'a new stay in a new epoch, a new pseudonym')
  const byEpoch = new Map(bed0.map((s) => [[...s.epochs][0]!, s.subjects] as const))
  assert.ok(envs.some((e) => e.audit?.action === 'key-rotation'), 'the rotation is audited')
  const vitals0 = envs.filter((e) => (e.observation || e.observations) && e.bedId === 'bed-0' && patientOf(e))

  // Relink every epoch's pseudonym of bed 0's patient, and one device pseudonym, on the gateway.
  for (const [epoch, s] of byEpoch) {
    const r = await cli(['relink', [...s][0]!, '--config', agent.configFile])
    assert.equal(r.code, 0, r.out)
    assert.match(r.out, new RegExp(`MRN ${planted.mrn(0)}.*key epoch ${epoch}`))
  }
  const device = observationEvents(vitals0[0]!)[0]!.observation.device
  const rd = await cli(['relink', device, '--config', agent.configFile])
  assert.equal(rd.code, 0, rd.out)
  assert.match(rd.out, /device mon-0 \(bed bed-0/)
  assert.equal((await cli(['relink', 'no-such-pseudonym', '--config', agent.configFile])).code, 1)
  // The agent keeps writing (a key-rotation audit every 4 s here, technical alarms of the stopped
  // devices) and syncs each within moments: the queue reads empty once it has caught up.
  let report = { total: -1, cursor: 0 }
  await waitFor('bedside-hub queue: nothing unsynced', async () => {
    const q = await cli(['queue', '--config', agent.configFile, '--json'])
    assert.equal(q.code, 0, q.out)
    report = JSON.parse(q.out) as { total: number; cursor: number }
    return report.total === 0
  }, 20_000, 250)
  assert.ok(report.cursor > 0)
})
