/**
 * Exactness checks against the real cloud: every acknowledged observation in Cassandra exactly once,
 * and how many duplicates Kafka itself carried (removed by the writer by (hub_id, hub_seq)).
 */
import type Database from 'better-sqlite3'
import type cassandra from 'cassandra-driver'
import { codeOf } from '../../drivers/codes.js'
import { decodeEnvelope } from '../../proto/codec.js'
import { forEachRunItem } from '../../agent/store/run-items.js'
import { readAllMessages } from '../support/kafka-scan.js'
import { waitFor, metricValue } from '../support/agent-process.js'
import { countRows, groupLag, testKafka, type CloudSetup } from '../support/cloud-process.js'
import { deviceId } from '../support/ward.js'
import type { WardLoad } from './load.js'
import { CODES } from './load.js'

export interface Exactness { rows: number; acked: number; missing: number; doubled: number; unknown: number }

/** Waits until the agent's outbox is empty and the writer has consumed everything. */
export async function waitDrained(http: string, cloud: CloudSetup, timeoutMs: number): Promise<void> {
  await waitFor('outbox drained', async () => (await metricValue(http, 'bedside_outbox_depth')) === 0, timeoutMs, 500)
  const kafka = testKafka('durability-lag')
  const topics = Object.values(cloud.agentTopics).filter((t) => !t.endsWith('dead-letter'))
  await waitFor('writer caught up', async () => (await groupLag(kafka, cloud.groupId, topics)) === 0, timeoutMs, 1000)
}

/**
 * Reads every vitals row and checks it against the acknowledged messages of `load`. A message of
 * `perMessage` observations carries each code perMessage/5 times, so (ts, code) must appear exactly
 * that often.
 */
export async function checkExactlyOnce(cql: cassandra.Client, keyspace: string, load: WardLoad): Promise<Exactness> {
  const each = load.perMessage / CODES.length
  const seen = new Map<string, number>()
  let rows = 0
  for await (const r of cql.stream(`SELECT ts, code FROM ${keyspace}.vitals_by_patient`, [], { prepare: true, fetchSize: 5000, readTimeout: 60_000 }) as unknown as AsyncIterable<cassandra.types.Row>) {
    rows++
    const key = `${(r.ts as Date).getTime()}|${r.code as number}`
    seen.set(key, (seen.get(key) ?? 0) + 1)
  }
  let doubled = 0
  let unknown = 0
  for (const [key, n] of seen) {
    if (n > each) doubled += n - each
    if (load.whoOf(Number(key.split('|')[0])).device >= load.devices) unknown++
  }
  let missing = 0
  let acked = 0
  const codes = CODES.map((c) => codeOf(c))
  for (let d = 0; d < load.devices; d++) {
    for (const seq of load.ackedSeqs(d)) {
      for (const code of codes) {
        acked += each
        missing += Math.max(0, each - (seen.get(`${load.tsOf(d, seq)}|${code}`) ?? 0))
      }
    }
  }
  return { rows, acked, missing, doubled, unknown }
}

/** Per acknowledged message of `load`: its observations in the agent's store, exactly `perMessage` rows each. */
export function storeExactness(db: Database.Database, load: WardLoad): { acked: number; missing: number; doubled: number } {
  const rows = new Map<string, number>()
  for (const [device, seq, n] of db.prepare('SELECT device_id, device_seq, COUNT(*) FROM records WHERE kind = 1 AND items IS NULL GROUP BY device_id, device_seq').raw().iterate() as IterableIterator<[string, number, number]>) rows.set(`${device}/${seq}`, n)
  // Run rows (store.observation_runs: per-message): each packed observation counts as a row would.
  for (const [device, items] of db.prepare('SELECT device_id, items FROM records WHERE kind = 1 AND items IS NOT NULL').raw().iterate() as IterableIterator<[string, Buffer]>) {
    forEachRunItem(items, (it) => rows.set(`${device}/${it.deviceSeq}`, (rows.get(`${device}/${it.deviceSeq}`) ?? 0) + 1))
  }
  let acked = 0
  let missing = 0
  let doubled = 0
  for (let d = 0; d < load.devices; d++) {
    for (const seq of load.ackedSeqs(d)) {
      acked++
      if ((rows.get(`${deviceId(d)}/${seq}`) ?? 0) < load.perMessage) missing++
    }
  }
  for (const n of rows.values()) if (n > load.perMessage) doubled++
  return { acked, missing, doubled }
}

/**
 * Events in Kafka vs distinct (hub_id, hub_seq): the duplicates a crash put there. An event is one
 * Envelope, or one observation of a run (schema_version 2), each with its own hub_seq.
 */
export async function kafkaDuplicates(cloud: CloudSetup): Promise<{ messages: number; distinct: number }> {
  const msgs = await readAllMessages(Object.values(cloud.agentTopics).filter((t) => !t.endsWith('dead-letter')), 120_000)
  const ids = new Set<string>()
  let events = 0
  for (const m of msgs) {
    const e = decodeEnvelope(m.value!)
    const seqs = e.observations ? e.observations.hubSeq : [e.hubSeq]
    for (const seq of seqs) ids.add(`${e.hubId}/${seq}`)
    events += seqs.length
  }
  return { messages: events, distinct: ids.size }
}

export { countRows }
