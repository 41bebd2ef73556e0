/**
 * The cloud tier as a cluster under faults (issue 22), with a fleet of wards sending throughout:
 * 16 agents (8 beds with a monitor each, 2 ECG patches), 3 writers in one group, Kafka RF 3 /
 * min.insync.replicas 2, Cassandra RF 3 at LOCAL_QUORUM (bench/fleet.ts).
 *
 * Each fault runs while the fleet sends; then the devices pause, everything drains, and the check
 * counts per hub: acknowledged device messages, records stored, missing from Cassandra, duplicated
 * there (by (hub_id, hub_seq)), and acknowledged but not stored. "Recover" is the time from the end
 * of the fault (node back) until the agents' outboxes and the group's lag are both back under two
 * seconds of the fleet's traffic. p99 is the hub-receive → row-written age over the phase.
 *
 * Run by `npm run test:cluster` (scripts/test-cluster.sh starts the cluster and exports
 * CLUSTER_*); skipped without it. CLUSTER_OUTAGE_S sets the whole-cloud outage (600 in the full
 * target, 60 in the reduced one), FLEET_AGENTS the number of agents (16).
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { bucketDiff, clusterFromEnv, Fleet, quantileOf, rowsWritten, rssMb, type FleetCheck } from '../../bench/fleet.js'
import { SERVICES_SCRIPT } from '../support/services.js'
import { waitFor } from '../support/agent-process.js'

const run = promisify(execFile)
const cluster = clusterFromEnv()
const STATE = process.env.CLUSTER_STATE_DIR ?? ''
const OUTAGE_S = Number(process.env.CLUSTER_OUTAGE_S ?? 60)
const AGENTS = Number(process.env.FLEET_AGENTS ?? 16)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const services = async (...args: string[]) => (await run('bash', [SERVICES_SCRIPT, ...args], { timeout: 400_000, maxBuffer: 8 << 20 })).stdout
const pidOf = (node: string) => Number(readFileSync(join(STATE, node, `${node}.pid`), 'utf8').trim())
const signal = (node: string, sig: NodeJS.Signals) => process.kill(pidOf(node), sig)

interface Row { fault: string; check: FleetCheck; recoverS: number; faultS: number; p99S: number; rowsPerS: number; note: string }
const table: Row[] = []

/** Counts are cumulative over the run (one fleet throughout); `+n` is what this phase added. */
function printRow(r: Row): void {
  const prev = table[table.indexOf(r) - 1]?.check
  const d = (k: 'acked' | 'stored' | 'missing' | 'duplicate' | 'notStored') => `${r.check[k]} (+${r.check[k] - (prev?.[k] ?? 0)})`
  console.log(`# fault | ${r.fault} | acknowledged ${d('acked')} | stored ${d('stored')} | missing ${d('missing')} | duplicate ${d('duplicate')} | acked-not-stored ${d('notStored')} | fault ${r.faultS.toFixed(0)} s | recover ${r.recoverS.toFixed(1)} s | p99 ≤ ${r.p99S} s | ${r.rowsPerS.toFixed(0)} rows/s | ${r.note}`)
}

describe('cluster: faults with a fleet of wards', { skip: cluster ? false : 'needs the cluster (npm run test:cluster, or services.sh start cluster; eval "$(services.sh env cluster)")' }, () => {
  let fleet: Fleet
  /** Records per second the fleet makes (from the baseline), for the recovery threshold. */
  let rate = 0

  before(async () => {
    fleet = new Fleet({ agents: AGENTS, beds: 8, patches: 2, writers: 3, ...cluster! })
    const t0 = Date.now()
    await fleet.start()
    console.log(`# fleet: ${AGENTS} agents, ${fleet.messageRate} device messages/s, 3 writers, started in ${((Date.now() - t0) / 1000).toFixed(0)} s`)
    await sleep(15_000) // warm-up: group joined, producers connected
  })

  after(async () => {
    for (const r of table) printRow(r)
    await fleet?.stop()
    await fleet?.cleanup().catch(() => undefined)
  })

  /** Runs `fault` with the fleet sending, waits for recovery, then drains and checks. */
  async function phase(name: string, fault: () => Promise<string>): Promise<Row> {
    const b0 = await fleet.eventAgeBuckets()
    const r0 = await rowsWritten(fleet)
    const t0 = Date.now()
    const note = await fault()
    const tEnd = Date.now()
    // Without the baseline (a phase run alone): about 4.4 records per device message (fleet baseline).
    const threshold = Math.max(50, 2 * (rate || 5 * fleet.messageRate))
    try {
      await waitFor(`${name}: recovered`, async () => {
        const [outbox, lag] = await Promise.all([fleet.outboxDepth(), fleet.groupLag().catch(() => Infinity)])
        return outbox <= threshold && lag <= threshold
      }, 600_000, 500)
    } catch (err) {
      // What the writers said is the first thing to read when the cloud does not catch up.
      for (const w of fleet.writers) console.log(`# writer on ${w.httpPort}:\n${w.output().slice(-3000)}`)
      throw err
    }
    const recoverS = (Date.now() - tEnd) / 1000
    const rowsPerS = ((await rowsWritten(fleet)) - r0) / ((Date.now() - t0) / 1000)
    const p99S = quantileOf(bucketDiff(await fleet.eventAgeBuckets(), b0), 0.99)
    fleet.pause()
    await fleet.drain(600_000)
    const check = await fleet.check()
    fleet.resume()
    const row = { fault: name, check, recoverS, faultS: (tEnd - t0) / 1000, p99S, rowsPerS, note }
    table.push(row)
    printRow(row)
    return row
  }

  /** Judges the phase on what it added (the counts are cumulative: one fleet throughout). */
  const exact = (r: Row) => {
    const prev = table[table.indexOf(r) - 1]?.check ?? { acked: 0, stored: 0, missing: 0, duplicate: 0, notStored: 0 }
    assert.equal(r.check.notStored - prev.notStored, 0, `${r.fault}: acknowledged messages missing from the agents' stores`)
    assert.equal(r.check.missing - prev.missing, 0, `${r.fault}: records missing from Cassandra: ${JSON.stringify(r.check.hubs.filter((h) => h.missing > 0).map((h) => [h.hub, h.missing, h.missingSample]))}`)
    assert.equal(r.check.duplicate - prev.duplicate, 0, `${r.fault}: duplicates in Cassandra`)
    assert.ok(r.check.acked > prev.acked && r.check.stored > prev.stored, 'the fleet sent nothing during the phase')
  }

  test('cluster: baseline, no fault (throughput and p99)', async () => {
    const r = await phase('none (60 s)', async () => {
      const r0 = await rowsWritten(fleet)
      await sleep(60_000)
      rate = ((await rowsWritten(fleet)) - r0) / 60
      return `${rate.toFixed(0)} records/s`
    })
    exact(r)
  })

  test('cluster: the leader of a raw-vitals partition SIGKILLed, restarted after 20 s', async () => {
    exact(await phase('partition leader broker SIGKILL + restart', async () => {
      const admin = fleet.kafka.admin()
      await admin.connect()
      const md = await admin.fetchTopicMetadata({ topics: [fleet.topics.raw_vitals] })
      await admin.disconnect()
      const leader = md.topics[0]!.partitions.find((p) => p.partitionId === 0)!.leader
      signal(`cluster-kafka-${leader}`, 'SIGKILL')
      await sleep(20_000)
      await services('start', `cluster-kafka-${leader}`)
      return `broker ${leader} killed`
    }))
  })

  test('cluster: rolling restart of each broker', async () => {
    exact(await phase('rolling restart of the 3 brokers', async () => {
      const admin = fleet.kafka.admin()
      await admin.connect()
      try {
        for (const n of [1, 2, 3]) {
          await services('stop', `cluster-kafka-${n}`)
          await services('start', `cluster-kafka-${n}`)
          // The next broker only once every partition is fully in sync again (as an operator would).
          await waitFor(`broker ${n} back in every ISR`, async () => {
            const md = await admin.fetchTopicMetadata({ topics: Object.values(fleet.topics) })
            return md.topics.every((t) => t.partitions.every((p) => p.isr.length === 3))
          }, 180_000, 1000)
        }
      } finally {
        await admin.disconnect()
      }
      return 'SIGTERM, start, wait for full ISR'
    }))
  })

  test('cluster: a Cassandra node SIGKILLed mid-write, back after 30 s, then repaired', async () => {
    let repairS = 0
    let down: number[] = []
    const r = await phase('Cassandra node SIGKILL + restart + repair', async () => {
      signal('cluster-cassandra-2', 'SIGKILL')
      await sleep(30_000)
      // The writers noticed: each holds pools to the two live nodes only, and still writes.
      down = await fleet.writerCqlHosts()
      await services('start', 'cluster-cassandra-2')
      // Back: every writer reconnects to it (RECONNECT_MAX_MS caps the wait), rather than writing
      // through two coordinators for the rest of its life.
      await waitFor('writers reconnected to 127.0.0.2', async () => (await fleet.writerCqlHosts()).every((n) => n === 3), 120_000, 1000)
      const t = Date.now()
      await services('nodetool', '2', 'repair', fleet.keyspace)
      repairS = (Date.now() - t) / 1000
      return `node 127.0.0.2; writers' cqlHosts while down ${down.join('/')}, 3 after; hints replayed on return, nodetool repair ${repairS.toFixed(0)} s`
    })
    exact(r)
    assert.ok(down.every((n) => n === 2), `writers' Cassandra pools while 127.0.0.2 was down: ${down.join(', ')} (2 each expected)`)
  })

  test('cluster: a Cassandra node paused (SIGSTOP) for 60 s', async () => {
    exact(await phase('Cassandra node SIGSTOP 60 s', async () => {
      signal('cluster-cassandra-3', 'SIGSTOP')
      let hung: number[] = []
      try {
        await sleep(60_000)
        hung = await fleet.writerCqlHosts() // a hung node keeps its TCP sockets open: the pool may stay
      } finally {
        signal('cluster-cassandra-3', 'SIGCONT')
      }
      return `node 127.0.0.3 hung; writers' cqlHosts during the pause ${hung.join('/')}`
    }))
    // After the drain (so the recovery time above is not the reconnection's): all 3 nodes in use.
    await waitFor('writers connected to all 3 nodes', async () => (await fleet.writerCqlHosts()).every((n) => n === 3), 120_000, 1000)
  })

  test('cluster: a writer SIGKILLed during a rebalance', async () => {
    exact(await phase('writer SIGKILL during rebalance', async () => {
      const victim = fleet.writers.find((w) => w.proc.exitCode === null && w.proc.signalCode === null)!
      const joining = fleet.startWriter() // a 4th member: the group rebalances
      await sleep(1500)
      victim.proc.kill('SIGKILL')
      await joining
      await sleep(15_000) // the coordinator notices the dead member after session_timeout (10 s)
      return 'a 4th writer joins, one of the 3 is killed 1.5 s later'
    }))
  })

  test(`cluster: the whole cloud unreachable for ${OUTAGE_S} s, then back`, async () => {
    const nodes = ['cluster-kafka-1', 'cluster-kafka-2', 'cluster-kafka-3', 'cluster-cassandra-1', 'cluster-cassandra-2', 'cluster-cassandra-3']
    const rss: number[][] = []
    const r = await phase(`whole cloud unreachable ${OUTAGE_S} s`, async () => {
      const sample = () => rss.push(fleet.wards.map((w) => rssMb(w.agent.proc.pid!)))
      sample()
      for (const n of nodes) signal(n, 'SIGSTOP')
      try {
        for (let s = 0; s < OUTAGE_S; s += 10) {
          await sleep(Math.min(10, OUTAGE_S - s) * 1000)
          sample()
        }
      } finally {
        for (const n of nodes) signal(n, 'SIGCONT')
      }
      const outbox = await fleet.outboxDepth()
      const first = rss[1]! // after the first 10 s of outage: the producer's retry state is in place
      const growth = Math.max(...rss[rss.length - 1]!.map((mb, i) => mb - first[i]!))
      return `outbox ${outbox} records at the end; agent RSS ${Math.min(...rss[0]!).toFixed(0)}–${Math.max(...rss[0]!).toFixed(0)} MB before, max growth over the outage ${growth.toFixed(1)} MB`
    })
    exact(r)
    const first = rss[1]!
    const last = rss[rss.length - 1]!
    for (let i = 0; i < first.length; i++) assert.ok(last[i]! - first[i]! < 40, `agent ${i}: RSS grew from ${first[i]!.toFixed(0)} to ${last[i]!.toFixed(0)} MB during the outage (the queue must grow on disk)`)
  })
})
