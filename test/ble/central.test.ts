/**
 * The BLE central's lifecycle through the simulated radio (drivers/sim/ble): the same calls and
 * events noble makes, with the bytes real devices send. Backoff is shortened to keep tests quick.
 */
import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import { BleCentral, createBleDriver, StaticAllowlist, type BleDeviceType } from '../../drivers/ble/index.js'
import { BleError } from '../../drivers/ble/ble-errors.js'
import { GATT } from '../../drivers/ble/gatt-uuids.js'
import { codeOf } from '../../drivers/codes.js'
import { createSimBleWard, SimHrsSensor, SimHtsSensor, SimPlxSensor, SimPolarH10, SimRadio } from '../../drivers/sim/ble/index.js'
import { RecordingContext, waitFor } from './helpers.js'

const FAST = { backoff: { baseMs: 5, maxMs: 40 }, connectTimeoutMs: 300, gattTimeoutMs: 300 }
const H10_ADDR = 'a0:9e:1a:00:00:01'

function ward(addresses: string[]) {
  const radio = new SimRadio(5)
  const allowlist = new StaticAllowlist(addresses)
  const central = new BleCentral(radio, allowlist)
  const drive = (deviceId: string, type: BleDeviceType, address: string, extra = {}) => createBleDriver({ deviceId, type, address }, central, allowlist, { ...FAST, ...extra })
  return { radio, allowlist, central, drive }
}

/** Stops the driver, the simulated devices and the central when the test ends. */
function stopAfter(t: TestContext, driver: { stop(): Promise<void> }, central: BleCentral, ...sims: { stop(): void }[]): void {
  t.after(async () => {
    await driver.stop()
    for (const s of sims) s.stop()
    await central.close()
  })
}

function h10(radio: SimRadio, address = H10_ADDR, extra = {}) {
  const dev = new SimPolarH10({ address, frameIntervalMs: 10, sensorStartNs: 800_000_000_000_000_000n, ...extra })
  radio.add(dev.peripheral)
  return dev
}

test('ble central: an allowlisted H10 is found, the ECG stream started, and frames become timed chunks', async (t) => {
  const { radio, central, drive } = ward([H10_ADDR.toUpperCase()])
  const strap = h10(radio)
  const driver = drive('patch-1', 'polar-pmd', H10_ADDR)
  const ctx = new RecordingContext()
  stopAfter(t, driver, central, strap)
  await driver.start(ctx)
  assert.deepEqual(ctx.statuses, [{ state: 'connecting' }, { state: 'connected' }])
  assert.deepEqual(strap.peripheral.characteristic(GATT.PMD_CONTROL_POINT).writes.map((b) => b.toString('hex')), ['0100', '02000001820001010e00'])
  assert.deepEqual(driver.identity, { manufacturer: 'Polar Electro Oy', model: 'H10', serial: 'SIM000001' })
  await waitFor('three ECG chunks', () => ctx.waves.length >= 3)
  const [a, b, c] = ctx.waves
  assert.deepEqual([a.deviceId, a.code, a.rateHz, a.samplesUv.length], ['patch-1', codeOf('MDC_ECG_ELEC_POTL_I'), 130, 73])
  assert.deepEqual([a.deviceSeq, b.deviceSeq, c.deviceSeq], [0, 1, 2])
  // Sensor clock starts at 8e17 ns since 2000; sample 0 of the stream is at exactly that time.
  assert.equal(a.t0Us, 800_000_000_000_000 + 946_684_800_000_000)
  assert.ok(Math.abs(b.t0Us - a.t0Us - (73 * 1e6) / 130) <= 1)
  assert.ok(Math.abs(c.t0Us - b.t0Us - (73 * 1e6) / 130) <= 1)
  // The samples are the synthetic PQRST: an R wave of about 1 mV appears within the first beat.
  const all = ctx.waves.flatMap((w) => Array.from(w.samplesUv))
  assert.ok(Math.max(...all) > 900 && Math.max(...all) < 1300, `max ${Math.max(...all)}`)
})

test('ble central: after link loss the driver reconnects with backoff and keeps the device association', async (t) => {
  const { radio, central, drive } = ward([H10_ADDR])
  const strap = h10(radio)
  const driver = drive('patch-1', 'polar-pmd', H10_ADDR)
  const ctx = new RecordingContext()
  stopAfter(t, driver, central, strap)
  await driver.start(ctx)
  await waitFor('chunks before the loss', () => ctx.waves.length >= 2)
  strap.peripheral.dropLink()
  const before = ctx.waves.length
  await waitFor('reconnect and new chunks', () => strap.peripheral.connectCount === 2 && ctx.waves.length >= before + 2)
  const states = ctx.statuses.map((s) => s.state)
  assert.deepEqual(states.slice(0, 5), ['connecting', 'connected', 'disconnected', 'connecting', 'connected'])
  assert.match((ctx.statuses[2] as { cause: string }).cause, /supervision timeout/)
  // The stream was restarted on the new link, and sequence numbers continue where they were.
  const writes = strap.peripheral.characteristic(GATT.PMD_CONTROL_POINT).writes.map((b) => b.toString('hex'))
  assert.deepEqual(writes, ['0100', '02000001820001010e00', '0100', '02000001820001010e00'])
  const seqs = ctx.waves.map((w) => w.deviceSeq)
  assert.deepEqual(seqs, seqs.map((_, i) => i))
  assert.ok(ctx.waves.every((w) => w.deviceId === 'patch-1'))
})

test('ble central: a device out of range is scanned for again, with growing delays, until it returns', async (t) => {
  const { radio, central, drive } = ward([H10_ADDR])
  const strap = h10(radio)
  const driver = drive('patch-1', 'polar-pmd', H10_ADDR, { connectTimeoutMs: 30 })
  const ctx = new RecordingContext()
  stopAfter(t, driver, central, strap)
  await driver.start(ctx)
  strap.peripheral.setInRange(false)
  await waitFor('several failed attempts', () => ctx.statuses.filter((s) => s.state === 'connecting').length >= 4)
  assert.equal(strap.peripheral.connectCount, 1)
  assert.ok(ctx.statuses.some((s) => s.state === 'disconnected' && /not seen advertising/.test(s.cause)))
  strap.peripheral.setInRange(true)
  await waitFor('back in range and connected', () => strap.peripheral.connectCount === 2 && ctx.lastState === 'connected')
})

test('ble central: a device not on the allowlist is never connected, even while advertising', async (t) => {
  const { radio, central, drive } = ward([H10_ADDR])
  const stranger = new SimPlxSensor({ address: 'de:ad:be:ef:00:01' })
  radio.add(stranger.peripheral)
  const strap = h10(radio)
  const allowed = drive('patch-1', 'polar-pmd', H10_ADDR)
  const denied = drive('ox-9', 'ble-plx', 'DE:AD:BE:EF:00:01')
  const ctx = new RecordingContext()
  t.after(async () => {
    await allowed.stop()
    strap.stop()
    await central.close()
  })
  await assert.rejects(denied.start(new RecordingContext()), (e: unknown) => e instanceof BleError && e.code === 'BEDSIDE_ERR_BLE_NOT_ALLOWLISTED')
  await allowed.start(ctx) // the radio scans, and sees the stranger too
  await assert.rejects(central.find('de:ad:be:ef:00:01', 50, new AbortController().signal), (e: unknown) => e instanceof BleError && e.code === 'BEDSIDE_ERR_BLE_NOT_ALLOWLISTED')
  assert.equal(stranger.peripheral.connectCount, 0)
  const seen = central.scanResults().find((r) => r.address === 'de:ad:be:ef:00:01')
  assert.deepEqual([seen?.allowlisted, seen?.localName], [false, 'SIM PLX'])
})

test('ble central: a device removed from the allowlist is not reconnected after link loss', async (t) => {
  const { radio, allowlist, central, drive } = ward([H10_ADDR])
  const strap = h10(radio)
  const driver = drive('patch-1', 'polar-pmd', H10_ADDR)
  const ctx = new RecordingContext()
  stopAfter(t, driver, central, strap)
  await driver.start(ctx)
  allowlist.remove(H10_ADDR)
  strap.peripheral.dropLink()
  await waitFor('the driver gives up', () => ctx.statuses.some((s) => s.state === 'disconnected' && /allowlist/.test(s.cause)))
  await new Promise((r) => setTimeout(r, 60))
  assert.equal(strap.peripheral.connectCount, 1)
})

test('ble central: several devices stream at once, each under its own id', async (t) => {
  const addrs = { h10: H10_ADDR, hrs: 'c0:00:00:00:00:01', plx: 'c0:00:00:00:00:02', hts: 'c0:00:00:00:00:03' }
  const { radio, central, drive } = ward(Object.values(addrs))
  const strap = h10(radio)
  const hrs = new SimHrsSensor({ address: addrs.hrs })
  const plx = new SimPlxSensor({ address: addrs.plx })
  const hts = new SimHtsSensor({ address: addrs.hts })
  for (const d of [hrs, plx, hts]) radio.add(d.peripheral)
  const drivers = [drive('patch', 'polar-pmd', addrs.h10), drive('strap', 'ble-hrs', addrs.hrs), drive('ox', 'ble-plx', addrs.plx), drive('temp', 'ble-hts', addrs.hts)]
  const ctx = new RecordingContext()
  t.after(async () => {
    await Promise.all(drivers.map((d) => d.stop()))
    strap.stop()
    await central.close()
  })
  await Promise.all(drivers.map((d) => d.start(ctx)))
  assert.equal(ctx.statuses.filter((s) => s.state === 'connected').length, 4)
  assert.ok(hrs.send({ heartRateBpm: 64, contact: 'detected', rrTicks: [960] }))
  assert.ok(plx.sendContinuous({ spo2Pct: 97, pulseRateBpm: 66 }))
  assert.ok(plx.sendSpotCheck({ spo2Pct: 95, pulseRateBpm: 67, timeMs: Date.UTC(2026, 0, 1) }))
  assert.ok(hts.send({ value: 98.6, unit: '[degF]', type: 2 }))
  await waitFor('records from every device', () => ['patch', 'strap', 'ox', 'temp'].every((id) => ctx.records.some((r) => r.deviceId === id)))
  const obs = ctx.records.filter((r) => r.kind === 'obs').map((r) => r.kind === 'obs' && [r.deviceId, r.code, Math.round(r.value * 10) / 10, r.deviceSeq])
  assert.deepEqual(obs, [
    ['strap', codeOf('MDC_ECG_HEART_RATE'), 64, 0],
    ['ox', codeOf('MDC_PULS_OXIM_SAT_O2'), 97, 0],
    ['ox', codeOf('MDC_PULS_OXIM_PULS_RATE'), 66, 1],
    ['ox', codeOf('MDC_PULS_OXIM_SAT_O2'), 95, 2],
    ['ox', codeOf('MDC_PULS_OXIM_PULS_RATE'), 67, 3],
    ['temp', codeOf('MDC_TEMP_BODY'), 37, 0],
  ])
})

test('ble central: stop() stops the PMD stream, clears subscriptions, disconnects, and is idempotent', async (t) => {
  const { radio, central, drive } = ward([H10_ADDR])
  const strap = h10(radio)
  const driver = drive('patch-1', 'polar-pmd', H10_ADDR)
  const ctx = new RecordingContext()
  t.after(async () => {
    strap.stop()
    await central.close()
  })
  await driver.start(ctx)
  await waitFor('streaming', () => ctx.waves.length >= 1)
  await driver.stop()
  await driver.stop()
  const p = strap.peripheral
  assert.equal(p.characteristic(GATT.PMD_CONTROL_POINT).writes.at(-1)?.toString('hex'), '0300')
  assert.equal(strap.streaming, false)
  assert.deepEqual([GATT.PMD_DATA, GATT.PMD_CONTROL_POINT, GATT.BATTERY_LEVEL].map((u) => p.characteristic(u).subscribed), [false, false, false])
  assert.equal(p.state, 'disconnected')
  assert.deepEqual(ctx.statuses.at(-1), { state: 'disconnected', cause: 'stopped' })
  const n = ctx.waves.length
  await new Promise((r) => setTimeout(r, 40))
  assert.equal(ctx.waves.length, n)
  assert.equal(radio.scanning, false)
})

test('ble central: aborting the context signal stops the driver', async (t) => {
  const { radio, central, drive } = ward([H10_ADDR])
  const strap = h10(radio)
  const driver = drive('patch-1', 'polar-pmd', H10_ADDR)
  const ctx = new RecordingContext()
  t.after(async () => {
    strap.stop()
    await central.close()
  })
  await driver.start(ctx)
  ctx.controller.abort()
  await waitFor('stopped status', () => ctx.lastState === 'disconnected')
  assert.equal(strap.peripheral.state, 'disconnected')
})

test('ble central: low battery and lost sensor contact are technical conditions, reported on change', async (t) => {
  const addr = 'c0:00:00:00:00:01'
  const { radio, central, drive } = ward([addr])
  const strap = new SimHrsSensor({ address: addr, batteryPct: 50 })
  radio.add(strap.peripheral)
  const driver = drive('strap', 'ble-hrs', addr)
  const ctx = new RecordingContext()
  stopAfter(t, driver, central)
  await driver.start(ctx)
  strap.setBattery(19)
  strap.setBattery(18)
  strap.setBattery(60)
  strap.send({ heartRateBpm: 70, contact: 'not-detected' })
  strap.send({ heartRateBpm: 70, contact: 'not-detected' })
  strap.send({ heartRateBpm: 71, contact: 'detected' })
  await waitFor('conditions', () => ctx.conditions.length >= 4)
  assert.deepEqual(ctx.conditions.map((c) => [c.deviceId, c.condition, c.active]), [
    ['strap', 'low-battery', true],
    ['strap', 'low-battery', false],
    ['strap', 'sensor-off', true],
    ['strap', 'sensor-off', false],
  ])
})

test('ble central: a device that demands bonding fails with an error naming the noble HCI limit', async (t) => {
  const addr = 'c0:00:00:00:00:02'
  const { radio, central, drive } = ward([addr])
  const ox = new SimPlxSensor({ address: addr, requiresBonding: true })
  radio.add(ox.peripheral)
  const ctx = new RecordingContext()
  const driver = drive('ox', 'ble-plx', addr, { gattTimeoutMs: 50 })
  stopAfter(t, driver, central)
  await driver.start(ctx) // resolves after the first (failed) attempt
  const failed = ctx.statuses.find((s) => s.state === 'disconnected')
  assert.ok(failed && failed.state === 'disconnected')
  assert.match(failed.cause, /did not complete within 50 ms.*requires a bonded.*noble HCI binding used on Linux cannot bond/)
  const configured = createBleDriver({ deviceId: 'ox2', type: 'ble-plx', address: addr, requiresBonding: true }, central, new StaticAllowlist([addr]))
  await assert.rejects(configured.start(new RecordingContext()), (e: unknown) => e instanceof BleError && e.code === 'BEDSIDE_ERR_BLE_BONDING_UNSUPPORTED' && /cannot bond/.test(e.message))
})

test('ble central: malformed notifications are counted with their reason and the stream goes on', async (t) => {
  const addr = 'c0:00:00:00:00:02'
  const { radio, central, drive } = ward([addr])
  const ox = new SimPlxSensor({ address: addr })
  radio.add(ox.peripheral)
  const driver = drive('ox', 'ble-plx', addr)
  const ctx = new RecordingContext()
  stopAfter(t, driver, central)
  await driver.start(ctx)
  ox.peripheral.characteristic(GATT.PLX_CONTINUOUS).notify(Buffer.from('0062', 'hex'))
  ox.sendContinuous({ spo2Pct: 93, pulseRateBpm: 88 })
  await waitFor('good record after the bad one', () => ctx.records.length === 2)
  assert.deepEqual(ctx.rejects.map((r) => r.reason), ['plx-cont:truncated'])
  assert.deepEqual(ctx.records.map((r) => r.deviceSeq), [0, 1])
})

test('ble central: a connected stream that stalls is reported silent, and connected when data resumes', async (t) => {
  const { radio, central, drive } = ward([H10_ADDR])
  const strap = h10(radio, H10_ADDR, { frameIntervalMs: 60_000 })
  const driver = drive('patch-1', 'polar-pmd', H10_ADDR, { silenceMs: 40 })
  const ctx = new RecordingContext()
  stopAfter(t, driver, central, strap)
  await driver.start(ctx)
  await waitFor('silent', () => ctx.lastState === 'silent')
  strap.emitFrame()
  await waitFor('connected again', () => ctx.lastState === 'connected')
  assert.equal(ctx.waves.length, 1)
})

test('ble central: the demo ward helper gives a working radio with a streaming patch and an oximeter', async (t) => {
  const ward = createSimBleWard([{ bed: '3a-01', patch: H10_ADDR, heartRateBpm: 90, oximeter: 'c0:ff:ee:00:01:02', spo2Pct: 96 }], 10)
  const allowlist = new StaticAllowlist([H10_ADDR, 'c0:ff:ee:00:01:02'])
  const central = new BleCentral(ward.radio, allowlist)
  const drivers = [
    createBleDriver({ deviceId: 'patch', type: 'polar-pmd', address: H10_ADDR }, central, allowlist, FAST),
    createBleDriver({ deviceId: 'ox', type: 'ble-plx', address: 'c0:ff:ee:00:01:02' }, central, allowlist, FAST),
  ]
  const ctx = new RecordingContext()
  t.after(async () => {
    await Promise.all(drivers.map((d) => d.stop()))
    ward.stop()
    await central.close()
  })
  await Promise.all(drivers.map((d) => d.start(ctx)))
  ;(ward.devices.get(H10_ADDR) as SimPolarH10).emitFrame()
  await waitFor('ECG and SpO2', () => ctx.waves.length >= 1 && ctx.records.some((r) => r.kind === 'obs' && r.code === codeOf('MDC_PULS_OXIM_SAT_O2')))
  const spo2 = ctx.records.find((r) => r.kind === 'obs' && r.code === codeOf('MDC_PULS_OXIM_SAT_O2'))
  assert.ok(spo2?.kind === 'obs' && spo2.value >= 95 && spo2.value <= 97)
})

test('ble central: an absent device does not hold start-up, and stop() ends the search at once', async (t) => {
  const { central, drive, radio } = ward([H10_ADDR])
  const driver = drive('patch-1', 'polar-pmd', H10_ADDR, { connectTimeoutMs: 50, backoff: { baseMs: 10_000, maxMs: 10_000 } })
  const ctx = new RecordingContext()
  t.after(() => central.close())
  await driver.start(ctx) // first attempt times out, start resolves; retries wait in backoff
  assert.deepEqual(ctx.statuses.map((s) => s.state), ['connecting', 'disconnected'])
  const before = Date.now()
  await driver.stop()
  assert.ok(Date.now() - before < 1000)
  assert.deepEqual(ctx.statuses.at(-1), { state: 'disconnected', cause: 'stopped' })
  assert.equal(radio.scanning, false)
})

test('ble central: when the sensor stops the ECG stream itself, the driver starts it again', async (t) => {
  const { radio, central, drive } = ward([H10_ADDR])
  const strap = h10(radio)
  const driver = drive('patch-1', 'polar-pmd', H10_ADDR)
  const ctx = new RecordingContext()
  stopAfter(t, driver, central, strap)
  await driver.start(ctx)
  strap.stopStreamFromSensor()
  await waitFor('stream restarted', () => strap.streaming)
  const writes = strap.peripheral.characteristic(GATT.PMD_CONTROL_POINT).writes.map((b) => b.toString('hex'))
  assert.deepEqual(writes, ['0100', '02000001820001010e00', '02000001820001010e00'])
  assert.equal(strap.peripheral.connectCount, 1)
})

test('ble central: a reserved battery value is counted as a reject and does not fail the connection', async (t) => {
  const addr = 'c0:00:00:00:00:01'
  const { radio, central, drive } = ward([addr])
  const strap = new SimHrsSensor({ address: addr, batteryPct: 150 })
  radio.add(strap.peripheral)
  const driver = drive('strap', 'ble-hrs', addr)
  const ctx = new RecordingContext()
  stopAfter(t, driver, central)
  await driver.start(ctx)
  assert.equal(ctx.lastState, 'connected')
  assert.deepEqual(ctx.rejects.map((r) => r.reason), ['battery:reserved-value'])
})

test('ble central: after the adapter powers off and on again, every device reconnects', async (t) => {
  const other = 'a0:9e:1a:00:00:02'
  const { radio, central, drive } = ward([H10_ADDR, other])
  const straps = [h10(radio), h10(radio, other)]
  const drivers = [drive('patch-1', 'polar-pmd', H10_ADDR), drive('patch-2', 'polar-pmd', other)]
  const ctx = new RecordingContext()
  t.after(async () => {
    await Promise.all(drivers.map((d) => d.stop()))
    straps.forEach((s) => s.stop())
    await central.close()
  })
  await Promise.all(drivers.map((d) => d.start(ctx)))
  radio.setPowered(false)
  await waitFor('both links down', () => ctx.statuses.filter((s) => s.state === 'disconnected').length >= 2)
  await new Promise((r) => setTimeout(r, 30))
  assert.ok(straps.every((s) => s.peripheral.connectCount === 1))
  radio.setPowered(true)
  await waitFor('both reconnected', () => straps.every((s) => s.peripheral.connectCount === 2 && s.streaming))
})
