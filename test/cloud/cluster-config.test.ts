/**
 * The cluster settings of the writer's config (issue 22): keyspace replication per data centre as
 * NetworkTopologyStrategy, write consistency, speculative execution; defaults keep single-node.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseCloudConfig, replicationOf } from '../../cloud/config.js'
import { consistencyOf } from '../../cloud/sink.js'
import cassandra from 'cassandra-driver'

const base = { kafka: { brokers: ['127.0.0.1:1'] }, cassandra: { contact_points: ['127.0.0.1:2'] } }

test('cluster config: defaults stay single-node (SimpleStrategy RF 1) and write at LOCAL_QUORUM', () => {
  const c = parseCloudConfig(base, 't')
  assert.equal(replicationOf(c.cassandra), "{'class': 'SimpleStrategy', 'replication_factor': 1}")
  assert.equal(consistencyOf(c.cassandra.consistency), cassandra.types.consistencies.localQuorum)
  assert.equal(c.kafka.min_insync_replicas, undefined)
  assert.equal(c.cassandra.speculative_delay_ms, 500)
})

test('cluster config: datacenters become NetworkTopologyStrategy with a factor per data centre', () => {
  const c = parseCloudConfig({ ...base, cassandra: { ...base.cassandra, datacenters: { dc1: 3, dc2: 2 } } }, 't')
  assert.equal(replicationOf(c.cassandra), "{'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 2}")
})

test('cluster config: replication and datacenters together are refused, naming the key', () => {
  assert.throws(() => parseCloudConfig({ ...base, cassandra: { ...base.cassandra, replication: "{'class': 'SimpleStrategy', 'replication_factor': 1}", datacenters: { dc1: 3 } } }, 'c.yaml'), /c\.yaml[\s\S]*cassandra\.datacenters: set either replication or datacenters, not both/)
})

test('cluster config: an unknown consistency level is refused with its path', () => {
  assert.throws(() => parseCloudConfig({ ...base, cassandra: { ...base.cassandra, consistency: 'two' } }, 'c.yaml'), /cassandra\.consistency/)
})

test('cluster config: a data centre name that could break the CQL map is refused', () => {
  assert.throws(() => parseCloudConfig({ ...base, cassandra: { ...base.cassandra, datacenters: { "dc1': 3}; DROP": 3 } } }, 'c.yaml'), /cassandra\.datacenters/)
})

test('cluster config: the contact points\' CQL port is the port of every discovered node (the driver would try 9042)', async () => {
  const { createCqlClient } = await import('../../cloud/sink.js')
  const portOf = (contact_points: string[]) => (createCqlClient(parseCloudConfig({ ...base, cassandra: { contact_points } }, 't')) as unknown as { options: { protocolOptions: { port: number } } }).options.protocolOptions.port
  assert.equal(portOf(['127.0.0.1:19042', '127.0.0.2:19042']), 19042)
  assert.equal(portOf(['[::1]:19043']), 19043)
  assert.equal(portOf(['cassandra.local']), 9042, 'no port named: the driver default')
  assert.throws(() => parseCloudConfig({ ...base, cassandra: { contact_points: ['127.0.0.1:19042', '127.0.0.2:9042'] } }, 'c.yaml'), /cassandra\.contact_points[\s\S]*same CQL port/)
})

test('cluster config: a node that was down is tried again within 10 s, not after the driver\'s 10-minute back-off', async () => {
  const { createCqlClient, RECONNECT_MAX_MS } = await import('../../cloud/sink.js')
  const client = createCqlClient(parseCloudConfig(base, 't')) as unknown as { options: { policies: { reconnection: { newSchedule(): Iterator<number> } } } }
  const schedule = client.options.policies.reconnection.newSchedule()
  const delays = Array.from({ length: 30 }, () => schedule.next().value as number)
  assert.ok(Math.max(...delays) <= RECONNECT_MAX_MS, `delays: ${delays.join(', ')}`)
  assert.ok(RECONNECT_MAX_MS <= 10_000)
})
