/**
 * The crash loop of crash.test.ts and crash-runs.test.ts: a ward publishing over MQTT QoS 1 while
 * the agent is killed with SIGKILL at random moments and restarted each time. The devices behave
 * like real MQTT clients: after each reconnect they re-send, with DUP, every message whose PUBACK
 * they did not get (load.ts). Afterwards every acknowledged observation is in the store and in
 * Cassandra exactly once, and the store passes PRAGMA integrity_check.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import Database from 'better-sqlite3'
import { startAgentProcess, type AgentHandle } from '../support/agent-process.js'
import { setupCloud, type CloudSetup } from '../support/cloud-process.js'
import { kafkaBrokers } from '../support/services.js'
import { admitAll, wardBeds } from '../support/ward.js'
import { WardLoad, needsServices, sleep } from './load.js'
import { checkExactlyOnce, kafkaDuplicates, storeExactness, waitDrained } from './verify.js'

export interface CrashLoopOptions {
  /** Cloud topic and keyspace prefix. */
  readonly name: string
  readonly title: string
  readonly beds: number
  readonly kills: number
  /** Observations per device message (load.ts default when absent). */
  readonly perMessage?: number
  readonly observationRuns: 'off' | 'per-message'
  /**
   * Require that the kills left messages the devices re-sent with DUP (default true). The 32-bed
   * run-row loop of 8 kills left none in one CI rehearsal; crash.test.ts (64 beds, 20 kills)
   * asserts the re-send path, and every other check here holds either way.
   */
  readonly requireResends?: boolean
  /** Extra checks of the stopped agent's store (opened read-only). */
  readonly checkStore?: (db: Database.Database) => void
}

/** Registers the loop as a test of the calling file, with its own cloud topics and keyspace. */
export function crashLoopTest(o: CrashLoopOptions): void {
  let cloud: CloudSetup
  let agent: AgentHandle

  before(async () => {
    if (needsServices) return
    cloud = await setupCloud(o.name)
    cloud.startWriter()
  })
  after(async () => {
    if (needsServices) return
    await agent?.stop()
    await cloud?.close()
  })

  test(o.title, { skip: needsServices }, async () => {
    const config = { beds: wardBeds(o.beds), store: { observation_runs: o.observationRuns }, cloud: { kafka: { brokers: kafkaBrokers(), topics: cloud.agentTopics } } }
    agent = await startAgentProcess(config)
    const where = { dir: agent.dir, httpPort: Number(new URL(agent.http).port), mqttPort: Number(new URL(agent.mqtt).port) }
    await admitAll(agent.http, o.beds)
    const load = new WardLoad({ devices: o.beds, rateHz: 2, ...(o.perMessage ? { perMessage: o.perMessage } : {}) })
    const label = `crash loop${o.observationRuns === 'per-message' ? ' (run rows)' : ''}`
    const t0 = Date.now()
    let restartMs = 0
    for (let k = 0; k < o.kills; k++) {
      await load.start(agent.mqtt)
      await sleep(500 + Math.random() * 2500)
      // Frozen for 100 ms first: the messages the ward sends meanwhile are in flight, unacknowledged,
      // when the SIGKILL comes, so every round leaves re-sends for the restarted agent (the random
      // moment of the kill alone left none in some runs); a message the agent committed and did not
      // acknowledge yet is the other case the random moment still hits.
      agent.proc.kill('SIGSTOP')
      await sleep(100)
      await agent.kill()
      await load.stop()
      const r0 = Date.now()
      agent = await startAgentProcess(config, where)
      restartMs += Date.now() - r0
    }
    await load.start(agent.mqtt)
    await sleep(1000)
    await load.stop()
    await waitDrained(agent.http, cloud, 180_000)
    const ex = await checkExactlyOnce(cloud.cql, cloud.keyspace, load)
    const kd = await kafkaDuplicates(cloud)
    console.log(`# ${label}: ${o.kills} kills in ${((Date.now() - t0) / 1000).toFixed(0)} s (mean restart to /healthz ${(restartMs / o.kills).toFixed(0)} ms); ${load.published * load.perMessage} observations published, ${load.resent} messages re-sent with DUP after reconnects, ${ex.acked} acknowledged, ${ex.rows} rows in Cassandra, ${ex.missing} acknowledged missing, ${ex.doubled} doubled; Kafka held ${kd.messages} messages for ${kd.distinct} distinct (hub_id, hub_seq) (${kd.messages - kd.distinct} duplicates from crashes, removed by the writer)`)
    assert.equal(ex.missing, 0, 'every acknowledged observation is in Cassandra')
    assert.equal(ex.doubled, 0, 'none is there twice')
    assert.equal(ex.unknown, 0)
    assert.ok(ex.rows >= ex.acked && ex.rows <= load.published * load.perMessage, 'unacknowledged-but-committed records may land, nothing else')
    if (o.requireResends !== false) assert.ok(load.resent > 0, 'the kills left unacknowledged messages that the devices re-sent')
    await agent.stop()
    const db = new Database(join(agent.dir, 'data', 'bedside.db'), { readonly: true })
    try {
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok')
      o.checkStore?.(db)
      const store = storeExactness(db, load)
      console.log(`# ${label}, local store: ${store.acked} acknowledged messages, ${store.missing} missing, ${store.doubled} stored more than once`)
      assert.equal(store.missing, 0, 'every acknowledged message is in the store')
      assert.equal(store.doubled, 0, 'no message is in the store twice')
    } finally {
      db.close()
    }
  })
}
