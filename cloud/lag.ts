/**
 * Consumer lag per owned partition, refreshed on a timer from the broker (high watermark minus the
 * group's committed offset). The per-batch update in writer.ts only runs when a batch completes, so
 * without this a paused or stuck partition — the one to alert on — would show a stale lag.
 *
 * Also the whole group's lag, every partition of every source topic whoever owns it (or nobody:
 * a partition whose writer died shows its growing lag here until another takes it), from the
 * admin API alone (fetchOffsets + fetchTopicOffsets, no Kafka command-line tools). Every writer
 * reports the same figures under its own instance label, so a dashboard takes max() by partition.
 */
import type { Admin, Kafka } from 'kafkajs'
import type { Logger } from 'pino'
import type { WriterMetrics } from './metrics.js'

export class LagMonitor {
  private admin: Admin | null = null
  private timer: NodeJS.Timeout | null = null
  private assignment: Record<string, number[]> = {}
  private running = false

  constructor(
    private readonly kafka: Kafka,
    private readonly groupId: string,
    private readonly metrics: WriterMetrics,
    private readonly log: Logger,
    private readonly intervalMs: number,
    private readonly topics: readonly string[] = [],
  ) {}

  async start(): Promise<void> {
    this.admin = this.kafka.admin()
    await this.admin.connect()
    this.running = true
    this.schedule()
  }

  /** The partitions this writer owns now (from the group join). */
  assign(assignment: Record<string, number[]>): void {
    this.assignment = assignment
  }

  private schedule(): void {
    if (!this.running) return
    this.timer = setTimeout(() => void this.refresh().finally(() => this.schedule()), this.intervalMs)
  }

  private async refresh(): Promise<void> {
    const owned = Object.keys(this.assignment).filter((t) => this.assignment[t]!.length > 0)
    const topics = [...new Set([...this.topics, ...owned])]
    if (topics.length === 0 || !this.admin) return
    try {
      const committed = await this.admin.fetchOffsets({ groupId: this.groupId, topics })
      for (const t of committed) {
        const mine = new Set(this.assignment[t.topic] ?? [])
        const high = new Map((await this.admin.fetchTopicOffsets(t.topic)).map((p) => [p.partition, Number(p.high)]))
        for (const p of t.partitions) {
          // A partition the group never committed (offset -1) is lagging by all it holds: from_beginning.
          const done = Number(p.offset) < 0 ? 0 : Number(p.offset)
          const lag = Math.max(0, (high.get(p.partition) ?? 0) - done)
          const labels = { topic: t.topic, partition: String(p.partition) }
          this.metrics.groupLag.set({ group: this.groupId, ...labels }, lag)
          if (mine.has(p.partition)) this.metrics.lag.set(labels, lag)
        }
      }
    } catch (err) {
      this.log.warn({ event: 'lag_refresh_failed', err: (err as Error).message }, 'could not refresh consumer lag')
    }
  }

  async stop(): Promise<void> {
    this.running = false
    if (this.timer) clearTimeout(this.timer)
    await this.admin?.disconnect()
    this.admin = null
  }
}
