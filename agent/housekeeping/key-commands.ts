/**
 * Puts what the operator's `bedside-hub keys` commands did into the agent's audit log (issue 24):
 * the commands run in their own process, beside the agent, and cannot append to its store (the
 * agent owns hub_seq). Each command appends one JSON line to `keys-audit.log` in the data dir
 * (commands/keys.ts); the agent reads the lines past the offset it keeps in `meta`, audits each as
 * `key-import` / `key-export` / `key-rekey` (epoch ids, never key material), then moves the offset.
 * At least once: a crash between the audit and the offset update audits a line again.
 */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { AuditAction } from '../audit-actions.js'
import type { Meta } from '../store/meta.js'

export const KEYS_AUDIT_LOG = 'keys-audit.log'
export const KEYS_AUDIT_OFFSET = 'keys_audit_offset'

const ACTIONS: Readonly<Record<string, AuditAction>> = {
  'key-import': AuditAction.KEY_IMPORT,
  'key-export': AuditAction.KEY_EXPORT,
  'key-rekey': AuditAction.KEY_REKEY,
}

export interface KeyCommandLine { atMs: number; user: string; action: string; site?: string; added?: string[]; epochs?: string[]; from?: string }

/** The audit detail of one command line: who, when, which epochs; a line it cannot read is named as such. */
export function describeKeyCommand(line: KeyCommandLine): string {
  const ids = line.added ?? line.epochs ?? []
  const what = line.action === 'key-export' ? 'exported' : line.action === 'key-rekey' ? `re-keyed${line.from ? ` from ${line.from}` : ''}` : 'imported'
  return `bedside-hub keys by ${line.user} at ${new Date(line.atMs).toISOString()}: site ${line.site ?? '?'} ${what}${ids.length ? `, epochs ${ids.join(', ')}` : ', no new epoch'}`
}

export class KeyCommandAudit {
  private readonly file: string

  constructor(dataDir: string, private readonly meta: Meta, private readonly audit: (action: AuditAction, detail: string) => void) {
    this.file = join(dataDir, KEYS_AUDIT_LOG)
  }

  /** Audits the complete lines appended since the last poll; returns how many. */
  poll(): number {
    if (!existsSync(this.file)) return 0
    const size = statSync(this.file).size
    let offset = this.meta.number(KEYS_AUDIT_OFFSET)
    if (offset > size) offset = 0 // the log was truncated or replaced: read it from the start
    if (offset === size) return 0
    const buf = Buffer.alloc(size - offset)
    const fd = openSync(this.file, 'r')
    try {
      readSync(fd, buf, 0, buf.length, offset)
    } finally {
      closeSync(fd)
    }
    const end = buf.lastIndexOf(0x0a) + 1 // a line still being written waits for the next poll
    let n = 0
    for (const text of buf.subarray(0, end).toString('utf8').split('\n')) {
      if (text === '') continue
      let line: KeyCommandLine
      try {
        line = JSON.parse(text) as KeyCommandLine
      } catch {
        this.audit(AuditAction.KEY_IMPORT, `unreadable line in ${KEYS_AUDIT_LOG} at byte ${offset}: a key command's record was damaged`)
        n++
        continue
      }
      this.audit(ACTIONS[line.action] ?? AuditAction.KEY_IMPORT, describeKeyCommand(line))
      n++
    }
    this.meta.set(KEYS_AUDIT_OFFSET, String(offset + end))
    return n
  }
}
