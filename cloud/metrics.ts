/**
 * The writer's Prometheus series (served on /metrics by http.ts). Every drop, retry and pause is
 * counted (STYLE.md 7: no silent loss).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

export class WriterMetrics {
  readonly registry = new Registry()
  /** Messages left to read per partition this writer owns: high watermark − next offset. */
  readonly lag = new Gauge({ name: 'bedside_cloud_consumer_lag', help: 'Consumer lag (messages) per topic partition owned by this writer', labelNames: ['topic', 'partition'], registers: [this.registry] })
  /** The whole consumer group's lag per partition (every partition, owned by this writer or not), from the admin API. */
  readonly groupLag = new Gauge({ name: 'bedside_cloud_group_lag', help: 'Consumer lag (messages) of the whole consumer group per topic partition, whoever owns it', labelNames: ['group', 'topic', 'partition'], registers: [this.registry] })
  readonly rows = new Counter({ name: 'bedside_cloud_rows_written_total', help: 'CQL rows written (re-writes of a replay included)', labelNames: ['table'], registers: [this.registry] })
  readonly messages = new Counter({ name: 'bedside_cloud_messages_total', help: 'Kafka messages handled, by outcome', labelNames: ['topic', 'outcome'], registers: [this.registry] })
  readonly deadLettered = new Counter({ name: 'bedside_cloud_dead_lettered_total', help: 'Messages sent to dead-letter, by reason', labelNames: ['reason'], registers: [this.registry] })
  readonly writeLatency = new Histogram({
    name: 'bedside_cloud_write_latency_seconds',
    help: 'Latency of one CQL request (single row or single-partition batch)',
    buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
    registers: [this.registry],
  })
  readonly eventAge = new Histogram({
    name: 'bedside_cloud_event_age_seconds',
    help: 'Hub receive time to row written (includes agent queueing and Kafka)',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600],
    registers: [this.registry],
  })
  readonly writeRetries = new Counter({ name: 'bedside_cloud_write_retries_total', help: 'CQL requests retried after a failure', registers: [this.registry] })
  readonly pauses = new Counter({ name: 'bedside_cloud_partition_pauses_total', help: 'Partitions paused because their writes kept failing', labelNames: ['topic'], registers: [this.registry] })
  readonly paused = new Gauge({ name: 'bedside_cloud_partitions_paused', help: 'Partitions paused right now', registers: [this.registry] })
  /** Consumers the writer started itself after kafkajs gave one up (writer.ts scheduleRestart). */
  readonly consumerRestarts = new Counter({ name: 'bedside_cloud_consumer_restarts_total', help: 'Consumers the writer replaced after kafkajs gave one up (a non-retriable crash)', registers: [this.registry] })
  readonly assigned = new Gauge({ name: 'bedside_cloud_partitions_assigned', help: 'Partitions assigned to this writer', registers: [this.registry] })

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'bedside_cloud_' })
  }
}
