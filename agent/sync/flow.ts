/**
 * Flow control of the sync loop: the batch size that follows the broker's acknowledgement latency,
 * and the recent sync rate for /metrics.
 */

/**
 * Additive-increase / multiplicative-decrease on the records per sendBatch: a full batch that was
 * acknowledged faster than the target grows by half; one slower than twice the target, or a
 * failure, halves it. With one batch in flight this bounds both memory and time to acknowledgement.
 */
export class AdaptiveBatch {
  private current: number

  constructor(private readonly min: number, private readonly max: number, private readonly targetMs: number) {
    this.current = Math.max(min, Math.min(max, 1000))
  }

  get size(): number {
    return this.current
  }

  acknowledged(records: number, latencyMs: number): void {
    if (latencyMs > 2 * this.targetMs) this.current = Math.max(this.min, Math.floor(this.current / 2))
    else if (latencyMs < this.targetMs && records >= this.current) this.current = Math.min(this.max, Math.ceil(this.current * 1.5))
  }

  failed(): void {
    this.current = Math.max(this.min, Math.floor(this.current / 2))
  }
}

/** Records acknowledged per second over the last `windowMs`, from a small ring of batch events. */
export class SyncRate {
  private readonly atMs = new Float64Array(256)
  private readonly counts = new Float64Array(256)
  private next = 0

  constructor(private readonly windowMs: number) {}

  add(nowMs: number, records: number): void {
    this.atMs[this.next] = nowMs
    this.counts[this.next] = records
    this.next = (this.next + 1) % this.atMs.length
  }

  perSecond(nowMs: number): number {
    let sum = 0
    const from = nowMs - this.windowMs
    for (let i = 0; i < this.atMs.length; i++) if (this.atMs[i]! > from) sum += this.counts[i]!
    return sum / (this.windowMs / 1000)
  }
}
