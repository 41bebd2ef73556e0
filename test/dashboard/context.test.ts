/**
 * NEWS2 context on the bed tile (issue 19) in real headless Chromium against the built agent: a
 * nurse sets consciousness (ACVPU), oxygen and SpO2 scale 2 from the tile; GET /api/beds, the
 * scale-2 marker and the NEWS2 score follow; a viewer's page, open all along, sees the change from
 * the live feed and has no working control (the server answers its token with 403, shown on the tile).
 *
 * Scores (RCP NEWS2 Chart 1, protocols.md §9) of the monitor's values RR 18, SpO2 88, pulse 80,
 * SBP 120, T 37.0: scale 1 on unknown air/ACVPU 3 (SpO2 ≤ 91); + V 3 + oxygen 2 = 8; scale 2 on
 * oxygen scores SpO2 88 as 0, so 5.
 */
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import mqtt from 'mqtt'
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core'
import { VIEWER_AUTH, startAgentProcess, waitFor, type AgentHandle } from '../support/agent-process.js'

const CHROMIUM = '/usr/bin/chromium'
const NURSE = 'test-nurse-token' // startAgentProcess's tokens: nurse "nurse-1" and a viewer
const VIEWER = 'test-viewer-token'
const BED = 'ctx-01'
const MON = { id: 'mon-c1', secret: 'secret-of-mon-c1' }

type Timed = { value: unknown; atMs: number; by: string }
type ApiBed = { id: string; context: Record<string, Timed | undefined>; news2: { total: number; spo2Scale: number; parts: { param: string; points: number }[] } | null }

let agent: AgentHandle
let context: BrowserContext
let nurse: Page
let viewer: Page

async function apiBed(): Promise<ApiBed> {
  const j = (await (await fetch(`${agent.http}/api/beds`, VIEWER_AUTH)).json()) as { beds: ApiBed[] }
  return j.beds.find((b) => b.id === BED)!
}

const tile = (p: Page): Locator => p.locator(`.bed[data-bed="${BED}"]`)
const chip = (p: Page, k: string): Locator => tile(p).locator(`.ctx-val[data-k="${k}"]`)

async function signIn(p: Page, token: string): Promise<void> {
  await p.goto(agent.http)
  await p.fill('#signin-token', token)
  await p.click('#signin-form button[type="submit"]')
  await p.waitForFunction(() => !document.body.classList.contains('signed-out'), undefined, { timeout: 5000 })
}

/** Waits until the tile's NEWS2 badge reads `text` (the page changes only from the feed or a POST answer). */
async function news2Is(p: Page, text: string): Promise<void> {
  await waitFor(`${text} on the tile`, async () => (await tile(p).locator('.news2').innerText()) === text, 5000, 50)
}

describe('dashboard context', { timeout: 90_000 }, () => {
  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is needed (Debian package chromium)`)
    agent = await startAgentProcess({
      hub: { id: 'ward-ctx', site: 'test-site', data_dir: join(mkdtempSync(join(tmpdir(), 'bedside-dash-ctx-')), 'data') },
      beds: [{ id: BED, devices: [{ id: MON.id, type: 'mqtt', secret: MON.secret }] }, { id: 'ctx-02', devices: [] }],
    })
    const admit = await fetch(`${agent.http}/api/admissions`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${NURSE}` },
      body: JSON.stringify({ bed_id: BED, mrn: 'MRN-CTX-PAGE', name: 'Ada Lovelace' }),
    })
    assert.equal(admit.status, 201)
    const mon = await mqtt.connectAsync(agent.mqtt, { username: MON.id, password: MON.secret, reconnectPeriod: 0, protocolVersion: 4 })
    const obs = [
      { code: 'MDC_RESP_RATE', value: 18, unit: '/min' },
      { code: 'MDC_PULS_OXIM_SAT_O2', value: 88, unit: '%' },
      { code: 'MDC_ECG_HEART_RATE', value: 80, unit: '/min' },
      { code: 'MDC_PRESS_BLD_NONINV_SYS', value: 120, unit: 'mm[Hg]' },
      { code: 'MDC_TEMP_BODY', value: 37.0, unit: 'Cel' },
    ]
    await mon.publishAsync(`bedside/v1/devices/${MON.id}/obs`, JSON.stringify({ ts: Date.now(), seq: 1, obs }), { qos: 1 })
    await mon.endAsync()
    context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'bedside-chromium-')), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
      viewport: { width: 1920, height: 1080 },
    })
    // Two tabs, each with its own sessionStorage: a nurse's page and a viewer's, both open all along.
    nurse = await context.newPage()
    viewer = await context.newPage()
    for (const p of [nurse, viewer]) p.on('pageerror', (err) => assert.fail(`page error: ${err.message}`))
    await signIn(nurse, NURSE)
    await signIn(viewer, VIEWER)
    await news2Is(nurse, 'NEWS2 3*')
    await news2Is(viewer, 'NEWS2 3*')
  })

  after(async () => {
    await context?.close()
    await agent?.stop()
  })

  test('dashboard context: the tile shows what is unset; a nurse sets ACVPU V and oxygen from the keyboard; server and score follow', async () => {
    assert.deepEqual(await Promise.all(['consciousness', 'on_oxygen', 'spo2_scale'].map((k) => chip(nurse, k).innerText())), ['ACVPU –', 'O₂ –', 'SpO₂ scale 1'])
    assert.equal(await tile(nurse).locator('.scale2').isVisible(), false, 'no scale-2 marker on scale 1')
    const edit = tile(nurse).locator('button.ctx-edit')
    assert.equal(await edit.isEnabled(), true, 'a nurse may set them')
    await edit.focus()
    await nurse.keyboard.press('Enter')
    const form = tile(nurse).locator('form.ctx-form')
    await form.waitFor({ state: 'visible', timeout: 2000 })
    assert.equal(await edit.getAttribute('aria-expanded'), 'true')
    assert.equal(await nurse.evaluate(() => (document.activeElement as HTMLSelectElement | null)?.name), 'consciousness', 'focus moves into the form')
    await form.getByLabel(/^Consciousness \(ACVPU\)/).selectOption('V')
    await form.getByLabel(/^Oxygen/).selectOption('true')
    await form.getByRole('button', { name: 'Set', exact: true }).click()
    await news2Is(nurse, 'NEWS2 8') // 3 (SpO2 88, scale 1) + 3 (V) + 2 (oxygen); now complete
    await form.waitFor({ state: 'hidden', timeout: 2000 })
    assert.equal(await edit.getAttribute('aria-expanded'), 'false')
    const b = await apiBed()
    assert.deepEqual([b.context.consciousness?.value, b.context.consciousness?.by], ['V', 'nurse:nurse-1'])
    assert.deepEqual([b.context.on_oxygen?.value, b.context.on_oxygen?.by], [true, 'nurse:nurse-1'])
    assert.equal(b.context.spo2_scale, undefined, 'the scale was not touched')
    assert.equal(b.news2?.total, 8)
    assert.equal(await chip(nurse, 'consciousness').innerText(), 'ACVPU V')
    assert.equal(await chip(nurse, 'on_oxygen').innerText(), 'On O₂')
    // Age and who set it, on the value itself.
    assert.match((await chip(nurse, 'consciousness').getAttribute('title')) ?? '', /^Consciousness V \(responds to voice\), set \d\d:\d\d:\d\d \(\d+ s ago\) by nurse:nurse-1$/)
  })

  test('dashboard context: scale 2 must be confirmed, then is marked on the tile and scores SpO2 on scale 2', async () => {
    const before = await apiBed()
    const form = tile(nurse).locator('form.ctx-form')
    await tile(nurse).locator('button.ctx-edit').click()
    await form.getByLabel(/^SpO₂ scale/).selectOption('2')
    const confirm = form.locator('.ctx-confirm')
    assert.equal(await confirm.isVisible(), true, 'choosing scale 2 asks for the clinician\'s decision')
    assert.match(await confirm.innerText(), /hypercapnic respiratory failure/)
    await form.getByRole('button', { name: 'Set', exact: true }).click()
    assert.match(await tile(nurse).locator('.ctx-error').innerText(), /scale 2 not set: confirm/)
    await nurse.waitForTimeout(300)
    assert.equal((await apiBed()).context.spo2_scale, undefined, 'nothing sent without the confirmation')
    assert.equal(await tile(nurse).locator('.scale2').isVisible(), false)
    await form.getByLabel(/a clinician prescribed SpO₂ scale 2/).check()
    await form.getByRole('button', { name: 'Set', exact: true }).click()
    await news2Is(nurse, 'NEWS2 5') // SpO2 88 on oxygen scores 0 on scale 2
    const badge = tile(nurse).locator('.scale2')
    assert.equal(await badge.isVisible(), true)
    assert.equal(await badge.innerText(), 'SpO₂ scale 2')
    assert.equal(await chip(nurse, 'spo2_scale').innerText(), 'SpO₂ scale 2')
    assert.ok(await chip(nurse, 'spo2_scale').evaluate((e) => e.classList.contains('scale-2')))
    assert.equal(await tile(nurse).locator('.num[data-k="spo2"] label').evaluate((e) => getComputedStyle(e, '::after').content), '" S2"', 'the SpO2 value is marked too')
    assert.match((await tile(nurse).locator('.news2').getAttribute('title')) ?? '', /SpO₂ scale 2/)
    assert.equal(await tile(nurse).locator('.ctx-error').innerText(), '')
    const b = await apiBed()
    assert.deepEqual([b.context.spo2_scale?.value, b.context.spo2_scale?.by], [2, 'nurse:nurse-1'])
    assert.equal(b.news2?.spo2Scale, 2)
    assert.equal(b.news2?.total, 5)
    assert.equal(b.news2?.parts.find((p) => p.param === 'spo2')?.points, 0)
    // Only the changed field was sent: consciousness and oxygen keep the time they were set.
    assert.equal(b.context.consciousness?.atMs, before.context.consciousness?.atMs)
    assert.equal(b.context.on_oxygen?.atMs, before.context.on_oxygen?.atMs)
  })

  test('dashboard context: a viewer\'s open page follows from the live feed and has no working control; 403 is shown', async () => {
    await news2Is(viewer, 'NEWS2 5')
    assert.equal(await viewer.evaluate(() => (window as any).bedsideDashboard.state.snapshots), 1, 'updated by the feed, not by a reload or reconnect')
    assert.equal(await tile(viewer).locator('.scale2').isVisible(), true)
    assert.deepEqual(await Promise.all(['consciousness', 'on_oxygen', 'spo2_scale'].map((k) => chip(viewer, k).innerText())), ['ACVPU V', 'On O₂', 'SpO₂ scale 2'])
    const edit = tile(viewer).locator('button.ctx-edit')
    assert.equal(await edit.isDisabled(), true, 'no control for a viewer')
    assert.match((await edit.getAttribute('title')) ?? '', /viewer/)
    const direct = await fetch(`${agent.http}/api/beds/${BED}/context`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${VIEWER}` }, body: JSON.stringify({ consciousness: 'A' }),
    })
    assert.equal(direct.status, 403)
    // A page that still offers the control (say, a role changed since sign-in) shows the refusal.
    await edit.evaluate((e) => ((e as HTMLButtonElement).disabled = false))
    await edit.click()
    await tile(viewer).locator('form.ctx-form').getByLabel(/^Consciousness \(ACVPU\)/).selectOption('A')
    await tile(viewer).locator('form.ctx-form').getByRole('button', { name: 'Set', exact: true }).click()
    await waitFor('the 403 on the tile', async () => /HTTP 403/.test(await tile(viewer).locator('.ctx-error').innerText()), 3000, 50)
    assert.match(await tile(viewer).locator('.ctx-error').innerText(), /^Not set: role "viewer" may not write; needs nurse or admin \(HTTP 403\)\.$/)
    assert.equal((await apiBed()).context.consciousness?.value, 'V', 'unchanged')
  })

  test('dashboard context: a field the server refuses is named on the tile; Escape closes the form', async () => {
    const form = tile(nurse).locator('form.ctx-form')
    await tile(nurse).locator('button.ctx-edit').click()
    // A value the page never offers, as a stale or tampered page might send it.
    await form.locator('select[name="consciousness"] option[value="A"]').evaluate((o) => ((o as HTMLOptionElement).value = 'X'))
    await form.getByLabel(/^Consciousness \(ACVPU\)/).selectOption('X')
    await form.getByRole('button', { name: 'Set', exact: true }).click()
    await waitFor('the 400 on the tile', async () => /HTTP 400/.test(await tile(nurse).locator('.ctx-error').innerText()), 3000, 50)
    assert.match(await tile(nurse).locator('.ctx-error').innerText(), /^Not set: consciousness: .+ \(HTTP 400\)\.$/)
    assert.equal(await form.isVisible(), true, 'the form stays open to correct it')
    assert.equal((await apiBed()).context.consciousness?.value, 'V', 'unchanged')
    await nurse.keyboard.press('Escape')
    await form.waitFor({ state: 'hidden', timeout: 2000 })
    assert.equal(await nurse.evaluate(() => document.activeElement?.className), 'ctx-edit', 'focus back on the button')
  })
})
