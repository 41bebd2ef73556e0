/**
 * Every refused input is counted by reason and logged once per (reason, source), so a device that
 * sends garbage 50 times a second cannot flood the journal, yet no loss is invisible (STYLE.md §7).
 * Implausible values (issue 16) are not refused but flagged; they are counted and logged the same way.
 */
import type { Logger } from 'pino'
import { refOf } from '../../drivers/codes.js'
import type { Metrics } from '../serve/metrics.js'
import type { PlausibleRange } from './plausibility.js'

/** Remembers which causes were logged; bounded so that a flood of new causes cannot grow memory. */
class OncePerCause {
  private readonly logged = new Set<string>()

  first(key: string): boolean {
    if (this.logged.has(key)) return false
    if (this.logged.size < 10_000) this.logged.add(key)
    return true
  }
}

export class RejectCounter {
  private readonly once = new OncePerCause()

  constructor(private readonly metrics: Metrics, private readonly log: Logger) {}

  reject(reason: string, source: string, detail?: string): void {
    this.metrics.ingestRejected.inc({ reason })
    if (!this.once.first(`${reason}\u001f${source}`)) return
    this.log.warn({ event: 'ingest_rejected', reason, source, detail }, `input refused from ${source}: ${reason}${detail ? ` (${detail})` : ''}; further refusals for this cause are only counted`)
  }
}

/** Counts implausible values by code; logs once per (code, device). Off the common path: only flagged values get here. */
export class OutOfRangeCounter {
  private readonly once = new OncePerCause()

  constructor(private readonly metrics: Metrics, private readonly log: Logger) {}

  flagged(deviceId: string, code: number, value: number, range: PlausibleRange | undefined): void {
    const ref = refOf(code)
    this.metrics.ingestOutOfRange.inc({ code: ref })
    if (!this.once.first(`${code}\u001f${deviceId}`)) return
    const plausible = range ? `${range.min}–${range.max} ${range.unit}` : 'no range'
    this.log.warn({ event: 'ingest_out_of_range', source: deviceId, code: ref, value, plausible },
      `implausible ${ref} = ${value} from ${deviceId} (plausible ${plausible}): stored flagged out-of-range, kept out of alarms and vitals; further ones for this cause are only counted`)
  }
}
