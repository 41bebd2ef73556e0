/**
 * The Grafana dashboard (packaging/grafana/bedside-hub.json) is built on the agent's /metrics:
 * every series a panel queries must be one a running agent exports, so a renamed metric or a typo
 * in a panel fails here instead of showing "No data" on the ward's monitoring screen.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { pino } from 'pino'
import { startAgent } from '../../agent/agent.js'
import { parseConfig } from '../../agent/config.js'
import { TEST_VIEWER, VIEWER_AUTH, tempDir } from '../support/agent-process.js'

const DASHBOARD = new URL('../../packaging/grafana/bedside-hub.json', import.meta.url)

interface Panel { id: number; type: string; title: string; gridPos: { x: number; y: number; w: number; h: number }; targets?: { expr: string }[] }

/** Series names a Prometheus text exposition offers: each TYPE line, with _bucket/_sum/_count for histograms. */
function exportedSeries(text: string): Set<string> {
  const out = new Set<string>()
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    out.add(m[1]!)
    if (m[2] === 'histogram') for (const s of ['_bucket', '_sum', '_count']) out.add(m[1]! + s)
  }
  return out
}

test('grafana: every series the dashboard queries is exported by a running agent', async () => {
  const dash = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[]; uid: string }
  const agent = await startAgent(parseConfig({
    hub: { id: 'grafana-hub', site: 's', data_dir: join(tempDir('grafana'), 'data') },
    http: { listen: '127.0.0.1:0', tokens: [TEST_VIEWER] }, mqtt: { listen: '127.0.0.1:0' },
  }), { log: pino({ level: 'silent' }) })
  let exported: Set<string>
  try {
    exported = exportedSeries(await (await fetch(`http://127.0.0.1:${agent.httpPort}/metrics`, VIEWER_AUTH)).text())
  } finally {
    await agent.stop()
  }
  const queried = new Set<string>()
  for (const p of dash.panels) for (const t of p.targets ?? []) for (const m of t.expr.matchAll(/\bbedside_[a-z0-9_]+/g)) queried.add(m[0])
  assert.ok(queried.size >= 15, `the dashboard queries ${queried.size} series`)
  const missing = [...queried].filter((n) => !exported.has(n))
  assert.deepEqual(missing, [], 'series queried by the dashboard but not exported')
  for (const required of ['bedside_outbox_depth', 'bedside_oldest_unsynced_age_seconds', 'bedside_alarms_total', 'bedside_alarm_latency_seconds_bucket', 'bedside_commit_latency_seconds_bucket', 'bedside_ingest_rejected_total']) {
    assert.ok(queried.has(required), `a panel shows ${required}`)
  }
})

test('grafana: panels have unique ids and fit the 24-column grid without overlapping', () => {
  const dash = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[] }
  const ids = dash.panels.map((p) => p.id)
  assert.equal(new Set(ids).size, ids.length)
  const cells = new Map<string, string>()
  for (const p of dash.panels) {
    const g = p.gridPos
    assert.ok(g.x >= 0 && g.w > 0 && g.x + g.w <= 24, `${p.title} fits the grid width`)
    for (let y = g.y; y < g.y + g.h; y++) for (let x = g.x; x < g.x + g.w; x++) {
      const key = `${x},${y}`
      assert.ok(!cells.has(key), `${p.title} overlaps ${cells.get(key)} at ${key}`)
      cells.set(key, p.title)
    }
  }
})
