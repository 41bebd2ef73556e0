/**
 * The HL7 outputs of hl7.results (PCD-01) and hl7.alarms (PCD-04), built from the config: one
 * Hl7Outbound each, their depth as gauges on /metrics. The agent starts them after the store is
 * open and stops them before it closes.
 */
import client from 'prom-client'
import type { Logger } from 'pino'
import type { Config } from '../config.js'
import type { Metrics } from '../serve/metrics.js'
import type { Admissions } from '../store/admissions.js'
import type { Db } from '../store/db.js'
import { Hl7Cursors } from '../store/hl7-cursor.js'
import { Hl7Outbound } from './outbound.js'
import { AlarmsSource, ResultsSource } from './pcd-sources.js'

export interface Hl7OutputsDeps {
  readonly db: Db
  readonly admissions: Admissions
  readonly metrics: Metrics
  readonly log: Logger
  /** Highest fsynced hub_seq (GroupCommitter.durableSeq): nothing above it is sent. */
  readonly durableSeq: () => number
  /** Writes an audit record (a message the receiver rejected). */
  audit(detail: string): void
}

export function createHl7Outputs(cfg: Config, d: Hl7OutputsDeps): Hl7Outbound[] {
  const out: Hl7Outbound[] = []
  const cursors = new Hl7Cursors(d.db)
  const log = d.log.child({ component: 'hl7-out' })
  const events = {
    sent: (name: string, m: { controlId: string; bedId: string }, o: { kind: string; reason?: string }, ms: number) => {
      d.metrics.hl7OutMessages.inc({ dest: name, outcome: o.kind })
      if (o.kind !== 'no-answer') d.metrics.hl7OutAckSeconds.observe({ dest: name }, ms / 1000)
      if (o.kind === 'AE' || o.kind === 'no-answer') log.warn({ event: 'hl7_out_retry', dest: name, control_id: m.controlId, outcome: o.kind, reason: o.reason }, `${name}: ${m.controlId} not accepted (${o.kind}: ${o.reason}); retrying with backoff`)
    },
    rejected: (name: string, m: { controlId: string; bedId: string; fromSeq: number; toSeq: number }, reason: string) => {
      log.error({ event: 'hl7_out_rejected', dest: name, control_id: m.controlId, reason }, `${name}: the receiver rejected ${m.controlId} (AR: ${reason}); set aside in the HL7 dead letter`)
      d.audit(`HL7 ${name} message ${m.controlId} (bed ${m.bedId}, hub_seq ${m.fromSeq}..${m.toSeq}) rejected by the receiver (AR): ${reason}`)
    },
  }
  const h = cfg.hl7
  for (const [name, o] of [['results', h?.results], ['alarms', h?.alarms]] as const) {
    if (!o) continue
    if (!o.tls && o.insecure) log.warn({ event: 'hl7_out_insecure', dest: name, target: o.target }, `INSECURE: hl7.${name}.insecure is set: names, MRNs and ${name} travel in clear to ${o.target}; set hl7.${name}.tls`)
    const source = name === 'results' ? new ResultsSource(d.db, cfg, cursors, d.admissions, d.durableSeq) : new AlarmsSource(d.db, cfg, cursors, d.admissions, d.durableSeq)
    out.push(new Hl7Outbound(name, o, source, cursors, events))
  }
  if (out.length > 0) observeDepth(d.metrics, out)
  return out
}

function observeDepth(m: Metrics, outputs: readonly Hl7Outbound[]): void {
  new client.Gauge({
    name: 'bedside_hl7_out_depth', help: 'Records waiting for an HL7 output (results: observations of periods not yet acknowledged; alarms: alarm state changes), by destination', labelNames: ['dest'] as const, registers: [m.registry],
    collect() { for (const o of outputs) this.set({ dest: o.name }, o.depth().n) },
  })
  new client.Gauge({
    name: 'bedside_hl7_out_oldest_age_seconds', help: 'Age of the oldest record waiting for an HL7 output (0 when none), by destination', labelNames: ['dest'] as const, registers: [m.registry],
    collect() {
      for (const o of outputs) {
        const oldest = o.depth().oldestMs
        this.set({ dest: o.name }, oldest === null ? 0 : Math.max(0, (Date.now() - oldest) / 1000))
      }
    },
  })
}
