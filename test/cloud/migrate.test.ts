/**
 * `bedside-hub cloud migrate` on the real Cassandra and Kafka: versioned and idempotent (a second
 * run applies nothing), and a database at an older version gets exactly the missing migrations.
 * Also the CLI's refusals.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { MIGRATIONS } from '../../cloud/schema.js'
import { spawnCli } from '../support/agent-process.js'
import { setupCloud, type CloudSetup } from '../support/cloud-process.js'

/** `npm test` starts the services; `npm run test:unit` has none and skips this file. */
const NEEDS_SERVICES = process.env.KAFKA_BROKERS && process.env.CASSANDRA_CONTACT ? false : 'needs KAFKA_BROKERS and CASSANDRA_CONTACT (scripts/services/services.sh)'

async function migrate(configFile: string): Promise<string> {
  const m = spawnCli(['cloud', 'migrate', '--config', configFile])
  assert.equal(await m.exited, 0, m.output())
  return m.output()
}

describe('cloud: migrate', { skip: NEEDS_SERVICES }, () => {
  let cloud: CloudSetup
  before(async () => {
    cloud = await setupCloud('cloud-migrate', 1) // runs migrate once
  })
  after(async () => {
    await cloud?.close()
  })

  test('cloud: a second migrate applies nothing and creates no topic', async () => {
    assert.match(await migrate(cloud.configFile), /migrated: CQL versions \[\] applied, topics created \[\]/)
    const r = await cloud.cql.execute(`SELECT version FROM ${cloud.keyspace}.schema_migrations`)
    assert.deepEqual(r.rows.map((x) => x.version as number).sort(), MIGRATIONS.map((m) => m.version))
  })

  test('cloud: a keyspace at version 1 gets exactly migration 2', async () => {
    await cloud.cql.execute(`DROP TABLE ${cloud.keyspace}.alerts_by_hub_day`)
    await cloud.cql.execute(`DELETE FROM ${cloud.keyspace}.schema_migrations WHERE version = 2`)
    assert.match(await migrate(cloud.configFile), /CQL versions \[2\] applied/)
    const t = await cloud.cql.execute('SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?', [cloud.keyspace], { prepare: true })
    assert.deepEqual(t.rows.map((x) => x.table_name as string).sort(), ['alerts_by_hub_day', 'alerts_by_patient', 'audit_by_day', 'schema_migrations', 'vitals_by_patient', 'waveforms_by_patient'])
  })
})

describe('cloud: CLI refusals', () => {
  test('cloud: an unknown subcommand prints the usage and exits 2', async () => {
    const c = spawnCli(['cloud', 'drop-everything'])
    assert.equal(await c.exited, 2)
    assert.match(c.output(), /usage: bedside-hub cloud migrate\|run/)
  })
  test('cloud: a config without Cassandra exits 2 naming what is missing', async () => {
    const c = spawnCli(['cloud', 'run', '--kafka', '127.0.0.1:1'])
    assert.equal(await c.exited, 2)
    assert.match(c.output(), /cassandra.*(Required|contact_points)/s)
  })
})
