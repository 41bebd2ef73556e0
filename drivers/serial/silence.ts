/**
 * "No data for N seconds" watchdog for a link that is open but whose device stopped talking
 * (issue 4: report `{state:'silent', sinceMs}`; DESIGN.md technical condition "no data for N s").
 *
 * The hot path only stores a number (`beat`); one unref'd interval does the checking, so there
 * is no timer churn per frame.
 */
export class SilenceWatch {
  private lastMs = 0
  private silent = false
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly silenceMs: number,
    private readonly onSilent: (sinceMs: number) => void,
    private readonly onResume: () => void,
    private readonly now: () => number = Date.now,
  ) {
    if (!(silenceMs > 0)) throw new RangeError(`silence bound ${silenceMs} ms must be positive`)
  }

  /** Arms the watch; the link counts as fresh from now. */
  start(): void {
    this.stop()
    this.lastMs = this.now()
    this.silent = false
    const checkMs = Math.max(20, Math.min(1000, Math.floor(this.silenceMs / 4)))
    this.timer = setInterval(() => this.check(), checkMs)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
  }

  /** A valid frame arrived. */
  beat(nowMs: number): void {
    this.lastMs = nowMs
    if (this.silent) {
      this.silent = false
      this.onResume()
    }
  }

  get isSilent(): boolean {
    return this.silent
  }

  private check(): void {
    if (!this.silent && this.now() - this.lastMs >= this.silenceMs) {
      this.silent = true
      this.onSilent(this.lastMs)
    }
  }
}
