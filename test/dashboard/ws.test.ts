/**
 * The dashboard feed (agent/serve/ws.ts) without a browser: fastify's injectWS against buildHttp
 * with a LiveFeed on a plain EventEmitter. Snapshot on connect, alarm changes at once, ECG
 * decimated to ≤ 125 Hz in ~100 ms chunks, other waveforms and a second lead left out. Opening it
 * needs a token (test/api/security.test.ts checks the refusals against a real agent).
 */
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import type { WebSocket } from 'ws'
import { codeOf } from '../../drivers/codes.js'
import { Quality, type WaveformChunk } from '../../drivers/records.js'
import { allowedHosts } from '../../agent/serve/access.js'
import { buildHttp, type AgentApi } from '../../agent/serve/http.js'
import { createMetrics } from '../../agent/serve/metrics.js'
import { LiveFeed, MAX_SOCKETS_PER_TOKEN, WAVE_FLUSH_MS, type LiveEvents, type LiveState } from '../../agent/serve/ws.js'
import type { AlarmChange } from '../../agent/rules/index.js'

const state: LiveState = {
  hubId: () => 'ws-hub',
  beds: () => [{ id: 'b1', vitals: [] }],
  bed: (id) => ({ id, vitals: [{ code: 'MDC_ECG_HEART_RATE', value: 80 }] }),
  alarms: () => [{ alarmId: 'b1:hr-high:1', state: 'raised' }],
  alarmFolding: () => ({ 'b1:hr-high:1': null }),
  status: () => ({ queue: { depth: 0 } }),
  viewed: () => undefined,
}
const api = { health: () => ({ live: true }), readiness: () => ({ ready: true, parts: {} }), signedIn: () => undefined } as unknown as AgentApi
const VIEWER = 'ws-viewer-token'
const OTHER = 'ws-other-token'
/** The upgrade request of a signed-in page on this host (the access hook checks Host, Origin and token). */
const upgrade = { headers: { host: 'localhost', origin: 'http://localhost', authorization: `Bearer ${VIEWER}` } }

function chunk(code: string, rateHz: number, t0Ms: number, samples: number[]): WaveformChunk {
  return { kind: 'wave', deviceId: 'p1', code: codeOf(code)!, rateHz, t0Us: t0Ms * 1000, samplesUv: Int32Array.from(samples), hubTimeMs: t0Ms, deviceSeq: 0, quality: Quality.VALID } as unknown as WaveformChunk
}

let events: EventEmitter<LiveEvents>
let feed: LiveFeed
let app: FastifyInstance

/** Collects messages of a socket; `next(type)` resolves with the next message of that type. */
function inbox() {
  const got: any[] = []
  const waiters: { type: string; resolve: (m: any) => void }[] = []
  const onMessage = (d: unknown) => {
    const m = JSON.parse(String(d))
    const w = waiters.findIndex((x) => x.type === m.type)
    if (w >= 0) waiters.splice(w, 1)[0]!.resolve(m)
    else got.push(m)
  }
  return {
    got,
    /** Listens from the socket's first message on (the snapshot is sent before injectWS resolves). */
    attach: (ws: WebSocket) => void ws.on('message', onMessage),
    next(type: string, timeoutMs = 2000): Promise<any> {
      const i = got.findIndex((m) => m.type === type)
      if (i >= 0) return Promise.resolve(got.splice(i, 1)[0])
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no ${type} message within ${timeoutMs} ms`)), timeoutMs)
        waiters.push({ type, resolve: (m) => { clearTimeout(t); resolve(m) } })
      })
    },
  }
}

describe('ws feed', () => {
  before(async () => {
    events = new EventEmitter<LiveEvents>()
    feed = new LiveFeed(events, state, pino({ level: 'silent' }))
    app = buildHttp(api, { tokens: [{ token: VIEWER, role: 'viewer' }, { token: OTHER, role: 'viewer', name: 'other-screen' }], allowedHosts: allowedHosts('127.0.0.1', []), metrics: createMetrics(), log: pino({ level: 'silent' }), assets: new Map(), live: feed })
    await app.ready()
  })
  after(async () => {
    feed.close()
    await app.close()
  })

  test('ws feed: a new client gets the whole ward first, then alarm changes at once', async () => {
    const box = inbox()
    const ws = await app.injectWS('/ws', upgrade, { onInit: box.attach })
    const snap = await box.next('snapshot')
    assert.equal(snap.hub, 'ws-hub')
    assert.deepEqual(snap.beds, state.beds())
    assert.deepEqual(snap.alarms, state.alarms())
    assert.equal(feed.clientCount, 1)
    const change = { alarmId: 'b1:hr-high:1', bedId: 'b1', ruleId: 'hr-high', state: 'acknowledged', priority: 'medium', category: 'physiological', message: 'HR', conditionSinceMs: 1, atMs: 2, latching: true, ackBy: 'ann' } satisfies AlarmChange
    const t0 = Date.now()
    events.emit('alarm', change, 42)
    const msg = await box.next('alarm')
    assert.ok(Date.now() - t0 < 100, 'not batched behind a timer')
    assert.deepEqual(msg.alarm, { ...change, hubSeq: 42 })
    assert.equal((await box.next('bed')).bed.id, 'b1', 'the tile is refreshed with a physiological alarm')
    ws.terminate()
    await new Promise((r) => setTimeout(r, 50))
    assert.equal(feed.clientCount, 0)
  })

  test('ws feed: one token holds at most MAX_SOCKETS_PER_TOKEN live sockets, the newest closing the oldest; another token is untouched', async () => {
    const other = await app.injectWS('/ws', { headers: { ...upgrade.headers, authorization: `Bearer ${OTHER}` } })
    const mine: WebSocket[] = []
    const closed = new Set<number>()
    for (let i = 0; i < MAX_SOCKETS_PER_TOKEN + 2; i++) {
      const ws = await app.injectWS('/ws', upgrade)
      ws.on('close', () => closed.add(i))
      mine.push(ws)
    }
    await new Promise((r) => setTimeout(r, 100))
    assert.deepEqual([...closed].sort((a, b) => a - b), [0, 1], 'the two oldest of the token were closed')
    assert.equal(feed.clientCount, MAX_SOCKETS_PER_TOKEN + 1)
    assert.equal(other.readyState, other.OPEN, 'the other token\'s socket stays')
    for (const ws of [...mine, other]) ws.terminate()
    await new Promise((r) => setTimeout(r, 50))
    assert.equal(feed.clientCount, 0)
  })

  test('ws feed: 500 Hz ECG reaches the page at 125 Hz, boxcar-averaged, with its start time; one lead per bed', async () => {
    const box = inbox()
    const ws = await app.injectWS('/ws', upgrade, { onInit: box.attach })
    await box.next('snapshot')
    // 1 s of a ramp at 500 Hz in 20 chunks of 25 samples: each output sample is the mean of 4 inputs.
    const t0 = 1_700_000_000_000
    for (let c = 0; c < 20; c++) events.emit('wave', 'b1', chunk('MDC_ECG_ELEC_POTL_II', 500, t0 + c * 50, Array.from({ length: 25 }, (_, i) => (c * 25 + i) * 4)))
    // Non-ECG waveforms and a second lead of the same bed are not drawn.
    events.emit('wave', 'b1', chunk('MDC_ECG_ELEC_POTL_I', 500, t0, [1, 2, 3, 4]))
    const first = await box.next('wave')
    assert.equal(first.bedId, 'b1')
    assert.equal(first.code, 'MDC_ECG_ELEC_POTL_II')
    assert.equal(first.rateHz, 125)
    assert.equal(first.t0Ms, t0)
    assert.equal(first.samples.length, 125)
    assert.deepEqual(first.samples.slice(0, 3), [6, 22, 38], 'means of 0,4,8,12 / 16..28 / 32..44')
    events.emit('wave', 'b1', chunk('MDC_ECG_ELEC_POTL_II', 500, t0 + 1000, [4000, 4004, 4008, 4012]))
    const second = await box.next('wave', WAVE_FLUSH_MS * 5)
    assert.deepEqual(second.samples, [4006])
    assert.ok(box.got.every((m) => m.type !== 'wave'), 'lead I never sent')
    ws.terminate()
  })
})
