/**
 * Daily self-test (issue 10): write a record through the normal group commit, read it back from the
 * database file, and raise a technical alarm at every bed when either step fails — a gateway whose
 * store silently stopped working would otherwise keep acknowledging nothing and alarm about nothing.
 */
import { randomBytes } from 'node:crypto'
import type { Logger } from 'pino'
import type { Db } from '../store/db.js'

export interface SelfTestHost {
  readonly db: Db
  readonly log: Logger
  /** Appends an audit event and returns its hub_seq. */
  audit(action: 'self-test', detail: string): number
  /** Calls back once everything appended so far is durable (or failed). */
  whenCommitted(cb: (err: Error | null) => void): void
  /** The technical condition of every bed (hub-level): active while the self-test fails. */
  condition(active: boolean, detail: string): void
}

export class SelfTest {
  private failing = false
  lastResult: { atMs: number; ok: boolean; detail: string } | null = null

  constructor(private readonly host: SelfTestHost) {}

  /** Runs once; resolves with whether the record was written and read back intact. */
  async run(): Promise<boolean> {
    const token = randomBytes(8).toString('hex')
    let detail = 'record written and read back'
    let ok = false
    try {
      const hubSeq = this.host.audit('self-test', `self-test ${token}`)
      await new Promise<void>((resolve, reject) => this.host.whenCommitted((err) => (err ? reject(err) : resolve())))
      const row = this.host.db.prepare('SELECT body FROM records WHERE hub_seq = ?').get(hubSeq) as { body: Buffer } | undefined
      ok = row !== undefined && String(row.body).includes(token)
      if (!ok) detail = `self-test record ${hubSeq} was committed but does not read back`
    } catch (err) {
      detail = `self-test write failed: ${(err as Error).message}`
    }
    this.lastResult = { atMs: Date.now(), ok, detail }
    if (ok) this.host.log.info({ event: 'self_test', ok }, detail)
    else this.host.log.error({ event: 'self_test', ok, detail }, detail)
    if (ok === this.failing) {
      this.failing = !ok
      this.host.condition(!ok, detail)
    }
    return ok
  }
}
