/**
 * The page files (agent/serve/page.ts): read from public/ beside the module; when they are missing
 * the agent still starts and `/` says what is wrong (503), logged with its cause.
 */
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { test } from 'node:test'
import { pino } from 'pino'
import { allowedHosts } from '../../agent/serve/access.js'
import { buildHttp, type AgentApi } from '../../agent/serve/http.js'
import { createMetrics } from '../../agent/serve/metrics.js'
import { loadPageAssets } from '../../agent/serve/page.js'

const api = { health: () => ({ live: true }) } as unknown as AgentApi

test('page: the dashboard files are found beside the module and served with their types', async () => {
  const assets = loadPageAssets()
  const app = buildHttp(api, { tokens: [], allowedHosts: allowedHosts('127.0.0.1', []), metrics: createMetrics(), log: pino({ level: 'silent' }), assets })
  try {
    for (const [path, type] of [['/', /^text\/html/], ['/dashboard.js', /^text\/javascript/], ['/ecg-strip.js', /^text\/javascript/], ['/dashboard.css', /^text\/css/]] as const) {
      const r = await app.inject({ method: 'GET', url: path })
      assert.equal(r.statusCode, 200, path)
      assert.match(String(r.headers['content-type']), type, path)
    }
  } finally {
    await app.close()
  }
})

test('page: missing dashboard files do not stop the agent; / answers 503 naming the cause, logged once', async () => {
  const lines: Record<string, unknown>[] = []
  const sink = new Writable({ write(c, _e, cb) { for (const l of String(c).split('\n')) if (l) lines.push(JSON.parse(l)); cb() } })
  const app = buildHttp(api, { tokens: [], allowedHosts: allowedHosts('127.0.0.1', []), metrics: createMetrics(), log: pino(sink), assets: loadPageAssets('/nonexistent/bedside-public') })
  try {
    const r = await app.inject({ method: 'GET', url: '/' })
    assert.equal(r.statusCode, 503)
    assert.match(r.body, /page unavailable.*nonexistent\/bedside-public/s)
    assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200)
    const logged = lines.filter((l) => l.event === 'page_assets_missing')
    assert.equal(logged.length, 1)
    assert.match(String(logged[0]!.cause), /ENOENT/)
  } finally {
    await app.close()
  }
})
