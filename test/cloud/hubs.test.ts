/**
 * Two real agents (two wards, two hubs) feeding the same topics through one writer: hub_seq
 * values collide across hubs by design (each hub counts from 1), and (hub_id, hub_seq) keeps every
 * event apart. Counts are exact per hub.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { startAgentProcess, tempDir, waitFor, type AgentHandle } from '../support/agent-process.js'
import { countRows, setupCloud, type CloudSetup } from '../support/cloud-process.js'
import { kafkaBrokers } from '../support/services.js'
import { admitAll, connectDevice, publishObservations, wardBeds } from '../support/ward.js'

/** `npm test` starts the services; `npm run test:unit` has none and skips this file. */
const NEEDS_SERVICES = process.env.KAFKA_BROKERS && process.env.CASSANDRA_CONTACT ? false : 'needs KAFKA_BROKERS and CASSANDRA_CONTACT (scripts/services/services.sh)'

const DEVICES = 2
const PER_DEVICE = 600
const HUBS = ['ward-a', 'ward-b'] as const

describe('cloud: two hubs into one cloud tier', { skip: NEEDS_SERVICES }, () => {
  let cloud: CloudSetup
  const agents: AgentHandle[] = []

  before(async () => {
    cloud = await setupCloud('cloud-hubs', 3)
    cloud.startWriter()
    for (const id of HUBS) {
      const dir = tempDir(id)
      agents.push(await startAgentProcess({ hub: { id, site: 'test-site', data_dir: join(dir, 'data') }, beds: wardBeds(DEVICES), cloud: { kafka: { brokers: kafkaBrokers(), topics: cloud.agentTopics } } }))
    }
    for (const a of agents) await admitAll(a.http, DEVICES)
  })
  after(async () => {
    for (const a of agents) await a.stop()
    await cloud?.close()
  })

  test('cloud: a multi-hub run keeps hubs apart: exact rows per hub, colliding hub_seq values both kept', async () => {
    const startMs = Date.now() - 3_600_000
    await Promise.all(agents.flatMap((a) => Array.from({ length: DEVICES }, async (_, i) => {
      const c = await connectDevice(a.mqtt, i)
      await publishObservations(c, i, PER_DEVICE, { firstSeq: 1, perMessage: 3, startMs })
      await c.endAsync()
    })))
    const want = HUBS.length * DEVICES * PER_DEVICE
    const table = `${cloud.keyspace}.vitals_by_patient`
    await waitFor(`${want} rows`, async () => (await countRows(cloud.cql, table)) >= want, 120_000, 1000)
    await new Promise((r) => setTimeout(r, 2000))
    const rows = (await cloud.cql.execute(`SELECT hub_id, hub_seq, subject FROM ${table}`, [], { fetchSize: 10_000 })).rows
    assert.equal(rows.length, want)
    const seqs = new Map<string, Set<string>>(HUBS.map((h) => [h, new Set()]))
    const subjects = new Map<string, Set<string>>(HUBS.map((h) => [h, new Set()]))
    for (const r of rows) {
      seqs.get(r.hub_id)!.add(String(r.hub_seq))
      subjects.get(r.hub_id)!.add(r.subject)
    }
    const [a, b] = HUBS.map((h) => seqs.get(h)!)
    assert.equal(a!.size, DEVICES * PER_DEVICE, 'ward-a rows, each hub_seq once')
    assert.equal(b!.size, DEVICES * PER_DEVICE, 'ward-b rows, each hub_seq once')
    const shared = [...a!].filter((s) => b!.has(s)).length
    assert.ok(shared > 0.9 * DEVICES * PER_DEVICE, `${shared} hub_seq values occur in both hubs, and both rows are kept`)
    assert.equal(subjects.get('ward-a')!.size, DEVICES)
    assert.equal([...subjects.get('ward-a')!].filter((s) => subjects.get('ward-b')!.has(s)).length, 0, 'each hub pseudonymizes with its own key')
    // The audit trail is partitioned by hub: each ward finds its own admissions.
    for (const h of HUBS) {
      const audit = await cloud.cql.execute(`SELECT action, subject FROM ${cloud.keyspace}.audit_by_day WHERE hub_id = ? AND day = ?`, [h, new Date().toISOString().slice(0, 10)], { prepare: true })
      const admitted = audit.rows.filter((r) => r.action === 'admission')
      assert.equal(admitted.length, DEVICES, `${h}: ${audit.rows.map((r) => r.action).join(',')}`)
    }
    assert.equal(await countRows(cloud.cql, `${cloud.keyspace}.audit_by_day`) >= 2 * DEVICES, true)
  })
})
