/**
 * Kafka security against a real broker with a SASL_SSL listener (scripts/services, kafka-secure:
 * TLS with client certificates required, SCRAM-SHA-512 users created at format time): the agent
 * configured in YAML with the CA, its client certificate and a SCRAM password file syncs every
 * record; a wrong password or a CA that did not sign the broker certificate gets nothing through.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { after, before, test } from 'node:test'
import { Kafka, logLevel } from 'kafkajs'
import { metricValue, startAgentProcess, tempDir, waitFor } from '../support/agent-process.js'
import { SERVICES_SCRIPT } from '../support/services.js'
import { admitAll, wardBeds } from '../support/ward.js'
import { WardLoad, needsServices, sleep } from './load.js'

const run = promisify(execFile)
let broker = ''
let tls = ''
const topics = { raw_vitals: 'sec-raw-vitals', waveforms: 'sec-waveforms', alert_events: 'sec-alert-events', audit_log: 'sec-audit-log', dead_letter: 'sec-dead-letter' }

function secureKafka(): Kafka {
  const f = (n: string) => readFileSync(join(tls, n), 'utf8')
  return new Kafka({
    clientId: 'test-secure', brokers: [broker], logLevel: logLevel.NOTHING,
    ssl: { rejectUnauthorized: true, ca: [f('ca.pem')], cert: f('client.pem'), key: f('client.key') },
    sasl: { mechanism: 'scram-sha-512', username: f('sasl-user').trim(), password: f('sasl-password').trim() },
  })
}

before(async () => {
  if (needsServices) return
  const t0 = Date.now()
  await run('bash', [SERVICES_SCRIPT, 'start', 'kafka-secure'], { timeout: 150_000 })
  const env = (await run('bash', [SERVICES_SCRIPT, 'env'])).stdout
  broker = /KAFKA_SECURE_BROKERS=(\S+)/.exec(env)![1]!
  tls = /KAFKA_SECURE_TLS_DIR=(\S+)/.exec(env)![1]!
  console.log(`# kafka-secure: SASL_SSL broker ready on ${broker} in ${Date.now() - t0} ms`)
  const admin = secureKafka().admin()
  await admin.connect()
  const existing = new Set(await admin.listTopics())
  await admin.createTopics({ waitForLeaders: true, topics: Object.values(topics).filter((t) => !existing.has(t)).map((topic) => ({ topic, numPartitions: 1 })) })
  await admin.disconnect()
})
after(async () => {
  if (needsServices) return
  await run('bash', [SERVICES_SCRIPT, 'stop', 'kafka-secure'], { timeout: 60_000 }) // 256 MB we do not keep
})

async function highWater(topic: string): Promise<number> {
  const admin = secureKafka().admin()
  await admin.connect()
  const offs = await admin.fetchTopicOffsets(topic)
  await admin.disconnect()
  return offs.reduce((a, p) => a + Number(p.high), 0)
}

function agentKafka(over: { ca_file?: string; password_file?: string } = {}): Record<string, unknown> {
  return {
    // One record per observation (schema_version 1), so that the high watermark counts observations.
    brokers: [broker], topics, observations_per_record: 1,
    ssl: { ca_file: over.ca_file ?? join(tls, 'ca.pem'), cert_file: join(tls, 'client.pem'), key_file: join(tls, 'client.key') },
    sasl: { mechanism: 'scram-sha-512', username: readFileSync(join(tls, 'sasl-user'), 'utf8').trim(), password_file: over.password_file ?? join(tls, 'sasl-password') },
  }
}

test('durability: the agent syncs over TLS with a client certificate and SCRAM-SHA-512 from its YAML', { skip: needsServices }, async () => {
  const before = await highWater(topics.raw_vitals)
  const agent = await startAgentProcess({ beds: wardBeds(2), cloud: { kafka: agentKafka() } })
  try {
    await admitAll(agent.http, 2)
    const load = new WardLoad({ devices: 2, rateHz: 10 })
    await load.start(agent.mqtt)
    await sleep(2000)
    await load.stop()
    await waitFor('outbox drained over SASL_SSL', async () => (await metricValue(agent.http, 'bedside_outbox_depth')) === 0, 30_000, 250)
    const landed = (await highWater(topics.raw_vitals)) - before
    console.log(`# kafka-secure: ${load.ackedObservations} observations acknowledged, ${landed} in the topic over SASL_SSL`)
    assert.equal(landed, load.ackedObservations)
  } finally {
    await agent.stop()
  }
})

test('durability: a wrong SCRAM password or an unknown CA gets no record through, and the failure is reported', { skip: needsServices }, async () => {
  const dir = tempDir('badsec')
  writeFileSync(join(dir, 'wrong-password'), 'not-the-password\n', { mode: 0o600 })
  // A CA of our own making that never signed the broker: TLS verification must refuse the broker.
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'other.key'), '-out', join(dir, 'other-ca.pem'), '-days', '1', '-subj', '/CN=other-ca'])
  for (const [what, over] of [['wrong password', { password_file: join(dir, 'wrong-password') }], ['unknown CA', { ca_file: join(dir, 'other-ca.pem') }]] as const) {
    const before = await highWater(topics.raw_vitals)
    const agent = await startAgentProcess({ beds: wardBeds(1), cloud: { kafka: agentKafka(over) } })
    try {
      await admitAll(agent.http, 1)
      const load = new WardLoad({ devices: 1, rateHz: 10 })
      await load.start(agent.mqtt)
      await sleep(1000)
      await load.stop()
      await waitFor(`sync errors with a ${what}`, async () => (await metricValue(agent.http, 'bedside_sync_errors_total')) > 0, 20_000, 250)
      const status = await (await fetch(`${agent.http}/api/status`, { headers: { authorization: 'Bearer test-viewer-token' } })).json() as { sync: { lastError: { message: string } | null } }
      console.log(`# kafka-secure, ${what}: refused (${status.sync.lastError?.message ?? 'no message'})`)
      assert.equal(await metricValue(agent.http, 'bedside_sync_up'), 0)
      await waitFor('everything to stay queued (the depth gauge refreshes every 2 s)', async () => (await metricValue(agent.http, 'bedside_outbox_depth')) >= load.ackedObservations, 10_000, 250)
      assert.equal((await highWater(topics.raw_vitals)) - before, 0)
    } finally {
      await agent.stop()
    }
  }
})
