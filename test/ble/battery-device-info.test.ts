import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BatteryMonitor, parseBatteryLevel } from '../../drivers/ble/battery.js'
import { identityKey, parseUtf8s } from '../../drivers/ble/device-info.js'
import { DecodeError } from '../../drivers/errors.js'

test('ble battery: level 0–100 decodes, the reserved range and empty payloads are rejected', () => {
  assert.equal(parseBatteryLevel(Buffer.from([0x5a])), 90) // protocols.md §4 example
  assert.equal(parseBatteryLevel(Buffer.from([0])), 0)
  assert.equal(parseBatteryLevel(Buffer.from([100])), 100)
  assert.throws(() => parseBatteryLevel(Buffer.from([101])), (e: unknown) => e instanceof DecodeError && e.reason === 'reserved-value')
  assert.throws(() => parseBatteryLevel(Buffer.alloc(0)), (e: unknown) => e instanceof DecodeError && e.reason === 'truncated')
})

test('ble battery: low battery is raised once at the threshold and cleared once above it', () => {
  const m = new BatteryMonitor('patch-1', 20)
  assert.equal(m.update(80, 1), null)
  assert.deepEqual(m.update(20, 2), { deviceId: 'patch-1', condition: 'low-battery', active: true, detail: 'battery 20 %', atMs: 2 })
  assert.equal(m.update(5, 3), null)
  assert.equal(m.update(21, 4)?.active, false)
  assert.equal(m.update(90, 5), null)
})

test('ble device info: utf8s strings are trimmed of NULs and whitespace, empty means absent', () => {
  assert.equal(parseUtf8s(Buffer.from('Polar Electro Oy')), 'Polar Electro Oy')
  assert.equal(parseUtf8s(Buffer.from('C0680226\0\0 ')), 'C0680226')
  assert.equal(parseUtf8s(Buffer.from('\0\0')), null)
  assert.equal(parseUtf8s(Buffer.from('Ünïcode')), 'Ünïcode')
  assert.equal(identityKey({ manufacturer: 'Polar', model: 'H10', serial: 'C0680226' }), 'Polar/H10/C0680226')
  assert.equal(identityKey({ manufacturer: 'Polar', model: 'H10', serial: null }), null)
})
