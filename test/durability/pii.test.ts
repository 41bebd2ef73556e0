/**
 * Pseudonyms on real Kafka: planted MRNs, names, birth dates and device serials never appear in any
 * Kafka byte; the key rotated by node-cron changes pseudonyms from the next epoch on (each record
 * carries the epoch in force when it was accepted); `bedside-hub relink` resolves the pseudonyms of
 * every epoch to the admission or device; `bedside-hub queue` answers from the store.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { decodeEnvelope, type EnvelopeMsg } from '../../proto/codec.js'
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

test('durability: no identifier in any Kafka byte; key rotation changes pseudonyms from the next epoch on; relink resolves every epoch', { skip: needsServices }, async () => {
  const load = new WardLoad({ devices: BEDS, rateHz: 5 })
  await load.start(agent.mqtt)
  await sleep(10_000)
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
  const vitals0 = envs.filter((e) => e.observation && e.bedId === 'bed-0')
  // Issue 24: an alarm takes the epoch in force when its episode started (agent/sync/subject-time.ts).
  const subjectTime = (e: EnvelopeMsg) => (e.alarm && Number(e.alarm.conditionSinceMs) > 0 ? Math.min(Number(e.alarm.conditionSinceMs), Number(e.hubTimeMs)) : Number(e.hubTimeMs))
  for (const e of envs) assert.equal(e.keyEpoch, epochAt(subjectTime(e)), `record ${e.hubSeq} carries the epoch in force when it was accepted (an alarm: when its episode started)`)
  const byEpoch = new Map<string, Set<string>>()
  for (const e of vitals0) {
    let s = byEpoch.get(e.keyEpoch)
    if (!s) byEpoch.set(e.keyEpoch, (s = new Set()))
    s.add(e.subject)
  }
  const subjects = [...byEpoch.values()].map((s) => [...s])
  console.log(`# pii: ${messages.length} Kafka messages, ${needles.length} planted identifiers absent; ${keys.length} key epochs; bed-0 pseudonyms per epoch: ${[...byEpoch].map(([k, s]) => `${k}=${[...s].join('/')}`).join(' ')}`)
  assert.ok(byEpoch.size >= 2, 'the key rotated at least once while records flowed')
  for (const s of subjects) assert.equal(s.length, 1, 'one pseudonym per patient per epoch')
  assert.equal(new Set(subjects.flat()).size, subjects.length, 'a new epoch, a new pseudonym')
  assert.ok(envs.some((e) => e.audit?.action === 'key-rotation'), 'the rotation is audited')

  // Relink every epoch's pseudonym of bed 0's patient, and one device pseudonym, on the gateway.
  for (const [epoch, s] of byEpoch) {
    const r = await cli(['relink', [...s][0]!, '--config', agent.configFile])
    assert.equal(r.code, 0, r.out)
    assert.match(r.out, new RegExp(`MRN ${planted.mrn(0)}.*key epoch ${epoch}`))
  }
  const device = vitals0[0]!.observation!.device
  const rd = await cli(['relink', device, '--config', agent.configFile])
  assert.equal(rd.code, 0, rd.out)
  assert.match(rd.out, /device mon-0 \(bed bed-0/)
  assert.equal((await cli(['relink', 'no-such-pseudonym', '--config', agent.configFile])).code, 1)
  const q = await cli(['queue', '--config', agent.configFile, '--json'])
  assert.equal(q.code, 0, q.out)
  const report = JSON.parse(q.out) as { total: number; cursor: number; shedWaveforms: number }
  assert.equal(report.total, 0)
  assert.ok(report.cursor > 0)
})
