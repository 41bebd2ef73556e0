/**
 * Datex driver against an emulated monitor through real pseudo-terminals (socat).
 * No mocked serial binding: the driver's SerialPort opens one pty, the emulator the other.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { test } from 'node:test'
import { MDC } from '../../drivers/codes.js'
import { DatexDriver } from '../../drivers/serial/datex/driver.js'
import { encodeFrame } from '../../drivers/serial/datex/frame.js'
import { openPtyLink, socatAvailable } from '../../drivers/serial/pty-link.js'
import { startDatexEmulator } from '../../drivers/sim/datex-emulator.js'
import { buildBasicRecord, type EmulatorVitals } from '../../drivers/sim/datex-record.js'
import { cleanupStack, lastStatus, recordingContext, sleep, tempDir, waitFor } from './helpers.js'

const vitals = (): EmulatorVitals => ({ hrPerMin: 72, rrPerMin: 16, spo2Pct: 97, pulsePerMin: 71, nibp: { sysMmHg: 121, diaMmHg: 79, meanMmHg: 93 }, tempCel: 36.9, etco2MmHg: 38 })
const stty = (path: string, ...args: string[]) => execFileSync('stty', ['-F', path, ...args]).toString().trim()

test('serial: socat is installed (the pty tests need it)', () => {
  assert.ok(socatAvailable(), 'socat is missing: run `apt-get update && apt-get install -y socat`')
})

test('datex: driver opens 19200 8E1 RTS/CTS, asks for displayed values, stops and restores the port settings', async (t) => {
  const cleanup = cleanupStack(t)
  const dir = tempDir('datex-settings-')
  cleanup(dir.remove)
  const link = await openPtyLink(join(dir.path, 'hub'), join(dir.path, 'mon'))
  cleanup(() => link.close())
  stty(link.a, '9600')
  const before = stty(link.a, '-g')
  const emu = await startDatexEmulator(link.b, vitals, { periodMs: 100 })
  cleanup(() => emu.stop())
  const ctx = recordingContext()
  const driver = new DatexDriver({ deviceId: 'mon-1', port: link.a, intervalS: 2 })
  cleanup(() => driver.stop())
  await driver.start(ctx)
  await waitFor('a first observation', () => ctx.records.length > 0)
  const open = stty(link.a, '-a')
  assert.match(open, /speed 19200 baud/)
  assert.match(open, /(^|\s)crtscts/) // a pty keeps CRTSCTS; Linux ptys force CS8 and drop PARENB, so parity is not observable here
  assert.deepEqual(emu.requests.map((r) => r.driLevel), [11, 10, 9, 8, 7])
  assert.ok(emu.requests.every((r) => r.intervalS === 2 && r.recordType === 1 && r.classBits === 0))
  await driver.stop()
  await waitFor('the stop request', () => emu.requests.some((r) => r.intervalS === 0))
  assert.equal(emu.transmitting, false)
  assert.equal(stty(link.a, '-g'), before, 'termios restored to what it was before open')
  assert.deepEqual(lastStatus(ctx), { state: 'disconnected', cause: 'stopped' })
})

test('datex: garbage, split frames, bad checksums, silence, unplug and replug through ptys', async (t) => {
  const cleanup = cleanupStack(t)
  const dir = tempDir('datex-pty-')
  cleanup(dir.remove)
  const hub = join(dir.path, 'hub')
  const mon = join(dir.path, 'mon')
  let link = await openPtyLink(hub, mon)
  cleanup(() => link.close())
  let emu = await startDatexEmulator(mon, vitals, { periodMs: 100 })
  cleanup(() => emu.stop())
  const ctx = recordingContext()
  const driver = new DatexDriver({ deviceId: 'mon-2', port: hub, intervalS: 1, silenceMs: 500, reopenInitialMs: 100, reopenMaxMs: 400 })
  cleanup(() => driver.stop())
  await driver.start(ctx)

  await waitFor('three records', () => driver.counters.frames >= 3)
  const hr = ctx.records.filter((r) => r.code === MDC.MDC_ECG_HEART_RATE)
  assert.equal(hr[0]!.value, 72)
  assert.equal(hr[0]!.deviceId, 'mon-2')
  assert.ok(hr[1]!.deviceSeq > hr[0]!.deviceSeq, 'deviceSeq increases per record')
  assert.ok(Math.abs(hr[0]!.deviceTimeMs - hr[0]!.hubTimeMs) < 2000, 'device time from the header')
  const et = ctx.records.find((r) => r.code === MDC.MDC_AWAY_CO2_ET)!
  assert.ok(Math.abs(et.value - 38) < 0.1)

  // Injection: hold the schedule so our bytes are the only ones on the line.
  emu.hold(true)
  await sleep(150)
  const frames0 = driver.counters.frames
  const good = encodeFrame(buildBasicRecord({ hrPerMin: 99 }, { timeS: Math.floor(Date.now() / 1000) }))
  const bad = Buffer.from(good)
  bad[bad.length - 2]! ^= 0x40
  await emu.sendRaw(Buffer.from('noise before any flag'))
  await emu.sendRaw(good.subarray(0, 100))
  await sleep(60) // the rest arrives in a later read
  await emu.sendRaw(Buffer.concat([good.subarray(100), Buffer.from([0x11, 0x22, 0x33]), bad, good]))
  await waitFor('the split and the trailing good frame', () => driver.counters.frames >= frames0 + 2)
  assert.equal(driver.counters.checksumFailures, 1)
  assert.equal(driver.counters.rejected['bad-checksum'], 1)
  assert.ok(driver.counters.resyncs >= 2, `resyncs ${driver.counters.resyncs}`)
  assert.equal(ctx.records.filter((r) => r.code === MDC.MDC_ECG_HEART_RATE && r.value === 99).length, 2)
  assert.ok(ctx.rejects.some((r) => r.reason === 'bad-checksum'))

  // Silence: the monitor stops talking; the driver reports it and asks again.
  const requests0 = emu.requests.length
  await waitFor('silent status', () => lastStatus(ctx)?.state === 'silent', 3000)
  const silent = lastStatus(ctx) as { state: 'silent'; sinceMs: number }
  assert.ok(Date.now() - silent.sinceMs >= 500)
  await waitFor('a repeated request', () => emu.requests.length > requests0)
  emu.hold(false)
  await waitFor('connected again', () => lastStatus(ctx)?.state === 'connected')

  // Unplug: the pty disappears.
  await emu.stop()
  await link.close()
  await waitFor('disconnected', () => lastStatus(ctx)?.state === 'disconnected')
  assert.deepEqual(lastStatus(ctx), { state: 'disconnected', cause: 'unplugged' })
  assert.equal(driver.counters.disconnects, 1)
  await sleep(300) // a few reopen attempts fail while unplugged

  // Replug on the same path: the driver reopens and asks again.
  link = await openPtyLink(hub, mon)
  emu = await startDatexEmulator(mon, () => ({ hrPerMin: 64 }), { periodMs: 100 })
  await waitFor('records after the replug', () => ctx.records.some((r) => r.code === MDC.MDC_ECG_HEART_RATE && r.value === 64), 5000)
  assert.equal(driver.counters.opens, 2)
  assert.ok(emu.requests.length >= 1)
  assert.equal(lastStatus(ctx)?.state, 'connected')
})
