/**
 * `bedside-hub status [--config FILE | --url URL [--token T]] [--json]`: asks the running agent (GET /api/status,
 * DESIGN.md CLI) what is connected, how deep the queue is, how far sync lags and how many alarms are
 * active. The address comes from --url, else from http.listen of --config FILE (default: the
 * packaged /etc/bedside-hub/config.yaml when present), else http://127.0.0.1:8080. The status needs a
 * bearer token (issue 18): --token or BEDSIDE_HUB_TOKEN, else the least privileged token of the config.
 * Over HTTPS the agent's certificate must chain to a CA Node trusts (system store or NODE_EXTRA_CA_CERTS).
 * Exit 0 when the agent answered, 1 when it did not (saying why), 2 on a usage or config error.
 */
import { existsSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { ConfigError, loadConfigFile, type Config } from '../config.js'

export const PACKAGED_CONFIG = '/etc/bedside-hub/config.yaml'
const DEFAULT_URL = 'http://127.0.0.1:8080'

type Link = { state: 'connecting' | 'connected' } | { state: 'silent'; sinceMs: number } | { state: 'disconnected'; cause: string }

/** The part of AgentApi.status() (agent/api.ts) this command reads. */
export interface AgentStatus {
  hub: string
  version: string | null
  uptimeS: number
  devices: { id: string; bedId: string; type: string; link: Link | null }[]
  queue: { depth: number; oldestUnsyncedAgeS: number }
  sync: { configured: false } | { configured: true; up: boolean; failingSinceMs: number | null; lastError: { atMs: number; message: string } | null }
  activeAlarms: number
  /** Issue 18: how the page and API are served (absent from older agents). */
  http?: { tls: boolean; insecure: boolean }
  /** Issue 24: the pseudonym key policy (absent from older agents). */
  pseudonyms?: { policy: 'site' | 'gateway'; configured: boolean; epoch: string; warning: string | null }
}

/** Base URL of the agent's HTTP API from a `host:port` listen address (wildcards mean this host). */
export function urlOfListen(listen: string, tls = false): string {
  const i = listen.lastIndexOf(':')
  const host = listen.slice(0, i)
  const local = host === '0.0.0.0' || host === '*' ? '127.0.0.1' : host === '::' ? '[::1]' : host
  return `${tls ? 'https' : 'http'}://${local}:${listen.slice(i + 1)}`
}

const ROLE_ORDER = ['viewer', 'nurse', 'admin'] as const

/** Where a local command reaches the agent, with the least privileged token of the config (reading is all it does). */
export function agentAccessOf(cfg: Readonly<Config>): { url: string; token: string | null } {
  const tokens = [...cfg.http.tokens].sort((a, b) => ROLE_ORDER.indexOf(a.role) - ROLE_ORDER.indexOf(b.role))
  return { url: urlOfListen(cfg.http.listen, cfg.http.tls !== undefined), token: tokens[0]?.token ?? null }
}

/** Request headers carrying `token`, if any. */
export function authHeaders(token: string | null): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {}
}

export function formatDuration(totalS: number): string {
  const s = Math.max(0, Math.round(totalS))
  const d = Math.floor(s / 86400)
  const h = Math.floor((s % 86400) / 3600)
  const m = Math.floor((s % 3600) / 60)
  const parts = d > 0 ? [`${d}d`, `${h}h`, `${m}m`] : h > 0 ? [`${h}h`, `${m}m`] : m > 0 ? [`${m}m`, `${s % 60}s`] : [`${s}s`]
  return parts.join(' ')
}

function linkText(link: Link | null, nowMs: number): string {
  if (!link) return 'no link state (MQTT devices connect to the broker)'
  if (link.state === 'silent') return `silent for ${formatDuration((nowMs - link.sinceMs) / 1000)}`
  if (link.state === 'disconnected') return `disconnected: ${link.cause}`
  return link.state
}

function syncText(sync: AgentStatus['sync'], nowMs: number): string {
  if (!sync.configured) return 'not configured (cloud.kafka absent: records stay on this gateway)'
  if (sync.failingSinceMs !== null) return `FAILING for ${formatDuration((nowMs - sync.failingSinceMs) / 1000)}: ${sync.lastError?.message ?? 'unknown error'}`
  return sync.up ? 'up' : 'connecting'
}

function queueText(s: AgentStatus): string {
  if (!s.sync.configured) return `queue: ${s.queue.depth} records kept on this gateway (no cloud configured)`
  if (s.queue.depth === 0) return 'queue: empty, every record synced'
  return `queue: ${s.queue.depth} records not yet synced, sync lag ${formatDuration(s.queue.oldestUnsyncedAgeS)} (age of the oldest)`
}

/** The human summary, one fact per line, aligned for a terminal. */
export function formatStatus(s: AgentStatus, nowMs: number): string {
  const connected = s.devices.filter((d) => d.link?.state === 'connected').length
  const idWidth = Math.max(2, ...s.devices.map((d) => d.id.length))
  const bedWidth = Math.max(3, ...s.devices.map((d) => d.bedId.length))
  const lines = [
    `hub ${s.hub}${s.version ? ` (bedside-hub ${s.version})` : ''}, up ${formatDuration(s.uptimeS)}`,
    `devices: ${s.devices.length} configured, ${connected} connected`,
    ...s.devices.map((d) => `  ${d.id.padEnd(idWidth)}  bed ${d.bedId.padEnd(bedWidth)}  ${d.type.padEnd(9)}  ${linkText(d.link, nowMs)}`),
    queueText(s),
    `sync: ${syncText(s.sync, nowMs)}`,
    `active alarms: ${s.activeAlarms}`,
    ...(s.http?.insecure ? ['http: INSECURE (http.insecure: plain HTTP beyond loopback; set http.tls)'] : []),
    ...(s.pseudonyms ? [`pseudonyms: policy ${s.pseudonyms.policy}${s.pseudonyms.configured ? '' : ' (default)'}, key epoch ${s.pseudonyms.epoch}${s.pseudonyms.warning ? `; WARNING: ${s.pseudonyms.warning}` : ''}`] : []),
  ]
  return lines.join('\n') + '\n'
}

function isAgentStatus(v: unknown): v is AgentStatus {
  const o = v as Partial<AgentStatus> | null
  return !!o && typeof o.hub === 'string' && Array.isArray(o.devices) && typeof o.queue?.depth === 'number' && typeof o.sync?.configured === 'boolean' && typeof o.activeAlarms === 'number'
}

/** Where to ask and with which token, or a usage/config error message. */
function resolveUrl(values: { url?: string; config?: string; token?: string }): { url: string; token: string | null } | { error: string } {
  const explicit = values.token ?? process.env.BEDSIDE_HUB_TOKEN ?? null
  if (values.url) return { url: values.url.replace(/\/+$/, ''), token: explicit }
  const file = values.config ?? (existsSync(PACKAGED_CONFIG) ? PACKAGED_CONFIG : null)
  if (!file) return { url: DEFAULT_URL, token: explicit }
  try {
    const access = agentAccessOf(loadConfigFile(file))
    return { url: access.url, token: explicit ?? access.token }
  } catch (err) {
    if (err instanceof ConfigError) return { error: `${err.message}\n(the config gives the agent's address: run as root or as a member of group bedside-hub, or pass --url)` }
    throw err
  }
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: 'string', short: 'c' }, url: { type: 'string' }, token: { type: 'string' }, json: { type: 'boolean' }, 'timeout-ms': { type: 'string' } },
    strict: true,
  })
  const where = resolveUrl(values)
  if ('error' in where) {
    process.stderr.write(`bedside-hub status: ${where.error}\n`)
    return 2
  }
  const timeoutMs = Number(values['timeout-ms'] ?? 5000)
  let body: unknown
  try {
    const res = await fetch(`${where.url}/api/status`, { headers: authHeaders(where.token), signal: AbortSignal.timeout(timeoutMs) })
    if (res.status === 401 || res.status === 403) {
      process.stderr.write(`bedside-hub status: the agent at ${where.url} refused the ${where.token ? 'token' : 'request without a token'} (HTTP ${res.status}): add a viewer token to http.tokens of the config, or pass --token\n`)
      return 1
    }
    if (!res.ok) throw new Error(`HTTP ${res.status}`)
    body = await res.json()
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message
    process.stderr.write(`bedside-hub status: no answer from the agent at ${where.url} (${cause}); is it running? (systemctl status bedside-hub)\n`)
    return 1
  }
  if (!isAgentStatus(body)) {
    process.stderr.write(`bedside-hub status: ${where.url}/api/status did not answer like a bedside-hub agent\n`)
    return 1
  }
  process.stdout.write(values.json ? `${JSON.stringify(body, null, 2)}\n` : formatStatus(body, Date.now()))
  return 0
}
