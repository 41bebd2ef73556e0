/**
 * Every refused input is counted by reason and logged once per (reason, source), so a device that
 * sends garbage 50 times a second cannot flood the journal, yet no loss is invisible (STYLE.md §7).
 */
import type { Logger } from 'pino'
import type { Metrics } from '../serve/metrics.js'

export class RejectCounter {
  private readonly logged = new Set<string>()

  constructor(private readonly metrics: Metrics, private readonly log: Logger) {}

  reject(reason: string, source: string, detail?: string): void {
    this.metrics.ingestRejected.inc({ reason })
    const key = `${reason}\u001f${source}`
    if (this.logged.has(key)) return
    if (this.logged.size < 10_000) this.logged.add(key)
    this.log.warn({ event: 'ingest_rejected', reason, source, detail }, `input refused from ${source}: ${reason}${detail ? ` (${detail})` : ''}; further refusals for this cause are only counted`)
  }
}
