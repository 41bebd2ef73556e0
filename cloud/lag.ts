/**
 * Consumer lag per owned partition, refreshed on a timer from the broker (high watermark minus the
 * group's committed offset). The per-batch update in writer.ts only runs when a batch completes, so
 * without this a paused or stuck partition — the one to alert on — would show a stale lag.
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
    const topics = Object.keys(this.assignment).filter((t) => this.assignment[t]!.length > 0)
    if (topics.length === 0 || !this.admin) return
    try {
      const committed = await this.admin.fetchOffsets({ groupId: this.groupId, topics })
      for (const t of committed) {
        const owned = new Set(this.assignment[t.topic])
        const high = new Map((await this.admin.fetchTopicOffsets(t.topic)).map((p) => [p.partition, Number(p.high)]))
        for (const p of t.partitions) {
          if (!owned.has(p.partition)) continue
          const done = Number(p.offset) < 0 ? 0 : Number(p.offset)
          this.metrics.lag.set({ topic: t.topic, partition: String(p.partition) }, Math.max(0, (high.get(p.partition) ?? 0) - done))
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
