/**
 * `bedside-hub queue [--config FILE] [--json]`: what waits on this gateway for the cloud, read
 * straight from the store (works whether or not the agent runs): unsynced records per topic with the
 * oldest of each, shed waveform chunks, and the last sync error.
 * Exit 0 on an answer, 1 when the store cannot be read, 2 on a usage or config error.
 */
import { existsSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { ConfigError, loadConfigFile } from '../config.js'
import { StoreError } from '../store/db.js'
import { hl7QueueReport, type Hl7QueueEntry } from '../store/hl7-cursor.js'
import { openReadOnly, queueReport, type QueueReport } from '../store/inspect.js'
import { TOPIC_OF_KIND } from '../sync/envelope.js'
import { PACKAGED_CONFIG, formatDuration } from './status.js'

function ago(ms: number, nowMs: number): string {
  return `${formatDuration((nowMs - ms) / 1000)} ago (${new Date(ms).toISOString()})`
}

export function formatQueue(r: QueueReport, nowMs: number): string {
  const lines = [`unsynced records: ${r.total}${r.oldestMs !== null ? `, oldest received ${ago(r.oldestMs, nowMs)}` : ''}`]
  for (const k of r.byKind) lines.push(`  ${(TOPIC_OF_KIND[k.kind] ?? `kind ${k.kind}`).padEnd(13)} ${String(k.n).padStart(9)}   oldest ${ago(k.oldestMs, nowMs)}`)
  lines.push(`sync cursor: hub_seq ${r.cursor}`)
  lines.push(`shed waveform chunks: ${r.shedWaveforms}${r.lastShed ? ` (last: ${r.lastShed.count} at ${new Date(r.lastShed.atMs).toISOString()}, hub_seq ${r.lastShed.fromSeq}..${r.lastShed.toSeq})` : ''}`)
  lines.push(`last sync error: ${r.lastSyncError ? `${ago(r.lastSyncError.atMs, nowMs)}: ${r.lastSyncError.message}` : 'none'}`)
  const dead = r.deadLetter.reduce((a, d) => a + d.n, 0)
  lines.push(`dead-letter (records that can never be sent): ${dead}`)
  for (const d of r.deadLetter) lines.push(`  ${d.reason.padEnd(14)} ${String(d.n).padStart(9)}   last hub_seq ${d.lastHubSeq}, ${ago(d.lastAtMs, nowMs)}`)
  return lines.join('\n') + '\n'
}

/** Issue 21: what waits for the hospital's interface engine and alert manager (HL7 out). */
export function formatHl7Queue(entries: readonly Hl7QueueEntry[], nowMs: number): string {
  if (entries.length === 0) return ''
  const lines = ['HL7 out (records waiting per destination, messages the receiver rejected):']
  for (const e of entries) lines.push(`  ${e.dest.padEnd(20)} ${String(e.waiting).padStart(9)}   ${e.oldestMs !== null ? `oldest ${ago(e.oldestMs, nowMs)}` : 'none waiting'}, cursor hub_seq ${e.cursor}, rejected (AR) ${e.rejected}`)
  return lines.join('\n') + '\n'
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } }, strict: true })
  const file = values.config ?? (existsSync(PACKAGED_CONFIG) ? PACKAGED_CONFIG : null)
  if (!file) {
    process.stderr.write('bedside-hub queue: no --config FILE and no packaged config\n')
    return 2
  }
  let dataDir: string
  try {
    dataDir = loadConfigFile(file).hub.data_dir
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    process.stderr.write(`bedside-hub queue: ${err.message}\n`)
    return 2
  }
  try {
    const db = openReadOnly(dataDir)
    const r = queueReport(db)
    const hl7 = hl7QueueReport(db)
    db.close()
    process.stdout.write(values.json ? JSON.stringify({ ...r, byTopic: r.byKind.map((k) => ({ topic: TOPIC_OF_KIND[k.kind], records: k.n, oldestMs: k.oldestMs })), hl7 }) + '\n' : formatQueue(r, Date.now()) + formatHl7Queue(hl7, Date.now()))
    return 0
  } catch (err) {
    if (!(err instanceof StoreError)) throw err
    process.stderr.write(`bedside-hub queue: ${err.message}\n`)
    return 1
  }
}
