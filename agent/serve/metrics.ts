/**
 * Prometheus series of the agent (DESIGN.md, HTTP contract). One registry per agent instance so
 * that tests can run several agents in one process. Names may grow, never change.
 */
import client from 'prom-client'
import type { LinkCounters } from '../../drivers/serial/counters.js'
import type { RuleEngineStats } from '../rules/index.js'

/**
 * A counter bumped once per record on the ingest path. prom-client's `inc()` allocates two objects
 * per call (a labels object and its result); this adds to a plain number and hands the sum to the
 * counter when the registry is read (scrape, `get()`).
 */
function hotCounter(registry: client.Registry, name: string, help: string): { inc(): void } {
  let pending = 0
  new client.Counter({
    name, help, registers: [registry],
    collect() {
      if (pending > 0) this.inc(pending)
      pending = 0
    },
  })
  return { inc: () => void pending++ }
}

export function createMetrics() {
  const registry = new client.Registry()
  client.collectDefaultMetrics({ register: registry, prefix: 'bedside_process_' })
  const m = {
    registry,
    observationsIngested: hotCounter(registry, 'bedside_observations_ingested_total', 'Observations accepted into the pipeline (before durable commit)'),
    waveformChunksIngested: new client.Counter({ name: 'bedside_waveform_chunks_ingested_total', help: 'Waveform chunks accepted into the pipeline', registers: [registry] }),
    ingestRejected: new client.Counter({ name: 'bedside_ingest_rejected_total', help: 'Inputs refused, by reason', labelNames: ['reason'] as const, registers: [registry] }),
    redelivered: new client.Counter({ name: 'bedside_redelivered_total', help: 'Sender messages re-sent after a lost acknowledgement and recognised: acknowledged again, not stored again, by source', labelNames: ['source'] as const, registers: [registry] }),
    // issue 16: stored flagged out-of-range, kept out of alarms and vitals; labelled by MDC reference id.
    ingestOutOfRange: new client.Counter({ name: 'bedside_ingest_out_of_range_total', help: 'Observations outside their code\'s plausible range (stored, flagged out-of-range), by MDC reference id', labelNames: ['code'] as const, registers: [registry] }),
    // issue 18: a rise of unknown-token or host refusals is someone probing the ward's API.
    httpRefused: new client.Counter({ name: 'bedside_http_refused_total', help: 'HTTP requests, WebSocket upgrades and connections refused, by reason (host, origin, no-token, unknown-token, role, connections-per-source)', labelNames: ['reason'] as const, registers: [registry] }),
    recordsCommitted: new client.Counter({ name: 'bedside_records_committed_total', help: 'Records durably committed to the local store', registers: [registry] }),
    commitFailures: new client.Counter({ name: 'bedside_commit_failures_total', help: 'Group commits that failed (nothing of them was acknowledged)', registers: [registry] }),
    storeRejected: new client.Counter({ name: 'bedside_store_rejected_total', help: 'Accepted records the store refused (a value its column does not take), kept whole in the local dead-letter while the rest of their batch committed, by error code', labelNames: ['code'] as const, registers: [registry] }),
    commitLatency: new client.Histogram({ name: 'bedside_commit_latency_seconds', help: 'Wall time of one group commit, from its transaction to the fsync that makes it durable (acknowledgements wait for both)', buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1], registers: [registry] }),
    outboxDepth: new client.Gauge({ name: 'bedside_outbox_depth', help: 'Committed records not yet acknowledged by Kafka', registers: [registry] }),
    oldestUnsyncedAge: new client.Gauge({ name: 'bedside_oldest_unsynced_age_seconds', help: 'Age of the oldest record not yet acknowledged by Kafka (0 when none)', registers: [registry] }),
    synced: new client.Counter({ name: 'bedside_synced_total', help: 'Records acknowledged by Kafka (acks=all), by topic', labelNames: ['topic'] as const, registers: [registry] }),
    syncErrors: new client.Counter({ name: 'bedside_sync_errors_total', help: 'Failed Kafka sends (retried), by cause', labelNames: ['cause'] as const, registers: [registry] }),
    syncRejected: new client.Counter({ name: 'bedside_sync_rejected_total', help: 'Stored records that can never be encoded for Kafka, set aside in the local dead-letter, by reason', labelNames: ['reason'] as const, registers: [registry] }),
    syncUp: new client.Gauge({ name: 'bedside_sync_up', help: '1 when the last Kafka send succeeded, 0 when failing or not configured', registers: [registry] }),
    alarms: new client.Counter({ name: 'bedside_alarms_total', help: 'Alarms raised or escalated, by priority', labelNames: ['priority'] as const, registers: [registry] }),
    alarmChanges: new client.Counter({ name: 'bedside_alarm_changes_total', help: 'Alarm state changes, by state', labelNames: ['state'] as const, registers: [registry] }),
    alarmLatency: new client.Histogram({ name: 'bedside_alarm_latency_seconds', help: 'From the arrival of the record that fulfils a condition to the alarm publish', buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1], registers: [registry] }),
    retimed: new client.Counter({ name: 'bedside_records_retimed_total', help: 'Observations whose device clock was off by more than the drift bound, re-timed to hub time (flagged)', registers: [registry] }),
    deviceBattery: new client.Gauge({ name: 'bedside_device_battery_percent', help: 'Last battery level a device reported (%)', labelNames: ['device'] as const, registers: [registry] }),
    deviceLink: new client.Gauge({ name: 'bedside_device_link_up', help: '1 when the device link is connected', labelNames: ['device'] as const, registers: [registry] }),
    mqttClients: new client.Gauge({ name: 'bedside_mqtt_clients', help: 'Connected MQTT clients', registers: [registry] }),
    mqttRefused: new client.Counter({ name: 'bedside_mqtt_refused_total', help: 'MQTT connections, logins, publishes and subscriptions refused by the listener limits and ACLs, by reason (issue 16)', labelNames: ['reason'] as const, registers: [registry] }),
    // issue 21: the hospital's ADT feed; event "?" for a message whose type could not be read.
    adtMessages: new client.Counter({ name: 'bedside_hl7_adt_messages_total', help: 'ADT messages from the interface engine answered, by trigger event and acknowledgement code (AA applied or ignored, AE fix and re-send, AR refused)', labelNames: ['event', 'ack'] as const, registers: [registry] }),
    // issue 21: HL7 out (PCD-01 results, PCD-04 alarms) by destination and the receiver's answer (AA, AE, AR, no-answer).
    hl7OutMessages: new client.Counter({ name: 'bedside_hl7_out_messages_total', help: 'HL7 messages sent to the interface engine or alert manager, by destination (results, alarms) and outcome (AA, AE, AR, no-answer)', labelNames: ['dest', 'outcome'] as const, registers: [registry] }),
    hl7OutAckSeconds: new client.Histogram({ name: 'bedside_hl7_out_ack_seconds', help: 'Time from sending an HL7 message to the receiver\'s answer, by destination', labelNames: ['dest'] as const, buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [registry] }),
    deviceConditions: new client.Counter({ name: 'bedside_device_conditions_total', help: 'Technical conditions reported by devices and the ECG analysis, by condition', labelNames: ['condition'] as const, registers: [registry] }),
  }
  return m
}

/** Counters the drivers and the alarm engine keep themselves, read at scrape time (one catalog: here). */
export function observeSourceCounters(m: Metrics, links: () => Iterable<[device: string, read: () => LinkCounters]>, rules: () => RuleEngineStats): void {
  const perLink = (pick: (c: LinkCounters) => number) => () => [...links()].map(([device, read]) => [{ device }, pick(read())] as [{ device: string }, number])
  observedCounter(m, 'bedside_link_frames_total', 'Frames received per serial/TCP device link', ['device'], perLink((c) => c.frames))
  observedCounter(m, 'bedside_link_bytes_total', 'Bytes received per serial/TCP device link', ['device'], perLink((c) => c.bytesIn))
  observedCounter(m, 'bedside_link_checksum_failures_total', 'Frames with a bad checksum per device link', ['device'], perLink((c) => c.checksumFailures))
  observedCounter(m, 'bedside_link_resyncs_total', 'Resynchronisations on garbage per device link', ['device'], perLink((c) => c.resyncs))
  observedCounter(m, 'bedside_link_reopens_total', 'Port opens (first open and reopens after unplug) per device link', ['device'], perLink((c) => c.opens))
  observedCounter(m, 'bedside_rules_skipped_total', 'Observations the alarm engine did not evaluate, by reason', ['reason'], () => {
    const st = rules()
    return [[{ reason: 'late' }, st.lateDropped], [{ reason: 'flagged' }, st.flaggedIgnored], [{ reason: 'no-rule' }, st.unmatched]]
  })
}

/** A counter whose value is read from elsewhere at scrape time (drivers and the engine keep their own). */
export function observedCounter<L extends string>(m: Metrics, name: string, help: string, labelNames: readonly L[], read: () => Iterable<[Partial<Record<L, string>>, number]>): void {
  new client.Counter({
    name,
    help,
    labelNames,
    registers: [m.registry],
    collect() {
      this.reset()
      for (const [labels, v] of read()) if (v > 0) this.inc(labels, v)
    },
  })
}

export type Metrics = ReturnType<typeof createMetrics>
