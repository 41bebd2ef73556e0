/**
 * `bedside-hub devices [--config FILE] [--json]`: every device of the ward, configured or paired,
 * with its bed and, when the agent is running, its link state (from GET /api/status).
 */
import { parseArgs } from 'node:util'
import { ConfigError, loadConfigFile } from '../config.js'
import { openDatabase } from '../store/db.js'
import { Pairings } from '../store/pairings.js'
import { PACKAGED_CONFIG, agentAccessOf, authHeaders, type AgentStatus } from './status.js'

interface Row { id: string; bed: string; type: string; address: string | null; source: 'config' | 'paired'; link: string }

function linkOf(status: AgentStatus | null, id: string): string {
  if (!status) return 'agent not running'
  const l = status.devices.find((d) => d.id === id)?.link
  if (!l) return 'no link state'
  return l.state === 'disconnected' ? `disconnected: ${l.cause}` : l.state
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string' }, json: { type: 'boolean' } } })
  let cfg
  try {
    cfg = loadConfigFile(values.config ?? PACKAGED_CONFIG)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    process.stderr.write(`devices: ${err.message}\n`)
    return 2
  }
  const db = openDatabase(cfg.hub.data_dir)
  const paired = new Pairings(db).list()
  db.close()
  const access = agentAccessOf(cfg)
  const status = await fetch(`${access.url}/api/status`, { headers: authHeaders(access.token), signal: AbortSignal.timeout(2000) })
    .then((r) => (r.ok ? (r.json() as Promise<AgentStatus>) : null))
    .catch(() => null)
  const rows: Row[] = [
    ...cfg.beds.flatMap((b) => b.devices.map((d) => ({ id: d.id, bed: b.id, type: d.type, address: 'address' in d ? d.address : 'port' in d ? d.port : null, source: 'config' as const, link: linkOf(status, d.id) }))),
    ...paired.map((p) => ({ id: p.deviceId, bed: p.bedId, type: p.deviceType, address: p.address, source: 'paired' as const, link: linkOf(status, p.deviceId) })),
  ]
  if (values.json) process.stdout.write(JSON.stringify({ devices: rows }) + '\n')
  else process.stdout.write(['device\tbed\ttype\taddress/port\tsource\tlink', ...rows.map((r) => [r.id, r.bed, r.type, r.address ?? '-', r.source, r.link].join('\t'))].join('\n') + '\n')
  return 0
}
