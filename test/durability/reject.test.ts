/**
 * The sync's reject path against the real Kafka (issue 17): a stored record that can never be
 * encoded (here an alarm whose body is not JSON, as a bug or a disk error could leave it) goes to
 * the local dead-letter, is counted and audited, `bedside-hub queue` shows it, and every record
 * after it still reaches Kafka: one bad row no longer stops replication.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { Kafka, logLevel } from 'kafkajs'
import { pino } from 'pino'
import { formatQueue } from '../../agent/commands/queue.js'
import { parseConfig } from '../../agent/config.js'
import { DeviceRegistry } from '../../agent/pipeline/devices.js'
import { createMetrics } from '../../agent/serve/metrics.js'
import { Admissions } from '../../agent/store/admissions.js'
import { GroupCommitter, RecordKind } from '../../agent/store/commit.js'
import { LocalDeadLetter } from '../../agent/store/dead-letter.js'
import { openDatabase } from '../../agent/store/db.js'
import { queueReport } from '../../agent/store/inspect.js'
import { Outbox } from '../../agent/store/outbox.js'
import { EnvelopeEncoder } from '../../agent/sync/envelope.js'
import { createKafka } from '../../agent/sync/kafka.js'
import { Pseudonymizer } from '../../agent/sync/pseudonym.js'
import { CloudSync } from '../../agent/sync/sync.js'
import { decodeEnvelope } from '../../proto/codec.js'
import { tempDir, waitFor } from '../support/agent-process.js'
import { readAllMessages } from '../support/kafka-scan.js'
import { kafkaBrokers } from '../support/services.js'
import { needsServices } from './load.js'

test('sync reject: a record that can never be encoded goes to the local dead-letter and replication continues', { skip: needsServices }, async () => {
  const dir = join(tempDir('reject'), 'data')
  const db = openDatabase(dir)
  const cfg = parseConfig({ hub: { id: 'rej-hub', site: 's', data_dir: dir }, beds: [{ id: 'b1', devices: [{ id: 'mon-1', type: 'mqtt', secret: 'secret-secret' }] }] })
  const committer = new GroupCommitter(db, { intervalMs: 1000, maxRecords: 100 })
  const now = Date.now()
  const obs = (i: number) => committer.appendRecord(RecordKind.OBSERVATION, 'b1', 'mon-1', null, 150456, 90 + i, '%', now + i, now + i, i, 0, null)
  for (let i = 0; i < 5; i++) obs(i)
  const bad = committer.append({ kind: RecordKind.ALARM, bedId: 'b1', deviceId: null, admissionId: null, code: null, value: null, unit: null, deviceTimeMs: now, hubTimeMs: now, deviceSeq: null, quality: null, body: Buffer.from('{"alarmId": "a-1", trunc') })
  for (let i = 5; i < 10; i++) obs(i)
  committer.close()

  const id = `reject-${Date.now().toString(36)}`
  const topics = { raw_vitals: `${id}-raw-vitals`, waveforms: `${id}-waveforms`, alert_events: `${id}-alert-events`, audit_log: `${id}-audit-log`, dead_letter: `${id}-dead-letter` }
  const admin = new Kafka({ clientId: 'test-reject', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING }).admin()
  await admin.connect()
  await admin.createTopics({ waitForLeaders: true, topics: Object.values(topics).map((topic) => ({ topic, numPartitions: 1 })) })
  const log = pino({ level: 'silent' })
  const outbox = new Outbox(db)
  const metrics = createMetrics()
  const audited: string[] = []
  const sync = new CloudSync(createKafka({ brokers: kafkaBrokers(), clientId: 'test-reject', log }), outbox, new EnvelopeEncoder('rej-hub', new Admissions(db), new DeviceRegistry(cfg.beds), Pseudonymizer.open(dir, 's', now)), {
    topics, deadLetterTopic: topics.dead_letter, maxBatchRecords: 100,
    deadLetter: { store: new LocalDeadLetter(db), rejected: (entries) => audited.push(...entries.map((e) => `${e.hubSeq}:${e.reason}`)) },
  }, metrics, log)
  try {
    sync.start()
    await waitFor('outbox drained past the bad row', async () => outbox.depth() === 0 || undefined, 30_000, 50)
    const sent = await readAllMessages([topics.raw_vitals, topics.alert_events], 30_000)
    const seqs = sent.map((m) => decodeEnvelope(m.value!).hubSeq).sort((a, b) => a - b)
    assert.equal(seqs.length, 10, 'the ten observations around it reached Kafka')
    assert.ok(!seqs.includes(bad))
    assert.deepEqual(audited, [`${bad}:bad-body`])
    // The cloud learns that this hub_seq will never arrive, and why: a body-less notice on dead-letter.
    const [notice, ...more] = await readAllMessages([topics.dead_letter], 30_000)
    assert.equal(more.length, 0)
    const e = decodeEnvelope(notice!.value!)
    assert.deepEqual([e.hubId, e.hubSeq, e.observation ?? e.alarm ?? e.waveform ?? e.audit ?? null], ['rej-hub', bad, null])
    assert.ok(notice!.headers.some((h) => h.includes('bad-body')), 'reason header')
    const report = queueReport(db)
    assert.deepEqual(report.deadLetter.map((d) => [d.reason, d.n, d.lastHubSeq]), [['bad-body', 1, bad]])
    const text = formatQueue(report, Date.now())
    assert.match(text, /dead-letter \(records that can never be sent\): 1/)
    const rejected = (await metrics.registry.getSingleMetricAsString('bedside_sync_rejected_total')).split('\n').find((l) => l.includes('reason="bad-body"'))
    assert.match(rejected ?? '', / 1$/)
  } finally {
    await sync.stop()
    await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined)
    await admin.disconnect()
    db.close()
  }
})

