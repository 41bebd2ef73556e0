/** `bedside-hub status` formatting and addressing (the live path is in deb.test.ts). */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { formatDuration, formatStatus, urlOfListen, type AgentStatus } from '../../agent/commands/status.js'
import { run } from './support.js'

const NOW_MS = 1_800_000_000_000

const status: AgentStatus = {
  hub: 'ward-3a',
  version: '0.1.0',
  uptimeS: 3 * 3600 + 125,
  devices: [
    { id: 'patch-3a-01', bedId: '3a-01', type: 'polar-pmd', link: { state: 'connected' } },
    { id: 'ser-3a-02', bedId: '3a-02', type: 'datex', link: { state: 'disconnected', cause: 'ENOENT /dev/ttyUSB0' } },
    { id: 'spo2-3a-02', bedId: '3a-02', type: 'ble-plx', link: { state: 'silent', sinceMs: NOW_MS - 95_000 } },
    { id: 'mon-3a-01', bedId: '3a-01', type: 'mqtt', link: null },
  ],
  queue: { depth: 1532, oldestUnsyncedAgeS: 754 },
  sync: { configured: true, up: false, failingSinceMs: NOW_MS - 760_000, lastError: { atMs: NOW_MS - 1000, message: 'Connection timeout' } },
  activeAlarms: 2,
}

test('packaging: status summary shows links, queue depth with sync lag, sync failure and active alarms', () => {
  const text = formatStatus(status, NOW_MS)
  assert.match(text, /^hub ward-3a \(bedside-hub 0\.1\.0\), up 3h 2m\n/)
  assert.match(text, /devices: 4 configured, 1 connected\n/)
  assert.match(text, /ser-3a-02 +bed 3a-02 +datex +disconnected: ENOENT \/dev\/ttyUSB0\n/)
  assert.match(text, /spo2-3a-02 +bed 3a-02 +ble-plx +silent for 1m 35s\n/)
  assert.match(text, /queue: 1532 records not yet synced, sync lag 12m 34s/)
  assert.match(text, /sync: FAILING for 12m 40s: Connection timeout\n/)
  assert.match(text, /active alarms: 2\n$/)
})

test('packaging: status summary without a cloud says the records stay on the gateway', () => {
  const text = formatStatus({ ...status, sync: { configured: false }, queue: { depth: 7, oldestUnsyncedAgeS: 30 } }, NOW_MS)
  assert.match(text, /queue: 7 records kept on this gateway \(no cloud configured\)/)
  assert.match(text, /sync: not configured/)
})

test('packaging: status finds the agent on this host for wildcard listen addresses', () => {
  assert.equal(urlOfListen('0.0.0.0:8080'), 'http://127.0.0.1:8080')
  assert.equal(urlOfListen('10.1.2.3:9000'), 'http://10.1.2.3:9000')
  assert.equal(urlOfListen('gateway.ward:80'), 'http://gateway.ward:80')
})

test('packaging: durations read as an operator would say them', () => {
  assert.equal(formatDuration(0), '0s')
  assert.equal(formatDuration(59.6), '1m 0s')
  assert.equal(formatDuration(3600 * 26 + 60), '1d 2h 1m')
})

test('packaging: status exits 1 and says so when no agent answers', () => {
  const r = run(process.execPath, ['--import', 'tsx', 'agent/cli.ts', 'status', '--url', 'http://127.0.0.1:9', '--timeout-ms', '2000'])
  assert.equal(r.status, 1)
  assert.match(r.stderr, /no answer from the agent at http:\/\/127\.0\.0\.1:9/)
})
