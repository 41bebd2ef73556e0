/**
 * The central-station page in real headless Chromium (Debian /usr/bin/chromium via playwright-core)
 * against the built agent as a child process: a ward of simulated monitors plus one MQTT monitor
 * the test drives (alarms, ECG waveform). Screenshots go to test-artifacts/ (git-ignored).
 */
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import mqtt from 'mqtt'
import { chromium, type BrowserContext, type Page, type WebSocketRoute } from 'playwright-core'
import { VIEWER_AUTH, freePort, startAgentProcess, waitFor, type AgentHandle } from '../support/agent-process.js'

const CHROMIUM = '/usr/bin/chromium'
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url))
const NURSE = 'test-nurse-token' // startAgentProcess's tokens: nurse "nurse-1" and a viewer
const VIEWER = 'test-viewer-token'
const SIM_BEDS = ['ward-01', 'ward-02', 'ward-03', 'ward-04', 'ward-05', 'ward-06', 'ward-07']
const SCENARIOS = ['stable', 'tachycardia', 'stable', 'desaturation', 'stable', 'fever', 'stable']
const MON_BED = 'ward-08'
const MON = { id: 'mon-08', secret: 'secret-of-mon-08' }
const COLOURS = { high: 'rgb(232, 32, 42)', medium: 'rgb(255, 212, 0)', low: 'rgb(0, 200, 232)' }

let agent: AgentHandle
let context: BrowserContext
let page: Page
let monitor: mqtt.MqttClient
let waveTimer: NodeJS.Timeout | undefined
/** While true, the page's WebSocket cannot reach the hub (every attempt is closed at once). */
let wsBlocked = false
const openRoutes = new Set<WebSocketRoute>()

function publishObs(code: string, value: number, unit: string): Promise<unknown> {
  return monitor.publishAsync(`bedside/v1/devices/${MON.id}/obs`, JSON.stringify({ ts: Date.now(), obs: [{ code, value, unit }] }), { qos: 1 })
}

/** A synthetic lead II at 250 Hz: 72 /min, a narrow 1.2 mV R wave on a small T wave. */
function ecgChunk(t0Ms: number, n: number, rateHz: number): number[] {
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    const phase = (((t0Ms + (i * 1000) / rateHz) / 1000) * 1.2) % 1
    const r = Math.exp(-(((phase - 0.3) / 0.012) ** 2)) * 1200
    const t = Math.exp(-(((phase - 0.55) / 0.05) ** 2)) * 250
    out.push(Math.round(r + t - 50))
  }
  return out
}

function startEcg(): void {
  const rateHz = 250
  let t0 = Date.now()
  waveTimer = setInterval(() => {
    const samples = ecgChunk(t0, 50, rateHz)
    monitor.publish(`bedside/v1/devices/${MON.id}/wave`, JSON.stringify({ code: 'MDC_ECG_ELEC_POTL_II', rate: rateHz, t0, samples }), { qos: 0 })
    t0 += (samples.length * 1000) / rateHz
  }, 200)
}

async function numbersOf(bedId: string): Promise<string> {
  return page.locator(`.bed[data-bed="${bedId}"] .nums`).innerText()
}

async function apiAlarms(): Promise<{ alarmId: string; ruleId: string; state: string; priority: string; bedId: string; ackBy?: string }[]> {
  return (await (await fetch(`${agent.http}/api/alarms?state=active`, VIEWER_AUTH)).json()).alarms
}

/** The page's sign-in form (issue 18): the token is kept for this tab only. */
async function signIn(p: Page, token: string): Promise<void> {
  await p.fill('#signin-token', token)
  await p.click('#signin-form button[type="submit"]')
  await p.waitForFunction(() => !document.body.classList.contains('signed-out'), undefined, { timeout: 5000 })
}

async function pageAlarms(): Promise<string[]> {
  return page.$$eval('#alarms li.alarm', (lis) => lis.map((li) => `${(li as HTMLElement).dataset.alarmId}=${(li as HTMLElement).dataset.state}`).sort())
}

describe('dashboard', { timeout: 120_000 }, () => {
  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is needed (Debian package chromium)`)
    mkdirSync(ARTIFACTS, { recursive: true })
    agent = await startAgentProcess({
      hub: { id: 'ward-9c', site: 'test-site', data_dir: join(mkdtempSync(join(tmpdir(), 'bedside-dash-')), 'data') },
      beds: [
        ...SIM_BEDS.map((id, i) => ({ id, devices: [{ id: `sim-${i + 1}`, type: 'sim', scenario: SCENARIOS[i] }] })),
        { id: MON_BED, devices: [{ id: MON.id, type: 'mqtt', secret: MON.secret }] },
      ],
    })
    const admit = await fetch(`${agent.http}/api/admissions`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${NURSE}` },
      body: JSON.stringify({ bed_id: MON_BED, mrn: 'MRN-DASH-1', name: 'Grace Hopper', birth_date: '1906-12-09' }),
    })
    assert.equal(admit.status, 201)
    monitor = await mqtt.connectAsync(agent.mqtt, { username: MON.id, password: MON.secret, reconnectPeriod: 0, protocolVersion: 4 })
    await publishObs('MDC_PRESS_BLD_NONINV_SYS', 118, 'mm[Hg]')
    await publishObs('MDC_ECG_HEART_RATE', 74, '/min')
    startEcg()
    // A fresh profile per run (playwright passes it to Chromium as --user-data-dir).
    context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'bedside-chromium-')), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
      viewport: { width: 1920, height: 1080 },
    })
    // Every page socket passes through here so a test can cut the link like a failing network.
    await context.routeWebSocket(/\/ws$/, (route) => {
      if (wsBlocked) return route.close({ code: 4001, reason: 'network down (test)' })
      openRoutes.add(route)
      const server = route.connectToServer()
      route.onClose(() => {
        openRoutes.delete(route)
        server.close()
      })
    })
    page = await context.newPage()
    page.on('pageerror', (err) => assert.fail(`page error: ${err.message}`))
    await page.goto(agent.http)
    await signIn(page, VIEWER)
  })

  after(async () => {
    if (waveTimer) clearInterval(waveTimer)
    await context?.close()
    await monitor?.endAsync()
    await agent?.stop()
  })

  test('dashboard: the ward renders every bed with live values that change and a drawn ECG strip', async () => {
    await page.waitForFunction((n) => document.querySelectorAll('.bed').length === n, SIM_BEDS.length + 1, { timeout: 10_000 })
    await page.waitForFunction(() => document.querySelector('#conn')?.textContent === 'live')
    for (const id of SIM_BEDS) await page.waitForFunction((b) => !document.querySelector(`.bed[data-bed="${b}"] .num[data-k="hr"] b`)?.textContent?.includes('--'), id, { timeout: 10_000 })
    const first = await Promise.all(SIM_BEDS.map(numbersOf))
    await waitFor('sim values to change on the page', async () => {
      const now = await Promise.all(SIM_BEDS.map(numbersOf))
      return now.filter((t, i) => t !== first[i]).length >= 3
    }, 10_000, 250)
    assert.equal(await page.locator(`.bed[data-bed="${MON_BED}"] .patient`).innerText(), 'Grace Hopper')
    assert.match(await page.locator(`.bed[data-bed="${MON_BED}"] .num[data-k="nibp"] b`).innerText(), /^118\//)
    // NEWS2 with its band colour where valid values arrived; sim data is flagged DEMO (no score, no green 0).
    const news2 = page.locator(`.bed[data-bed="${MON_BED}"] .news2`)
    assert.match(await news2.innerText(), /^NEWS2 \d+\*?$/)
    assert.match((await news2.getAttribute('class')) ?? '', /band-(low|low-medium|medium|high)/)
    assert.equal(await page.locator('.bed[data-bed="ward-01"] .news2').innerText(), 'NEWS2 –')
    assert.match(await page.locator('.bed[data-bed="ward-01"] .devices').innerText(), /sim-1 connected/)
    // The strip is drawn from the live /wave feed: count bright green pixels on the canvas.
    const inked = await waitFor('the ECG strip to be drawn', async () => {
      const n = await page.$eval(`.bed[data-bed="${MON_BED}"] canvas.ecg`, (c) => {
        const cv = c as HTMLCanvasElement
        const px = cv.getContext('2d')!.getImageData(0, 0, cv.width, cv.height).data
        let ink = 0
        for (let i = 0; i < px.length; i += 4) if (px[i + 1]! > 150 && px[i + 3]! > 0) ink++
        return ink
      })
      return n > 200 ? n : undefined
    }, 10_000, 250)
    assert.ok(inked > 200)
    const silent = await page.$eval('.bed[data-bed="ward-01"] canvas.ecg', (c) => {
      const cv = c as HTMLCanvasElement
      return cv.getContext('2d')!.getImageData(0, 0, cv.width, cv.height).data.some((v, i) => i % 4 === 3 && v > 0)
    })
    assert.equal(silent, false, 'a bed without a waveform source draws nothing')
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-ward-1920x1080.png') })
  })

  test('dashboard: without sign-in no patient name reaches the page; a wrong token stays signed out', async () => {
    const other = await context.newPage() // a new tab: its sessionStorage is empty
    const received: string[] = []
    other.on('response', (r) => void r.text().then((t) => received.push(`${r.url()} ${r.status()} ${t}`), () => undefined))
    other.on('websocket', (w) => w.on('framereceived', (f) => received.push(String(f.payload))))
    try {
      await other.goto(agent.http)
      await other.locator('#signin-view').waitFor({ state: 'visible', timeout: 5000 })
      await other.fill('#signin-token', 'not-a-ward-token')
      await other.click('#signin-form button[type="submit"]')
      await other.waitForFunction(() => /Unknown token/.test(document.querySelector('#signin-error')?.textContent ?? ''))
      await other.waitForTimeout(1500) // time for anything the page might still fetch or receive
      assert.ok(await other.evaluate(() => document.body.classList.contains('signed-out')))
      assert.equal(await other.locator('.bed').count(), 0)
      assert.ok(!(await other.content()).includes('Grace Hopper'), 'no patient name in the page')
      assert.ok(received.length > 0, 'the page files were received')
      for (const body of received) assert.ok(!body.includes('Grace Hopper') && !body.includes('MRN-DASH-1'), `no patient in ${body.slice(0, 80)}`)
      assert.ok(!received.some((b) => b.includes('"type":"snapshot"')), 'no live feed before sign-in')
      await other.screenshot({ path: join(ARTIFACTS, 'dashboard-sign-in.png') })
    } finally {
      await other.close()
    }
  })

  test('dashboard: eight beds fit a 1366×768 nurse-station screen without scrolling', async () => {
    await page.setViewportSize({ width: 1366, height: 768 })
    try {
      await page.waitForTimeout(300)
      const fit = await page.evaluate(() => {
        const tiles = [...document.querySelectorAll('.bed')].map((e) => e.getBoundingClientRect())
        return { bottom: Math.max(...tiles.map((r) => r.bottom)), right: Math.max(...tiles.map((r) => r.right)), scrollW: document.documentElement.scrollWidth }
      })
      assert.ok(fit.bottom <= 768, `lowest tile ends at ${fit.bottom}px`)
      assert.ok(fit.scrollW <= 1366, `page is ${fit.scrollW}px wide`)
      assert.ok(await page.locator('#alarm-panel').isVisible())
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-ward-1366x768.png') })
    } finally {
      await page.setViewportSize({ width: 1920, height: 1080 })
    }
  })

  test('dashboard: a triggered high-priority alarm appears within 1 s, red and flashing', async (t) => {
    const t0 = Date.now()
    await publishObs('MDC_PRESS_BLD_NONINV_SYS', 62, 'mm[Hg]') // sbp-low escalates to high at ≤ 70, no delay
    const row = page.locator('#alarms li.alarm[data-priority="high"]')
    await row.first().waitFor({ timeout: 1000 })
    const elapsedMs = Date.now() - t0
    t.diagnostic(`high alarm on the page ${elapsedMs} ms after the device publish`)
    assert.ok(elapsedMs < 1000, `alarm shown after ${elapsedMs} ms`)
    assert.equal(await row.first().locator('.swatch').evaluate((e) => getComputedStyle(e).backgroundColor), COLOURS.high)
    assert.equal(await row.first().evaluate((e) => getComputedStyle(e).animationName), 'flash-high')
    assert.match(await row.first().innerText(), new RegExp(MON_BED))
    const tile = page.locator(`.bed[data-bed="${MON_BED}"]`)
    assert.equal(await tile.getAttribute('data-alarm'), 'high')
    assert.equal(await tile.evaluate((e) => getComputedStyle(e).borderTopColor), COLOURS.high)
    assert.ok(await tile.evaluate((e) => e.classList.contains('flash')))
    await page.waitForTimeout(2000) // let the ECG strip sweep again after the viewport change, for the screenshot
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-alarm-high.png') })
  })

  test('dashboard: acknowledge needs a nurse token and changes the alarm on the page and in /api/alarms', async () => {
    const row = page.locator('#alarms li.alarm[data-priority="high"]').first()
    const alarmId = await row.getAttribute('data-alarm-id')
    assert.ok(alarmId)
    await page.fill('#token', VIEWER)
    await row.locator('button.ack').click()
    await page.waitForFunction(() => /viewer/.test(document.querySelector('#ack-error')?.textContent ?? ''))
    assert.notEqual((await apiAlarms()).find((a) => a.alarmId === alarmId)?.state, 'acknowledged')
    await page.fill('#token', NURSE)
    await row.locator('button.ack').click()
    const acked = page.locator(`#alarms li.alarm[data-alarm-id="${alarmId}"][data-state="acknowledged"]`)
    await acked.waitFor({ timeout: 2000 })
    assert.equal(await acked.evaluate((e) => getComputedStyle(e).animationName), 'none', 'no flashing once acknowledged')
    assert.equal(await acked.locator('button.ack').isVisible(), false)
    assert.match(await acked.innerText(), /acknowledged by nurse-1/)
    assert.equal(await page.locator(`.bed[data-bed="${MON_BED}"]`).evaluate((e) => e.classList.contains('flash')), false)
    const api = (await apiAlarms()).find((a) => a.alarmId === alarmId)
    assert.equal(api?.state, 'acknowledged')
    assert.equal(api?.ackBy, 'nurse-1')
  })

  test('dashboard: a banner says when cloud sync is behind, and /readyz names sync as the unhealthy part', async () => {
    // A broker address nobody listens on: every send fails, the queue grows on disk.
    const deadBroker = `127.0.0.1:${await freePort()}`
    const hub = await startAgentProcess({
      hub: { id: 'ward-9s', site: 'test-site', data_dir: join(mkdtempSync(join(tmpdir(), 'bedside-dash-sync-')), 'data') },
      beds: [{ id: 'sync-01', devices: [{ id: 'sim-s1', type: 'sim', scenario: 'stable' }] }],
      cloud: { kafka: { brokers: [deadBroker] } },
    })
    const other = await context.newPage()
    try {
      await other.goto(hub.http)
      await signIn(other, VIEWER)
      const banner = other.locator('#banner-sync')
      await banner.waitFor({ state: 'visible', timeout: 10_000 })
      assert.match(await banner.innerText(), /Cloud sync behind: oldest unsynced record \d+ s old, \d+ queued \(.*ECONNREFUSED.*\)/)
      assert.equal(await other.locator('#banner-quota').isVisible(), false)
      const ready = await fetch(`${hub.http}/readyz`)
      assert.equal(ready.status, 503)
      const parts = (await ready.json()).parts
      assert.equal(parts.sync.ok, false)
      assert.match(parts.sync.detail, /ECONNREFUSED/)
      assert.equal(parts.store.ok, true)
      assert.equal(parts.broker.ok, true)
      await other.screenshot({ path: join(ARTIFACTS, 'dashboard-sync-behind.png') })
    } finally {
      await other.close()
      await hub.stop()
    }
  })

  test('dashboard: a banner says when the local queue is over its quota, with the technical alarm listed', async () => {
    const hub = await startAgentProcess({
      hub: { id: 'ward-9q', site: 'test-site', data_dir: join(mkdtempSync(join(tmpdir(), 'bedside-dash-quota-')), 'data') },
      store: { quota_mb: 1 },
      housekeeping: { quota_check_ms: 200 },
      beds: [{ id: 'quota-01', devices: [{ id: 'mon-q', type: 'mqtt', secret: 'secret-of-mon-q' }] }],
    })
    const dev = await mqtt.connectAsync(hub.mqtt, { username: 'mon-q', password: 'secret-of-mon-q', reconnectPeriod: 0, protocolVersion: 4 })
    const other = await context.newPage()
    try {
      await other.goto(hub.http)
      await signIn(other, VIEWER)
      // Waveforms fill the 1 MB quota within a few seconds; keep them coming, paced, until the page
      // says so. Paced: the ECG analysis derives HR and RR numerics from every chunk, which are not
      // shed; sent flat out they fill the quota before the 2 s status reaches the page, and the
      // agent then (rightly) stops acknowledging, which would leave this loop waiting on a PUBACK.
      const samples = ecgChunk(0, 250, 250)
      let t0 = Date.now() - 3_600_000
      const banner = other.locator('#banner-quota')
      await waitFor('the over-quota banner', async () => {
        const sends = Array.from({ length: 10 }, () => dev.publishAsync('bedside/v1/devices/mon-q/wave', JSON.stringify({ code: 'MDC_ECG_ELEC_POTL_II', rate: 250, t0: (t0 += 1000), samples }), { qos: 1 }))
        await Promise.race([Promise.all(sends), sleep(2000)])
        await sleep(40)
        return banner.isVisible()
      }, 30_000, 0)
      assert.match(await banner.innerText(), /Local queue over quota: waveforms are being shed oldest-first \(\d+ records queued\)/)
      const alarm = other.locator('#alarms li.alarm[data-priority="medium"]', { hasText: 'quota' })
      await alarm.first().waitFor({ timeout: 3000 })
      assert.equal(await alarm.first().locator('.swatch').evaluate((e) => getComputedStyle(e).backgroundColor), COLOURS.medium)
      await other.screenshot({ path: join(ARTIFACTS, 'dashboard-over-quota.png') })
    } finally {
      await dev.endAsync()
      await other.close()
      await hub.stop()
    }
  })

  test('dashboard: after a WebSocket drop the page reconnects by itself and resynchronizes what it missed', async () => {
    const snapshotsBefore = await page.evaluate(() => (window as any).bedsideDashboard.state.snapshots as number)
    wsBlocked = true
    for (const r of openRoutes) await r.close({ code: 4001, reason: 'network down (test)' })
    await page.locator('#banner-conn').waitFor({ state: 'visible', timeout: 3000 })
    assert.equal(await page.locator('#conn').innerText(), 'reconnecting…')
    // While the page is cut off: a new low-priority alarm (temperature > 39 °C, no delay) and new vitals.
    await publishObs('MDC_TEMP_BODY', 39.8, 'Cel')
    const missed = await waitFor('the temperature alarm in the API', async () => (await apiAlarms()).find((a) => a.bedId === MON_BED && a.ruleId === 'temp-high'), 3000, 50)
    await page.waitForTimeout(1500)
    assert.ok(!(await pageAlarms()).some((a) => a.startsWith(`${missed.alarmId}=`)), 'the page cannot have seen it yet')
    wsBlocked = false
    await page.locator('#banner-conn').waitFor({ state: 'hidden', timeout: 10_000 })
    assert.ok(await page.evaluate((n) => (window as any).bedsideDashboard.state.snapshots > n, snapshotsBefore))
    const expected = (await apiAlarms()).map((a) => `${a.alarmId}=${a.state}`).sort()
    await waitFor('page alarms to equal /api/alarms', async () => JSON.stringify(await pageAlarms()) === JSON.stringify(expected), 3000, 100)
    const low = page.locator(`#alarms li.alarm[data-alarm-id="${missed.alarmId}"]`)
    assert.equal(await low.locator('.swatch').evaluate((e) => getComputedStyle(e).backgroundColor), COLOURS.low)
    assert.equal(await page.locator(`.bed[data-bed="${MON_BED}"] .num[data-k="temp"] b`).innerText(), '39.8')
  })
})
