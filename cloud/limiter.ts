/**
 * A counting semaphore: at most `limit` CQL requests in flight for the whole writer process,
 * whatever the number of partitions consumed concurrently (bounded concurrency, issue 8).
 */
export class Limiter {
  private active = 0
  private readonly waiting: (() => void)[] = []

  constructor(private readonly limit: number) {}

  async acquire(): Promise<void> {
    if (this.active < this.limit) {
      this.active++
      return
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve))
  }

  /** Hands the slot straight to the next waiter, so `active` never exceeds `limit`. */
  release(): void {
    const next = this.waiting.shift()
    if (next) next()
    else this.active--
  }

  get inFlight(): number {
    return this.active
  }
}
