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
 * Pure: the sync feeds items in hub_seq order and encodes `runs` when the batch is read. A run
 * row's stretch (PackedObservations, envelope.ts observationSpans) joins a run as one entry, and
 * is cut where a run fills: the runs are those its records one by one would have made.
 */
import { skipRunItems } from '../store/run-items.js'
import type { PackedObservations, Provenance, RunEntry, RunSink } from './envelope.js'
import { entryCount } from './run-field.js'

const sameHead = (a: RunEntry, b: RunEntry): boolean =>
  a.keyEpoch === b.keyEpoch && a.subjectKind === b.subjectKind && a.bedId === b.bedId && sameProvenance(a.provenance, b.provenance)

/** Issue 24: a run's head carries one encounter, one demo flag and one device type. */
function sameProvenance(a: Provenance | undefined, b: Provenance | undefined): boolean {
  if (a === b) return true
  if (!a || !b) return false
  // Not the device type: a patient's patch and monitor interleave, and a run per switch would undo
  // issue 23; a run of mixed types says device_type '' (envelope.ts encodeRun).
  return a.encounter === b.encounter && a.encounterKeyEpoch === b.encounterKeyEpoch && a.demo === b.demo
}

/** The first `k` observations of a stretch, and the rest. */
function cut(e: PackedObservations, k: number): [PackedObservations, PackedObservations] {
  return [{ ...e, count: k }, { ...e, hubSeq: e.hubSeq + k, at: skipRunItems(e.blob, e.at, k), count: e.count - k }]
}

export class ObservationRuns implements RunSink {
  /** Runs in the order they were opened; each non-empty, entries in hub_seq order. */
  readonly runs: RunEntry[][] = []
  /** Observations of `runs[i]` (a packed entry holds several). */
  readonly sizes: number[] = []
  /** Per subject, the index of its open run. */
  private readonly open = new Map<string, number>()

  /** @param maxItems observations per run at most (≥ 1). */
  constructor(private readonly maxItems: number) {}

  /** Adds the next observation or stretch of the batch (hub_seqs greater than every one added before). */
  add(entry: RunEntry): void {
    for (;;) {
      let i = this.open.get(entry.subject)
      if (i === undefined || this.sizes[i]! >= this.maxItems || !sameHead(this.runs[i]![0]!, entry)) {
        i = this.runs.length
        this.runs.push([])
        this.sizes.push(0)
        this.open.set(entry.subject, i)
      }
      const room = this.maxItems - this.sizes[i]!
      const n = entryCount(entry)
      if (n <= room) {
        this.runs[i]!.push(entry)
        this.sizes[i]! += n
        return
      }
      // Only a stretch holds more than one: its first `room` fill this run, the rest opens the next.
      const [head, rest] = cut(entry as PackedObservations, room)
      this.runs[i]!.push(head)
      this.sizes[i]! += room
      entry = rest
    }
  }

  get size(): number {
    return this.runs.length
  }
}
