/**
 * CQL schema of the cloud tier (keyspace `bedside`), as versioned, idempotent migrations.
 * Kept to what runs unchanged on ScyllaDB and Apache Cassandra (SERVICES.md): TWCS, default TTLs,
 * no SAI, no materialized views, no UDFs, no speculative_retry tuning.
 *
 * Every table is partitioned by (subject pseudonym, day) and clustered by time, and its primary key
 * ends with (hub_id, hub_seq): a re-delivered event overwrites itself instead of duplicating.
 */
export interface SchemaOptions {
  readonly keyspace: string
  /** CQL replication map, e.g. {'class': 'NetworkTopologyStrategy', 'dc1': 3}. */
  readonly replication: string
  readonly ttlRawS: number
  readonly ttlAlertsS: number
  readonly ttlAuditS: number
}

export const DEFAULT_SCHEMA: SchemaOptions = {
  keyspace: 'bedside',
  replication: "{'class': 'SimpleStrategy', 'replication_factor': 1}",
  ttlRawS: 30 * 86_400, // 30 days raw vitals and waveforms (DESIGN.md, CQL)
  ttlAlertsS: 365 * 86_400, // alarms are clinical documentation: one year
  ttlAuditS: 6 * 365 * 86_400, // audit: six years, the HIPAA documentation retention period
}

/** TWCS with daily windows, as ScyllaDB recommends for immutable time series with a TTL. */
const twcs = (ttlS: number) =>
  `compaction = {'class': 'TimeWindowCompactionStrategy', 'compaction_window_unit': 'DAYS', 'compaction_window_size': 1} AND default_time_to_live = ${ttlS}`

export interface Migration {
  readonly version: number
  readonly description: string
  statements(o: SchemaOptions): string[]
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'vitals, alerts, waveforms and audit tables',
    statements: (o) => [
      `CREATE TABLE IF NOT EXISTS ${o.keyspace}.vitals_by_patient (
        subject text, day date, ts timestamp, hub_id text, hub_seq bigint,
        subject_kind int, key_epoch text, bed_id text, code int, value double, unit text,
        quality int, device text, device_seq bigint, hub_time timestamp,
        PRIMARY KEY ((subject, day), ts, hub_id, hub_seq)
      ) WITH CLUSTERING ORDER BY (ts DESC, hub_id ASC, hub_seq ASC) AND ${twcs(o.ttlRawS)}`,
      `CREATE TABLE IF NOT EXISTS ${o.keyspace}.alerts_by_patient (
        subject text, day date, ts timestamp, hub_id text, hub_seq bigint,
        subject_kind int, key_epoch text, bed_id text, alarm_id text, rule_id text, state text, priority text,
        category text, code text, value double, message text, condition_since timestamp, latching boolean, ack_by text,
        PRIMARY KEY ((subject, day), ts, hub_id, hub_seq)
      ) WITH CLUSTERING ORDER BY (ts DESC, hub_id ASC, hub_seq ASC) AND ${twcs(o.ttlAlertsS)}`,
      `CREATE TABLE IF NOT EXISTS ${o.keyspace}.waveforms_by_patient (
        subject text, day date, t0 timestamp, hub_id text, hub_seq bigint,
        subject_kind int, key_epoch text, bed_id text, code int, rate_hz double, t0_us bigint,
        samples_uv blob, quality int, device text, device_seq bigint,
        PRIMARY KEY ((subject, day), t0, hub_id, hub_seq)
      ) WITH CLUSTERING ORDER BY (t0 DESC, hub_id ASC, hub_seq ASC) AND ${twcs(o.ttlRawS)}`,
      `CREATE TABLE IF NOT EXISTS ${o.keyspace}.audit_by_day (
        hub_id text, day date, ts timestamp, hub_seq bigint,
        subject text, bed_id text, action text, actor text, detail text,
        PRIMARY KEY ((hub_id, day), ts, hub_seq)
      ) WITH CLUSTERING ORDER BY (ts DESC, hub_seq ASC) AND ${twcs(o.ttlAuditS)}`,
    ],
  },
  {
    version: 2,
    // "Alarms of a ward yesterday" without secondary indexes or materialized views (neither is
    // portable to ScyllaDB, SERVICES.md): the writer writes each alarm a second time, keyed by hub
    // (one hub = one ward gateway) and UTC day. Alarms are few, so the extra write is cheap.
    description: 'alerts_by_hub_day: alarms of one ward (hub) and day',
    statements: (o) => [
      `CREATE TABLE IF NOT EXISTS ${o.keyspace}.alerts_by_hub_day (
        hub_id text, day date, ts timestamp, hub_seq bigint,
        subject text, subject_kind int, key_epoch text, bed_id text, alarm_id text, rule_id text, state text, priority text,
        category text, code text, value double, message text, condition_since timestamp, latching boolean, ack_by text,
        PRIMARY KEY ((hub_id, day), ts, hub_seq)
      ) WITH CLUSTERING ORDER BY (ts DESC, hub_seq ASC) AND ${twcs(o.ttlAlertsS)}`,
    ],
  },
]
