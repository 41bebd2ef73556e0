/**
 * Views already audited, as `actor|bed|admission` keys (issue 18: the first view of a patient per
 * token is an audit event, a poll is not). Bounded: past the bound the oldest keys are forgotten,
 * which at worst audits a view again (8 beds × 100 tokens × 10 admissions fit).
 */
export const VIEWS_REMEMBERED = 8192

export class AuditedViews {
  private readonly keys = new Set<string>()
  constructor(private readonly max = VIEWS_REMEMBERED) {}

  /** True the first time `key` is offered (since start or since it was forgotten). */
  firstTime(key: string): boolean {
    if (this.keys.has(key)) return false
    if (this.keys.size >= this.max) this.keys.delete(this.keys.values().next().value!)
    this.keys.add(key)
    return true
  }
}
