/**
 * Issue 18, identifiers at rest: the store seals MRN, name and birth date with AES-256-GCM under
 * the data key; a byte search of the data directory (database, WAL, SHM) finds none of them; a
 * plaintext store of schema v2 is converted when opened; a rotation re-seals every field and the
 * old key can be dropped; a flipped byte is an error naming the field, never garbage.
 */
import assert from 'node:assert/strict'
import { chmodSync, existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import Database from 'better-sqlite3'
import { parseConfig } from '../../agent/config.js'
import { relink } from '../../agent/commands/relink.js'
import { DATA_KEY_FILE, DataKeyError, DataKeys } from '../../agent/secrets/data-key.js'
import { SecretFileError } from '../../agent/secrets/permissions.js'
import { Admissions } from '../../agent/store/admissions.js'
import { FieldCipher, FieldCipherError, keyIdOf } from '../../agent/store/crypto.js'
import { openDatabase, SCHEMA_VERSION, storeCipher } from '../../agent/store/db.js'
import { dataKeysInUse, rotateDataKey } from '../../agent/store/rekey.js'
import { Pseudonymizer } from '../../agent/sync/pseudonym.js'
import { tempDir } from '../support/agent-process.js'
import { planted } from '../support/ward.js'

const needles = (n: number): string[] => Array.from({ length: n }, (_, i) => [planted.mrn(i), planted.name(i), planted.birthDate(i)]).flat()

/** Every needle found in the store's files (key files aside), as "file: needle". */
function scanDataDir(dir: string, ns: readonly string[]): string[] {
  const found: string[] = []
  for (const f of readdirSync(dir)) {
    if (!f.startsWith('bedside.db')) continue
    const bytes = readFileSync(join(dir, f))
    for (const n of ns) if (bytes.includes(Buffer.from(n, 'utf8'))) found.push(`${f}: ${n}`)
  }
  return found
}

function admitPlanted(db: Database.Database, n: number): Admissions {
  const a = new Admissions(db)
  for (let i = 0; i < n; i++) a.admit(`bed-${i}`, planted.mrn(i), planted.name(i), planted.birthDate(i), 1000 + i)
  return a
}

test('at rest: a sealed field opens to its plaintext; a flipped byte, another row or another column is a clear error', () => {
  const keys = DataKeys.open(tempDir('fieldkey'))
  const c = new FieldCipher(keys)
  const sealed = c.seal('MRN-0001', 'admissions.mrn#1')
  assert.equal(sealed[0], 1, 'format version byte')
  assert.equal(keyIdOf(sealed), keys.current.id)
  assert.equal(sealed.length, 1 + 4 + 12 + 'MRN-0001'.length + 16)
  assert.equal(c.open(sealed, 'admissions.mrn#1'), 'MRN-0001')
  assert.notDeepEqual(c.seal('MRN-0001', 'admissions.mrn#1'), sealed, 'a fresh random IV per seal (NIST SP 800-38D §8.2.2)')
  for (const at of [5, 17, sealed.length - 1]) {
    const bad = Buffer.from(sealed)
    bad[at]! ^= 0x01
    assert.throws(() => c.open(bad, 'admissions.mrn#1'), (e: unknown) => e instanceof FieldCipherError && e.code === 'BEDSIDE_ERR_FIELD_AUTH' && e.message.includes('admissions.mrn#1') && !e.message.includes('MRN-0001'))
  }
  assert.throws(() => c.open(sealed, 'admissions.mrn#2'), (e: unknown) => e instanceof FieldCipherError && e.code === 'BEDSIDE_ERR_FIELD_AUTH')
  assert.throws(() => c.open(sealed, 'admissions.name#1'), (e: unknown) => e instanceof FieldCipherError && e.code === 'BEDSIDE_ERR_FIELD_AUTH')
  const other = Buffer.from(sealed)
  other.writeUInt32BE(99, 1)
  assert.throws(() => c.open(other, 'admissions.mrn#1'), (e: unknown) => e instanceof FieldCipherError && e.code === 'BEDSIDE_ERR_DATA_KEY_MISSING')
})

test('at rest: admissions through the store leave no MRN, name or birth date in the database, WAL or SHM; reopening reads them back', () => {
  const dir = tempDir('atrest')
  let db = openDatabase(dir)
  const a = admitPlanted(db, 4)
  a.discharge('bed-3', 5000)
  assert.deepEqual(scanDataDir(dir, needles(4)), [])
  db.close()
  assert.deepEqual(scanDataDir(dir, needles(4)), [])
  assert.equal(statSync(join(dir, DATA_KEY_FILE)).mode & 0o777, 0o600)
  db = openDatabase(dir)
  const b = new Admissions(db)
  assert.equal(b.current('bed-0')?.mrn, planted.mrn(0))
  assert.equal(b.current('bed-2')?.name, planted.name(2))
  assert.equal(b.current('bed-3'), undefined)
  const past = b.get(4)
  assert.equal(past?.birthDate, planted.birthDate(3), 'a discharged admission opens from the store')
  db.close()
})

test('at rest: a flipped byte in a stored MRN fails the open with BEDSIDE_ERR_FIELD_AUTH naming the row', () => {
  const dir = tempDir('tamper')
  let db = openDatabase(dir)
  admitPlanted(db, 1)
  const { mrn } = db.prepare('SELECT mrn FROM admissions WHERE id = 1').get() as { mrn: Buffer }
  mrn[20]! ^= 0x40
  db.prepare('UPDATE admissions SET mrn = ? WHERE id = 1').run(mrn)
  db.close()
  db = openDatabase(dir)
  assert.throws(() => new Admissions(db), (e: unknown) => e instanceof FieldCipherError && e.code === 'BEDSIDE_ERR_FIELD_AUTH' && /admissions\.mrn#1/.test(e.message))
  db.close()
})

/** A store exactly as schema v2 left it (agent 0.1.0 before issue 18): identities in clear. */
function writeV2Store(dir: string, n: number): void {
  const db = new Database(join(dir, 'bedside.db'))
  db.pragma('journal_mode = WAL')
  db.exec(`
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
    CREATE TABLE admissions (id INTEGER PRIMARY KEY, bed_id TEXT NOT NULL, mrn TEXT NOT NULL, name TEXT, birth_date TEXT, admitted_ms INTEGER NOT NULL, discharged_ms INTEGER) STRICT;
    CREATE INDEX admissions_by_bed ON admissions (bed_id, discharged_ms);
    CREATE TABLE records (hub_seq INTEGER PRIMARY KEY, kind INTEGER NOT NULL, bed_id TEXT, device_id TEXT, admission_id INTEGER, code INTEGER, value REAL, unit TEXT, device_time_ms INTEGER, hub_time_ms INTEGER NOT NULL, device_seq INTEGER, quality INTEGER, body BLOB) STRICT;
    CREATE TABLE sync_cursor (id INTEGER PRIMARY KEY CHECK (id = 1), hub_seq INTEGER NOT NULL) STRICT;
    INSERT INTO sync_cursor (id, hub_seq) VALUES (1, 0);
    CREATE TABLE ble_pairings (address TEXT PRIMARY KEY, device_id TEXT NOT NULL UNIQUE, device_type TEXT NOT NULL, bed_id TEXT NOT NULL, added_ms INTEGER NOT NULL, added_by TEXT NOT NULL, audited INTEGER NOT NULL DEFAULT 0) STRICT;
  `)
  const ins = db.prepare('INSERT INTO admissions (bed_id, mrn, name, birth_date, admitted_ms, discharged_ms) VALUES (?,?,?,?,?,?)')
  for (let i = 0; i < n; i++) ins.run(`bed-${i}`, planted.mrn(i), i === 1 ? null : planted.name(i), planted.birthDate(i), 1000 + i, i === 0 ? 2000 : null)
  db.pragma('user_version = 2')
  db.pragma('wal_checkpoint(TRUNCATE)')
  db.close()
}

test('at rest: a plaintext store of schema v2 is converted when opened: every row sealed, no plaintext left in any file', () => {
  const dir = tempDir('migrate')
  writeV2Store(dir, 5)
  assert.ok(scanDataDir(dir, needles(5)).length > 0, 'the fixture holds identities in clear')
  const db = openDatabase(dir)
  assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION)
  assert.deepEqual(scanDataDir(dir, needles(5).filter((n) => n !== planted.name(1))), [])
  const a = new Admissions(db)
  assert.equal(a.get(1)?.mrn, planted.mrn(0), 'discharged row converted too')
  assert.equal(a.current('bed-1')?.name, null, 'NULL stays NULL')
  assert.equal(a.current('bed-4')?.birthDate, planted.birthDate(4))
  const next = a.admit('bed-9', 'MRN-NEW', null, null, 9000)
  assert.equal(next.id, 6)
  db.close()
  assert.deepEqual(scanDataDir(dir, needles(5)), [])
})

test('at rest: data-key rotation re-seals every field under the new key; the old key is dropped and the store still opens', () => {
  const dir = tempDir('rotate')
  let db = openDatabase(dir)
  admitPlanted(db, 3)
  const first = storeCipher(db).keys.current.id
  assert.deepEqual([...dataKeysInUse(db)], [first])
  const r = rotateDataKey(db, 5000)
  assert.notEqual(r.keyId, first)
  assert.equal(r.resealedFields, 9)
  assert.deepEqual(r.droppedKeyIds, [first])
  assert.deepEqual([...dataKeysInUse(db)], [r.keyId])
  db.close()
  const file = JSON.parse(readFileSync(join(dir, DATA_KEY_FILE), 'utf8')) as { keys: { id: number }[] }
  assert.deepEqual(file.keys.map((k) => k.id), [r.keyId], 'the old key is gone from the key file')
  db = openDatabase(dir)
  const a = new Admissions(db)
  assert.equal(a.current('bed-1')?.mrn, planted.mrn(1))
  assert.equal(a.current('bed-2')?.name, planted.name(2))
  db.close()
})

test('at rest: a rotation that stops before dropping the old key keeps every row readable; the next rotation drops it', () => {
  const dir = tempDir('rotate2')
  const keys = DataKeys.open(dir)
  let db = openDatabase(dir, { keys })
  admitPlanted(db, 2)
  const first = keys.current.id
  const second = keys.add(3000).id // step 1 of a rotation, then "crash": rows still under the first key
  db.close()
  db = openDatabase(dir)
  assert.equal(new Admissions(db).current('bed-0')?.mrn, planted.mrn(0))
  const r = rotateDataKey(db, 4000)
  assert.deepEqual(r.droppedKeyIds, [first, second])
  assert.deepEqual([...dataKeysInUse(db)], [r.keyId])
  db.close()
})

test('at rest: a lost data key file is "key missing", not "altered": a fresh key never reuses the old id', () => {
  const dir = tempDir('lostkey')
  let db = openDatabase(dir)
  admitPlanted(db, 1)
  db.close()
  rmSync(join(dir, DATA_KEY_FILE))
  db = openDatabase(dir)
  assert.throws(() => new Admissions(db), (e: unknown) => e instanceof FieldCipherError && e.code === 'BEDSIDE_ERR_DATA_KEY_MISSING' && /restore data-key\.json/.test(e.message))
  db.close()
})

test('at rest: the data key file readable by others is refused with the fix', () => {
  const dir = tempDir('keyperm')
  openDatabase(dir).close()
  DataKeys.open(dir)
  chmodSync(join(dir, DATA_KEY_FILE), 0o644)
  assert.throws(() => DataKeys.open(dir), (e: unknown) => e instanceof SecretFileError && e.code === 'BEDSIDE_ERR_SECRET_PERMISSIONS' && e.message.includes(`chmod 600 ${join(dir, DATA_KEY_FILE)}`))
})

test('at rest: with a systemd credential the data keys are wrapped under it; without it the store does not open', () => {
  const dir = tempDir('cred')
  const creds = tempDir('creds')
  writeFileSync(join(creds, 'bedside-hub-data-key'), Buffer.alloc(32, 7).toString('base64'), { mode: 0o400 })
  const keys = DataKeys.open(dir, { credentialsDir: creds })
  assert.equal(keys.sealedByCredential, true)
  const db = openDatabase(dir, { keys })
  admitPlanted(db, 1)
  db.close()
  const doc = JSON.parse(readFileSync(join(dir, DATA_KEY_FILE), 'utf8')) as { wrap: string; keys: { key: string }[] }
  assert.equal(doc.wrap, 'credential')
  assert.notEqual(doc.keys[0]!.key, keys.current.key.toString('base64'), 'no data key in clear in the file')
  assert.equal(DataKeys.open(dir, { credentialsDir: creds }).current.key.equals(keys.current.key), true)
  assert.throws(() => DataKeys.open(dir, { credentialsDir: undefined }), (e: unknown) => e instanceof DataKeyError && e.code === 'BEDSIDE_ERR_DATA_KEY' && /LoadCredentialEncrypted/.test(e.message))
  const wrongCreds = tempDir('creds-wrong')
  writeFileSync(join(wrongCreds, 'bedside-hub-data-key'), Buffer.alloc(32, 8))
  assert.throws(() => DataKeys.open(dir, { credentialsDir: wrongCreds }), (e: unknown) => e instanceof DataKeyError && /does not open with the credential/.test(e.message))
})

test('at rest: a clear key file is wrapped in place when the credential first arrives', () => {
  const dir = tempDir('cred2')
  const clear = DataKeys.open(dir, { credentialsDir: undefined })
  const creds = tempDir('creds2')
  writeFileSync(join(creds, 'bedside-hub-data-key'), Buffer.alloc(32, 9))
  const wrapped = DataKeys.open(dir, { credentialsDir: creds })
  assert.equal(wrapped.current.key.equals(clear.current.key), true)
  assert.equal((JSON.parse(readFileSync(join(dir, DATA_KEY_FILE), 'utf8')) as { wrap: string }).wrap, 'credential')
})

test('at rest: relink opens the sealed MRNs and resolves a pseudonym to its admission', () => {
  const dir = tempDir('relink')
  const cfg = parseConfig({ hub: { id: 'h', site: 'site-r', data_dir: join(dir, 'data') } })
  const db = openDatabase(cfg.hub.data_dir)
  admitPlanted(db, 3)
  db.close()
  const p = Pseudonymizer.open(cfg.hub.data_dir, cfg.hub.site, 1000)
  const hits = relink(p.pseudonym('patient', planted.mrn(2)), cfg)
  assert.equal(hits.length, 1)
  assert.deepEqual({ mrn: hits[0]!.admission?.mrn, name: hits[0]!.admission?.name, bed: hits[0]!.admission?.bedId }, { mrn: planted.mrn(2), name: planted.name(2), bed: 'bed-2' })
  assert.ok(existsSync(join(cfg.hub.data_dir, DATA_KEY_FILE)))
})
