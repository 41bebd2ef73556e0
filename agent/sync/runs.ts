/**
 * Observation runs (issue 23): the observations of one read batch, grouped per subject into runs
 * that each become one schema_version 2 Envelope, one Kafka record. Per-record work (encode,
 * partition, record framing, the writer's decode) was what bounded the drain at one record per
 * observation; a run pays it once for up to `maxItems` observations.
 *
 * Order: a subject's observations go into its open run in hub_seq order, and a subject opens a new
 * run only after closing the previous one, so its runs, taken in the order they were opened, hold
 * its observations in hub_seq order; `runs` is in that order, and so is each key's partition.
 * Other subjects' records in between do not close a run (nothing orders one key against another,
 * docs/analytics.md), nor do waveforms, alarms or audit events (other topics). A run closes when
 * it is full, when the subject's Envelope fields change (key epoch, subject kind, bed: a transfer;
 * encounter, demo flag: issue 24),
 * and at the end of the read batch, which is also the end of every run: a batch is acknowledged
 * whole, so a run never spans two cursor positions.
 * Pure: the sync feeds items in hub_seq order and encodes `runs` when the batch is read.
 */
import type { ObservationItem, Provenance } from './envelope.js'

const sameHead = (a: ObservationItem, b: ObservationItem): boolean =>
  a.keyEpoch === b.keyEpoch && a.subjectKind === b.subjectKind && a.bedId === b.bedId && sameProvenance(a.provenance, b.provenance)

/** Issue 24: a run's head carries one encounter, one demo flag and one device type. */
function sameProvenance(a: Provenance | undefined, b: Provenance | undefined): boolean {
  if (a === b) return true
  if (!a || !b) return false
  // Not the device type: a patient's patch and monitor interleave, and a run per switch would undo
  // issue 23; a run of mixed types says device_type '' (envelope.ts encodeRun).
  return a.encounter === b.encounter && a.encounterKeyEpoch === b.encounterKeyEpoch && a.demo === b.demo
}

export class ObservationRuns {
  /** Runs in the order they were opened; each non-empty, items in hub_seq order. */
  readonly runs: ObservationItem[][] = []
  private readonly open = new Map<string, ObservationItem[]>()

  /** @param maxItems observations per run at most (≥ 1). */
  constructor(private readonly maxItems: number) {}

  /** Adds the next observation of the batch (hub_seq greater than every one added before). */
  add(item: ObservationItem): void {
    let run = this.open.get(item.subject)
    if (run === undefined || run.length >= this.maxItems || !sameHead(run[0]!, item)) {
      run = []
      this.runs.push(run)
      this.open.set(item.subject, run)
    }
    run.push(item)
  }

  get size(): number {
    return this.runs.length
  }
}
