/**
 * Identity fixed at ingest (issue 17): a record's device identity is the one the device had when
 * the record was accepted. A backlog still queued when the device reports a new serial, when the
 * operator changes its configured serial, or when it is unpaired, syncs under the pseudonyms it had.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { parseConfig } from '../../agent/config.js'
import { DeviceRegistry } from '../../agent/pipeline/devices.js'
import { Admissions } from '../../agent/store/admissions.js'
import { GroupCommitter, RecordKind } from '../../agent/store/commit.js'
import { openDatabase, type Db } from '../../agent/store/db.js'
import { DeviceIdentities } from '../../agent/store/device-identities.js'
import { Outbox } from '../../agent/store/outbox.js'
import { EnvelopeEncoder } from '../../agent/sync/envelope.js'
import { Pseudonymizer } from '../../agent/sync/pseudonym.js'
import { decodeEnvelope } from '../../proto/codec.js'
import { tempDir } from '../support/agent-process.js'

const beds = (monSerial: string) => [{ id: 'b1', devices: [{ id: 'mon-1', type: 'mqtt', secret: 'secret-secret', ...(monSerial ? { serial: monSerial } : {}) }, { id: 'hrs-1', type: 'ble-hrs', address: 'a0:9e:1a:00:00:09' }] }]

/** What the agent wires: a registry whose identity changes are recorded at the next hub_seq. */
function open(dir: string, monSerial: string): { db: Db; committer: GroupCommitter; devices: DeviceRegistry; identities: DeviceIdentities } {
  const db = openDatabase(dir)
  const committer = new GroupCommitter(db, { intervalMs: 1000, maxRecords: 100 })
  const identities = new DeviceIdentities(db)
  const cfg = parseConfig({ hub: { id: 'id-hub', site: 's', data_dir: dir }, beds: beds(monSerial) })
  const devices = new DeviceRegistry(cfg.beds, { knownSerial: (id) => identities.reportedSerial(id), onIdentity: (d, reported) => identities.record(d.id, d.identity, committer.peekHubSeq, reported), onRemove: (id) => identities.forgetReported(id) })
  return { db, committer, devices, identities }
}

const obs = (c: GroupCommitter, deviceId: string) => c.appendRecord(RecordKind.OBSERVATION, 'b1', deviceId, null, 147842, 70, '/min', Date.now(), Date.now(), 1, 0, null)

test('identity: a queued backlog keeps the device pseudonyms it was accepted under', () => {
  const dir = join(tempDir('identity'), 'data')
  let s = open(dir, 'SN-A-0001')
  const before = [obs(s.committer, 'mon-1'), obs(s.committer, 'hrs-1')]
  s.devices.identify('hrs-1', 'SN-HRS-77') // BLE Device Information 0x2A25, read on connect
  s.devices.identify('mon-1', 'SN-IGNORED') // a configured serial is the operator's word
  const afterSerial = obs(s.committer, 'hrs-1')
  s.committer.close()
  s.db.close()
  // Restart with the monitor's configured serial changed, then unpair the BLE sensor.
  s = open(dir, 'SN-C-0002')
  const afterConfig = obs(s.committer, 'mon-1')
  s.devices.remove('hrs-1')
  s.committer.close()

  const pseudonyms = Pseudonymizer.open(dir, 's', Date.now())
  const encoder = new EnvelopeEncoder('id-hub', new Admissions(s.db), s.devices, pseudonyms, s.identities)
  const bySeq = new Map(new Outbox(s.db).read(100).map((r) => [r[0], decodeEnvelope(encoder.encode(r).value)]))
  const device = (seq: number) => bySeq.get(seq)!.observation!.device
  const expect = (identity: string) => pseudonyms.pseudonym('device', identity)
  assert.equal(device(before[0]!), expect('SN-A-0001'), 'the monitor under its serial at the time')
  assert.equal(device(before[1]!), expect('hrs-1'), 'the sensor under its id before it told its serial')
  assert.equal(device(afterSerial), expect('SN-HRS-77'), 'then under the serial it reported, although unpaired since')
  assert.equal(device(afterConfig), expect('SN-C-0002'), 'the new configured serial only from the restart on')
  // Issue 24: nobody admitted, so the subject is the bed (its readings and alarms keyed alike); the device stays in the observation.
  assert.equal(bySeq.get(afterSerial)!.subject, `id-hub/${bySeq.get(afterSerial)!.bedId}`, 'the Kafka key (subject) is the bed')
  // Serials are sealed at rest (issue 18): the history table holds none in clear.
  const raw = s.db.prepare('SELECT identity FROM device_identities').raw().all() as [Buffer][]
  assert.equal(raw.length, 4)
  assert.ok(raw.every(([b]) => !b.toString('latin1').includes('SN-')))
  s.db.close()
})

test('identity: a backlog older than the history keeps the identity in force at start; only serials the device told survive a restart, until it is unpaired', () => {
  const dir = join(tempDir('identity-old'), 'data')
  // A record written before this history existed (an upgrade with a queued backlog).
  const db = openDatabase(dir)
  const c = new GroupCommitter(db, { intervalMs: 1000, maxRecords: 100 })
  const old = obs(c, 'hrs-1')
  c.close()
  db.close()
  let s = open(dir, 'SN-A-0001')
  s.devices.identify('hrs-1', 'SN-HRS-77')
  obs(s.committer, 'hrs-1')
  s.committer.close()
  const pseudonyms = Pseudonymizer.open(dir, 's', Date.now())
  const encoder = new EnvelopeEncoder('id-hub', new Admissions(s.db), s.devices, pseudonyms, s.identities)
  const row = new Outbox(s.db).read(100).find((r) => r[0] === old)!
  assert.equal(decodeEnvelope(encoder.encode(row).value).observation!.device, pseudonyms.pseudonym('device', 'hrs-1'), 'the identity at start, not the serial reported later')
  s.db.close()
  // Restart without the monitor's configured serial: the old configured serial does not come back;
  // the sensor's reported serial does, until it is unpaired.
  s = open(dir, '')
  assert.equal(s.devices.get('mon-1')!.identity, 'mon-1')
  assert.equal(s.devices.get('hrs-1')!.identity, 'SN-HRS-77')
  s.devices.remove('hrs-1')
  s.committer.close()
  s.db.close()
  s = open(dir, '')
  assert.equal(s.devices.get('hrs-1')!.identity, 'hrs-1', 'a device paired under this id again must tell its own serial')
  s.committer.close()
  s.db.close()
})
