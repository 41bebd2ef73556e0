/**
 * packaging/61-bedside-hub-serial.rules, checked without a udev daemon (Debian 12's udevadm has no
 * `verify`): every rule line is a list of KEY{attr}OP"value" pairs with operators that fit the key,
 * GOTO targets exist, and the adapters named in the docs are matched.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { REPO } from './support.js'

const text = readFileSync(join(REPO, 'packaging/61-bedside-hub-serial.rules'), 'utf8')
const rules = text.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'))
const PAIR = /^\s*([A-Z_]+)(?:\{([A-Za-z0-9_]+)\})?(==|!=|\+=|:=|=)"([^"]*)"\s*$/
/** udev(7): keys that only match, and keys that only assign. */
const MATCH_ONLY = new Set(['ACTION', 'SUBSYSTEM', 'SUBSYSTEMS', 'ATTRS', 'KERNEL', 'KERNELS', 'DRIVERS'])
const ASSIGN_ONLY = new Set(['GROUP', 'MODE', 'SYMLINK', 'GOTO', 'LABEL', 'IMPORT', 'OWNER', 'TAG', 'RUN'])

test('packaging: every udev rule is a list of KEY op "value" pairs with operators that fit the key', () => {
  for (const line of rules) {
    for (const pair of line.split(/,(?=\s*[A-Z_]+(?:\{[^}]*\})?(?:==|!=|\+=|:=|=)")/)) {
      const m = PAIR.exec(pair)
      assert.ok(m, `not a KEY op "value" pair: ${pair} (line: ${line})`)
      const [, key, , op] = m
      const matching = op === '==' || op === '!='
      if (MATCH_ONLY.has(key!)) assert.ok(matching, `${key} can only match: ${line}`)
      if (ASSIGN_ONLY.has(key!)) assert.ok(!matching, `${key} can only be assigned: ${line}`)
    }
  }
})

test('packaging: udev GOTO targets exist and the documented adapters are matched', () => {
  const labels = new Set([...text.matchAll(/^LABEL="([^"]+)"/gm)].map((m) => m[1]))
  for (const m of text.matchAll(/GOTO="([^"]+)"/g)) assert.ok(labels.has(m[1]!), `GOTO to a missing LABEL ${m[1]}`)
  // FTDI, Prolific, Silicon Labs, WCH, Microchip (docs/hospital-it.md, "Connect a serial monitor").
  for (const vendor of ['0403', '067b', '10c4', '1a86', '04d8']) assert.match(text, new RegExp(`ATTRS\\{idVendor\\}=="${vendor}"`))
  assert.match(text, /GROUP="dialout", MODE="0660", ENV\{ID_MM_DEVICE_IGNORE\}="1"/)
  assert.match(text, /SYMLINK\+="bedside-hub\/serial-\$env\{ID_SERIAL_SHORT\}"/)
})
