/**
 * The writer through the long outages of issue 22's cluster faults.
 *
 * 1. When kafkajs gives up on its consumer. Found by the 600 s whole-cloud outage
 * of test/cluster/faults.test.ts: about 45 s in, each of the three writers' consumers crashed with
 * "Broker not connected", an Error kafkajs does not count as retriable, so kafkajs did not restart
 * it; the writers exited (waiting for a supervisor the fleet does not have) and the records of the
 * outage were never written.
 *
 * That error comes from a race inside kafkajs (a request on a broker whose connection never
 * finished), which no fault reproduces on demand, so this test does what kafkajs does then
 * (consumer/index.js onCrash: disconnect the consumer, emit CRASH with restart false) against a
 * real Kafka and Cassandra, and checks that the writer starts a new consumer by itself, rejoins,
 * and writes every record sent before, during and after, exactly once. The fleet's outage phase
 * (npm run test:cluster) covers the real thing.
 *
 * 2. A batch whose writes outlast the group's session timeout (Cassandra hung with SIGSTOP while
 *    the batch is written): the writer keeps heartbeating, so it stays in the group and commits
 *    the batch once, instead of being evicted, refused and made to write it again (the same 600 s
 *    outage: catching up, the writers were evicted over and over and never caught up).
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type cassandra from 'cassandra-driver'
import type { Consumer, Kafka, Producer } from 'kafkajs'
import { pino } from 'pino'
import { loadCloudConfig } from '../../cloud/config.js'
import { createWriterKafka } from '../../cloud/kafka.js'
import { createCqlClient } from '../../cloud/sink.js'
import { CloudWriter } from '../../cloud/writer.js'
import { waitFor } from '../support/agent-process.js'
import { countRows, produceRecords, setupCloud, testKafka, type CloudSetup } from '../support/cloud-process.js'
import { cassandraPid } from '../support/services.js'
import { observationRecords } from './envelopes.js'

const NEEDS_SERVICES = process.env.KAFKA_BROKERS && process.env.CASSANDRA_CONTACT ? false : 'needs KAFKA_BROKERS and CASSANDRA_CONTACT (scripts/services/services.sh)'

/** The writer's private consumer and crash handler, as kafkajs reaches them. */
interface WriterInside { consumer: Consumer; onCrash(consumer: Consumer, error: Error, restart: boolean): void }

describe('cloud: a consumer kafkajs gives up on', { skip: NEEDS_SERVICES }, () => {
  let cloud: CloudSetup
  let kafka: Kafka
  let producer: Producer
  let writer: CloudWriter
  let writerCql: cassandra.Client
  const lines: string[] = []

  before(async () => {
    cloud = await setupCloud('cloud-giveup', 2)
    kafka = testKafka()
    producer = kafka.producer()
    await producer.connect()
    const cfg = loadCloudConfig(cloud.configFile)
    const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(s) })
    writerCql = createCqlClient(cfg)
    writer = new CloudWriter(createWriterKafka(cfg.kafka.brokers, 'test-giveup', log), writerCql, cfg, log)
    await writer.start()
    await waitFor('writer joined', async () => writer.ready().ok, 60_000, 250)
  })
  after(async () => {
    await writer?.stop()
    await writerCql?.shutdown()
    await producer?.disconnect()
    await cloud?.close()
  })

  test('cloud: the writer replaces the consumer and writes everything once', async () => {
    const t0 = Date.now() - 3_600_000
    const table = `${cloud.keyspace}.vitals_by_patient`
    await produceRecords(producer, cloud.agentTopics.raw_vitals, observationRecords('hub-giveup', 40, 4, t0, 1, 'p-giveup-'))
    await waitFor('the first 40 rows', async () => (await countRows(cloud.cql, table)) === 40, 60_000, 250)

    // kafkajs on a non-retriable error: the consumer disconnects, then CRASH with restart false.
    const inside = writer as unknown as WriterInside
    const gaveUp = inside.consumer
    await gaveUp.disconnect()
    inside.onCrash(gaveUp, new Error('Broker not connected'), false)
    assert.equal(writer.ready().ok, false, 'not ready while the consumer is being replaced')
    assert.equal(writer.live().ok, true, 'alive: the process must not wait for a supervisor')
    await produceRecords(producer, cloud.agentTopics.raw_vitals, observationRecords('hub-giveup', 40, 4, t0 + 60_000, 41, 'p-giveup-'))

    await waitFor('all 80 rows', async () => (await countRows(cloud.cql, table)) >= 80, 120_000, 500)
    await waitFor('writer ready again', async () => writer.ready().ok, 60_000, 250)
    assert.notEqual(inside.consumer, gaveUp, 'a new consumer')
    assert.equal(await countRows(cloud.cql, table), 80, 'every record once')
    assert.ok(lines.some((l) => l.includes('"event":"consumer_restarted"')), 'the restart is logged')
    assert.match(await writer.metrics.registry.metrics(), /^bedside_cloud_consumer_restarts_total 1$/m, 'and counted')
    // A late event of the replaced consumer changes nothing.
    inside.onCrash(gaveUp, new Error('late'), false)
    assert.equal(writer.ready().ok, true)
  })

  test('cloud: a batch written longer than the session timeout keeps the writer in its group', async () => {
    const t0 = Date.now() - 2 * 3_600_000
    const table = `${cloud.keyspace}.vitals_by_patient`
    const before = await countRows(cloud.cql, table)
    const joins = () => lines.filter((l) => l.includes('"event":"group_joined"')).length
    const joined = joins()
    const pid = await cassandraPid()
    process.kill(pid, 'SIGSTOP')
    try {
      await produceRecords(producer, cloud.agentTopics.raw_vitals, observationRecords('hub-giveup', 40, 4, t0, 1001, 'p-slow-'))
      // The writer fetches the batch and its writes hang; 15 s is 2.5 session timeouts (6 s).
      await new Promise((r) => setTimeout(r, 15_000))
    } finally {
      process.kill(pid, 'SIGCONT')
    }
    await waitFor('the 40 rows written while Cassandra hung', async () => (await countRows(cloud.cql, table)) === before + 40, 120_000, 500)
    await new Promise((r) => setTimeout(r, 2000)) // a rejoin would show within a heartbeat or two
    assert.equal(joins(), joined, `the writer left and rejoined its group:\n${lines.filter((l) => /group|member|rebalanc/i.test(l)).slice(-5).join('')}`)
    assert.equal(writer.ready().ok, true)
  })
})
