/** Test helpers for the BLE driver tests: a recording DriverContext and a bounded wait. */
import type { DeviceRecord, WaveformChunk } from '../../drivers/records.js'
import type { DeviceCondition, DriverContext, LinkStatus } from '../../drivers/types.js'

export class RecordingContext implements DriverContext {
  readonly controller = new AbortController()
  readonly signal = this.controller.signal
  readonly records: DeviceRecord[] = []
  readonly statuses: LinkStatus[] = []
  readonly conditions: DeviceCondition[] = []
  readonly rejects: Array<{ reason: string; detail?: string }> = []

  emit(record: DeviceRecord): void {
    this.records.push(record)
  }
  status(s: LinkStatus): void {
    this.statuses.push(s)
  }
  condition(c: DeviceCondition): void {
    this.conditions.push(c)
  }
  reject(reason: string, detail?: string): void {
    this.rejects.push({ reason, detail })
  }
  get waves(): WaveformChunk[] {
    return this.records.filter((r): r is WaveformChunk => r.kind === 'wave')
  }
  get lastState(): string | undefined {
    return this.statuses.at(-1)?.state
  }
}

/** Polls `predicate` every 5 ms; rejects naming `what` after `timeoutMs`. */
export async function waitFor(what: string, predicate: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}
