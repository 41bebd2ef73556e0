/**
 * Issue 18, secrets hygiene: a config or key file readable by others is refused at start (where the
 * agent is installed: BEDSIDE_HUB_PERMISSIONS=enforce, set by the launcher; a checkout warns) with the
 * chmod that fixes it (exit 2, from `run` and from `config check`), as ssh refuses an unprotected
 * private key; 0600 (or 0640 of the agent's own group) is accepted; the embedded demo config has no
 * file to check. Kafka SASL without TLS is refused unless cloud.kafka.allow_plaintext_sasl.
 */
import assert from 'node:assert/strict'
import { chmodSync, chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import YAML from 'yaml'
import { ConfigError, loadConfigFile, parseConfig } from '../../agent/config.js'
import { SecretFileError, secretFileProblem } from '../../agent/secrets/permissions.js'
import { kafkaSecurity, KafkaSecurityError } from '../../agent/sync/security.js'
import { Pseudonymizer } from '../../agent/sync/pseudonym.js'
import { freePort, spawnCli, tempDir, waitFor } from '../support/agent-process.js'

async function writeConfig(dir: string, mode: number, extra: Record<string, unknown> = {}): Promise<string> {
  const file = join(dir, 'config.yaml')
  writeFileSync(file, YAML.stringify({
    hub: { id: 'sec-hub', site: 's', data_dir: join(dir, 'data') },
    http: { listen: `127.0.0.1:${await freePort()}`, tokens: [{ token: 'a-secret-token', role: 'nurse' }] },
    mqtt: { listen: `127.0.0.1:${await freePort()}` }, log: { level: 'warn' }, ...extra,
  }), { mode })
  chmodSync(file, mode) // whatever the umask
  return file
}

const sasl = { mechanism: 'scram-sha-512', username: 'agent', password: 'pw-of-the-agent' }
const kafkaDoc = (kafka: Record<string, unknown>) => ({ hub: { id: 'h', site: 's', data_dir: '/tmp/x' }, cloud: { kafka: { brokers: ['127.0.0.1:9093'], ...kafka } } })

test('secrets: a config readable by others is refused before it is read, with the chmod in the message', async () => {
  const file = await writeConfig(tempDir('sec'), 0o644)
  const enforce = { policy: 'enforce' as const }
  assert.throws(() => loadConfigFile(file, enforce), (e: unknown) => e instanceof ConfigError && e.code === 'BEDSIDE_ERR_SECRET_PERMISSIONS'
    && e.message === `config ${file} is readable by others (mode 0644); it holds secrets. Run: chmod 600 ${file}`)
  chmodSync(file, 0o604)
  assert.throws(() => loadConfigFile(file, enforce), (e: unknown) => e instanceof ConfigError && e.code === 'BEDSIDE_ERR_SECRET_PERMISSIONS')
  // A checkout's run (no BEDSIDE_HUB_PERMISSIONS) warns instead, with the same fix.
  const warned: string[] = []
  assert.equal(loadConfigFile(file, { policy: 'warn', warn: (m) => warned.push(m) }).hub.id, 'sec-hub')
  assert.deepEqual(warned, [`config ${file} is readable by others (mode 0604); it holds secrets. Run: chmod 600 ${file}`])
  chmodSync(file, 0o600)
  assert.equal(loadConfigFile(file, enforce).hub.id, 'sec-hub')
})

test('secrets: group access is allowed only when the file belongs to the agent\'s own group', async (t) => {
  const file = await writeConfig(tempDir('secgrp'), 0o640)
  chownSync(file, process.geteuid!(), process.getegid!())
  assert.equal(secretFileProblem(file, 'config'), null, '0640 of the agent\'s own group (the Debian package: root:bedside-hub 0640)')
  if (process.geteuid!() !== 0) return t.skip('chgrp to a foreign group needs root')
  const other = process.getegid!() === 0 ? 1 : 0
  chownSync(file, process.geteuid!(), other)
  const p = secretFileProblem(file, 'config')
  assert.ok(p instanceof SecretFileError)
  assert.match(p.message, new RegExp(`accessible to group ${other} \\(mode 0640\\), which is not the agent's own group.*chmod 600`))
})

test('secrets: `bedside-hub run` with a 0644 config exits 2 and says how to fix it where installed (enforce); `config check` exits 2 too', async () => {
  const file = await writeConfig(tempDir('secrun'), 0o644)
  const run = spawnCli(['run', '--config', file], { BEDSIDE_HUB_PERMISSIONS: 'enforce' })
  assert.equal(await run.exited, 2)
  assert.match(run.output(), /is readable by others \(mode 0644\).*Run: chmod 600 /)
  const check = spawnCli(['config', 'check', file])
  assert.equal(await check.exited, 2)
  assert.match(check.output(), new RegExp(`config ${file} is readable by others \\(mode 0644\\); it holds secrets\\. Run: chmod 600 ${file}`))
  chmodSync(file, 0o600)
  const ok = spawnCli(['config', 'check', file])
  assert.equal(await ok.exited, 0, ok.output())
})

test('secrets: a pseudonym key file readable by others is refused at start (exit 2) with the fix', async () => {
  const dir = tempDir('seckeys')
  const file = await writeConfig(dir, 0o600)
  mkdirSync(join(dir, 'data'), { mode: 0o700 })
  Pseudonymizer.open(join(dir, 'data'), 's', 1000)
  chmodSync(join(dir, 'data', 'keys.json'), 0o644)
  assert.throws(() => Pseudonymizer.open(join(dir, 'data'), 's', 1000), (e: unknown) => e instanceof SecretFileError && e.code === 'BEDSIDE_ERR_SECRET_PERMISSIONS')
  const run = spawnCli(['run', '--config', file])
  assert.equal(await run.exited, 2)
  assert.match(run.output(), /pseudonym key file .*keys\.json is readable by others \(mode 0644\).*chmod 600/)
})

test('secrets: Kafka SASL without TLS is refused naming cloud.kafka.allow_plaintext_sasl; with it, or with ssl, accepted', () => {
  assert.throws(() => parseConfig(kafkaDoc({ sasl })), (e: unknown) => e instanceof ConfigError && e.code === 'BEDSIDE_ERR_CONFIG'
    && /cloud\.kafka\.sasl: SASL without TLS is refused.*cloud\.kafka\.allow_plaintext_sasl: true/.test(e.message))
  assert.equal(parseConfig(kafkaDoc({ sasl, allow_plaintext_sasl: true })).cloud?.kafka.allow_plaintext_sasl, true)
  assert.equal(parseConfig(kafkaDoc({ sasl, ssl: { ca_file: '/etc/ssl/ca.pem' } })).cloud?.kafka.allow_plaintext_sasl, false)
  assert.equal(parseConfig(kafkaDoc({})).cloud?.kafka.allow_plaintext_sasl, false, 'no SASL, no TLS: nothing secret to protect on the wire but the data (DESIGN: TLS is supported, not required)')
})

test('secrets: `config check` reports SASL without TLS (exit 1) and a SASL password file readable by others (exit 2)', async () => {
  const dir = tempDir('secsasl')
  const plain = await writeConfig(dir, 0o600, { cloud: { kafka: { brokers: ['127.0.0.1:9093'], sasl } } })
  const r1 = spawnCli(['config', 'check', plain])
  assert.equal(await r1.exited, 1)
  assert.match(r1.output(), /cloud\.kafka\.sasl: SASL without TLS is refused/)
  const pwFile = join(dir, 'sasl-password')
  writeFileSync(pwFile, 'pw\n', { mode: 0o644 })
  chmodSync(pwFile, 0o644)
  const withFile = await writeConfig(tempDir('secsasl2'), 0o600, { cloud: { kafka: { brokers: ['127.0.0.1:9093'], allow_plaintext_sasl: true, sasl: { mechanism: 'scram-sha-512', username: 'agent', password_file: pwFile } } } })
  const r2 = spawnCli(['config', 'check', withFile])
  assert.equal(await r2.exited, 2)
  assert.match(r2.output(), new RegExp(`cloud\\.kafka\\.sasl\\.password_file ${pwFile} is readable by others \\(mode 0644\\)`))
  assert.throws(() => kafkaSecurity(loadConfigFile(withFile).cloud!.kafka), (e: unknown) => e instanceof KafkaSecurityError && /chmod 600/.test(e.message))
})

test('secrets: from a checkout (no BEDSIDE_HUB_PERMISSIONS) a 0644 config starts the agent with a warning naming the fix', async () => {
  const file = await writeConfig(tempDir('secwarn'), 0o644)
  const port = Number(/127\.0\.0\.1:(\d+)/.exec(readFileSync(file, 'utf8'))![1])
  const env: Record<string, string> = {}
  if (process.env.BEDSIDE_HUB_PERMISSIONS !== undefined) env.BEDSIDE_HUB_PERMISSIONS = 'warn'
  const run = spawnCli(['run', '--config', file], env)
  try {
    await waitFor('the agent', async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok, 20_000)
    assert.match(run.output(), /WARNING: config .* is readable by others \(mode 0644\).*Run: chmod 600 .*BEDSIDE_HUB_PERMISSIONS=enforce/)
  } finally {
    run.proc.kill('SIGTERM')
    await run.exited
  }
})

test('secrets: a TLS private key readable by others is reported by config check and refused at start where installed', async () => {
  const dir = tempDir('seckey')
  const key = join(dir, 'server.key')
  const cert = join(dir, 'server.crt')
  writeFileSync(key, '-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n', { mode: 0o644 })
  chmodSync(key, 0o644)
  writeFileSync(cert, 'not a certificate\n')
  const file = await writeConfig(dir, 0o600, { mqtt: { listen: `127.0.0.1:${await freePort()}`, tls: { cert, key } } })
  const check = spawnCli(['config', 'check', file])
  assert.equal(await check.exited, 2)
  assert.match(check.output(), new RegExp(`mqtt\\.tls\\.key ${key} is readable by others \\(mode 0644\\).*chmod 600 ${key}`))
  const run = spawnCli(['run', '--config', file], { BEDSIDE_HUB_PERMISSIONS: 'enforce' })
  assert.equal(await run.exited, 2)
  assert.match(run.output(), /mqtt\.tls\.key .* is readable by others/)
})
