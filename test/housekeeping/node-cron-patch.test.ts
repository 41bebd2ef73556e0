/**
 * The node-cron patch (patches/node-cron+4.6.0.patch, applied by patch-package at npm ci):
 * node-cron 4 reads every time it schedules through Intl.DateTimeFormat, which pages in ICU's
 * locale and time-zone-name data: about 8 MB of resident memory in an agent that schedules its
 * housekeeping (BENCHMARKS.md, session 11). The patch reads the process's own time zone with
 * Date's getters; a named time zone still goes through Intl. Checked in child processes under
 * zones with daylight saving, half-hour and 45-minute offsets: the local reading equals Intl's for
 * the same zone named, at every few hours of a year; and scheduling needs no Intl at all.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import test from 'node:test'

const require = createRequire(import.meta.url)
const shared = require.resolve('node-cron').replace(/node-cron\.(c?js)$/, '_shared.$1')

test('node-cron patch: applied (npm ci runs patch-package)', () => {
  for (const file of [shared.replace(/\.c?js$/, '.js'), shared.replace(/\.c?js$/, '.cjs')]) {
    assert.match(readFileSync(file, 'utf8'), /bedside-hub patch: the process's own time zone/, `${file} is unpatched: run \`npx patch-package\``)
  }
})

// LocalizedTime (exported as L) without a zone takes the patched path, with the zone's name Intl's.
const EQUAL = `
const { L: LocalizedTime } = await import(${JSON.stringify(pathToFileURL(shared.replace(/\.c?js$/, '.js')).href)})
const zone = process.env.TZ
let differ = 0, n = 0
const start = Date.UTC(2026, 0, 1)
for (let t = start; t < start + 366 * 86400e3; t += 0.37 * 3600e3 + 1234, n++) {
  const a = new LocalizedTime(new Date(t)).getParts(), b = new LocalizedTime(new Date(t), zone).getParts()
  if (JSON.stringify({ ...a, gmt: a.gmt }) !== JSON.stringify({ ...b, gmt: b.gmt })) differ++
}
process.stdout.write(JSON.stringify({ n, differ }))
`

test('node-cron patch: the local time zone read with Date equals Intl reading the same zone by name, through a year', () => {
  for (const zone of ['Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Australia/Lord_Howe', 'Pacific/Chatham', 'UTC']) {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', EQUAL], { env: { ...process.env, TZ: zone }, encoding: 'utf8' })
    assert.equal(r.status, 0, r.stderr)
    const { n, differ } = JSON.parse(r.stdout) as { n: number; differ: number }
    assert.ok(n > 20_000, `${zone}: ${n} times`)
    assert.equal(differ, 0, `${zone}: ${differ} of ${n} times read differently`)
  }
})

// Scheduling as agent/housekeeping does (no time zone), with Intl.DateTimeFormat counted.
const SCHEDULE = `
let made = 0
const D = Intl.DateTimeFormat
Intl.DateTimeFormat = new Proxy(D, { construct: (t, a) => (made++, Reflect.construct(t, a)), apply: (t, s, a) => (made++, Reflect.apply(t, s, a)) })
const cron = (await import('node-cron')).default
const task = cron.schedule('*/10 * * * *', () => {}, { name: 'x', noOverlap: true })
const next = task.getNextRun()
task.destroy()
process.stdout.write(JSON.stringify({ made, next: next?.getTime() }))
`

test('node-cron patch: a schedule in the local zone constructs no Intl.DateTimeFormat, and its next run is the next ten minutes', () => {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', SCHEDULE], { env: { ...process.env, TZ: 'Europe/Berlin' }, encoding: 'utf8', cwd: require.resolve('node-cron').replace(/node_modules\/node-cron\/.*$/, '') })
  assert.equal(r.status, 0, r.stderr)
  const { made, next } = JSON.parse(r.stdout) as { made: number; next: number }
  assert.equal(made, 0, 'Intl.DateTimeFormat constructed')
  const now = Date.now()
  assert.ok(next > now && next <= now + 600_000 && next % 600_000 === 0, `next run ${new Date(next).toISOString()}`)
})
