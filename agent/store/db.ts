/**
 * The agent's SQLite database: opening, durability settings, schema and its version.
 *
 * Durability, exactly (SQLite WAL semantics, https://sqlite.org/wal.html):
 * - journal_mode=WAL, synchronous=FULL: every COMMIT appends the transaction's pages to the WAL and
 *   fsyncs the WAL before COMMIT returns. better-sqlite3 would default to NORMAL in WAL mode, which
 *   skips that fsync and can lose the last transactions on power loss; FULL cannot.
 *   The group commit's own transaction is the one exception (`store.commit_fsync: background`, the
 *   default): it runs with NORMAL and its fsync follows on a pool thread (wal-fsync.ts); nothing of
 *   the batch is acknowledged or read for Kafka or HL7 before that fsync returned, so what is
 *   acknowledged is exactly as durable, and what a power cut can take was never shown to anyone.
 * - Process crash (kill -9, OOM, segfault) at any moment: every transaction that returned from COMMIT
 *   survives; a transaction in progress is rolled back on the next open (its frames in the WAL have
 *   no commit marker). A record is never half-written. The agent acknowledges a record only after
 *   its group commit and its fsync returned, so every acknowledged record survives.
 * - Power cut / kernel panic: the same holds as long as the disk honours fsync (no volatile write
 *   cache that lies). A gateway with such a disk can lose acknowledged data; hospital IT must use
 *   disks with power-loss protection or write-through caching (README, hospital IT section).
 * - Checkpoints copy WAL pages into the main file; they are crash-safe by design (the WAL is only
 *   reset after the main file is fsynced).
 */
import { chmodSync, existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { DataKeyError, DataKeys } from '../secrets/data-key.js'
import { SecretFileError } from '../secrets/permissions.js'
import { FieldCipher, fieldPurpose, type KeyRing } from './crypto.js'

export type Db = Database.Database

/** Bump with a migration in `migrations` below. */
export const SCHEMA_VERSION = 9

export class StoreError extends Error {
  constructor(readonly code: 'BEDSIDE_ERR_STORE_CORRUPT' | 'BEDSIDE_ERR_STORE_NEWER' | 'BEDSIDE_ERR_STORE_OPEN', readonly file: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'StoreError'
  }
}

const migrations: ReadonlyArray<(db: Db) => void> = [
  // v0 → v1: records (the durable log and outbox), admissions, sync cursor, meta.
  (db) => {
    db.exec(`
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
      CREATE TABLE admissions (
        id INTEGER PRIMARY KEY,
        bed_id TEXT NOT NULL,
        mrn TEXT NOT NULL,
        name TEXT,
        birth_date TEXT,
        admitted_ms INTEGER NOT NULL,
        discharged_ms INTEGER
      ) STRICT;
      CREATE INDEX admissions_by_bed ON admissions (bed_id, discharged_ms);
      -- One row per accepted record. hub_seq is assigned by the agent (monotonic across restarts,
      -- never reused even after retention deletes rows; see meta.hub_seq_floor).
      CREATE TABLE records (
        hub_seq INTEGER PRIMARY KEY,
        kind INTEGER NOT NULL,          -- 1 observation, 2 waveform, 3 alarm, 4 audit
        bed_id TEXT,
        device_id TEXT,
        admission_id INTEGER,
        code INTEGER,
        value REAL,
        unit TEXT,
        device_time_ms INTEGER,
        hub_time_ms INTEGER NOT NULL,
        device_seq INTEGER,
        quality INTEGER,
        body BLOB                       -- waveform samples (int32 LE) or alarm/audit JSON
        -- (v3 adds t0_us INTEGER: waveform sample 0 in µs; a waveform's value is its rate in Hz)
      ) STRICT;
      CREATE TABLE sync_cursor (id INTEGER PRIMARY KEY CHECK (id = 1), hub_seq INTEGER NOT NULL) STRICT;
      INSERT INTO sync_cursor (id, hub_seq) VALUES (1, 0);
    `)
  },
  // v1 → v2: BLE pairings made with `bedside-hub pair add` (the allowlist beyond the config).
  (db) => {
    db.exec(`
      CREATE TABLE ble_pairings (
        address TEXT PRIMARY KEY,       -- lowercase aa:bb:cc:dd:ee:ff
        device_id TEXT NOT NULL UNIQUE,
        device_type TEXT NOT NULL,      -- polar-pmd | ble-hrs | ble-plx | ble-hts
        bed_id TEXT NOT NULL,
        added_ms INTEGER NOT NULL,
        added_by TEXT NOT NULL,
        audited INTEGER NOT NULL DEFAULT 0  -- 1 once the running agent wrote the pairing's audit event
      ) STRICT;
    `)
  },
  // v2 → v3: the redelivery window (seen-messages.ts): the last accepted sender messages per device,
  // written in the same transaction as their records. Keyed by (device, hub_seq) so that pruning a
  // device's oldest keys is one range delete; the key lookup itself is in memory.
  // records.t0_us: a waveform chunk's sample 0 to the microsecond (device_time_ms is its floor), so
  // chunks that abut to the microsecond still do in the cloud. NULL for other kinds and older rows.
  // dead_letter: records the sync can never encode (dead-letter.ts); they stay in records for audit.
  (db) => {
    db.exec(`
      ALTER TABLE records ADD COLUMN t0_us INTEGER;
      -- ward/context.ts: the NEWS2 inputs a nurse set for the patient in a bed (scale 2 is a clinical
      -- decision that must survive a restart); kept for the admission they were set for.
      CREATE TABLE bed_context (
        bed_id TEXT PRIMARY KEY,
        admission_id INTEGER,
        consciousness TEXT, consciousness_ms INTEGER, consciousness_by TEXT,
        on_oxygen INTEGER, on_oxygen_ms INTEGER, on_oxygen_by TEXT,
        spo2_scale INTEGER, spo2_scale_ms INTEGER, spo2_scale_by TEXT
      ) STRICT;
      -- device-seqs.ts: where each device's hub-assigned sequence continues after a restart.
      CREATE TABLE device_seqs (device_id TEXT PRIMARY KEY, next_seq INTEGER NOT NULL) STRICT, WITHOUT ROWID;
      -- device-identities.ts: a device's identity (serial or id, sealed) from the hub_seq it took effect.
      CREATE TABLE device_identities (
        device_id TEXT NOT NULL,
        from_hub_seq INTEGER NOT NULL,
        identity BLOB NOT NULL,         -- sealed (crypto.ts)
        reported INTEGER NOT NULL,      -- 1: a serial the device told itself (kept over restarts until it is unpaired)
        PRIMARY KEY (device_id, from_hub_seq)
      ) STRICT, WITHOUT ROWID;
      CREATE TABLE dead_letter (
        hub_seq INTEGER PRIMARY KEY,
        kind INTEGER NOT NULL,
        reason TEXT NOT NULL,           -- SyncRejectReason
        detail TEXT NOT NULL,
        at_ms INTEGER NOT NULL
      ) STRICT;
      CREATE TABLE seen_messages (
        device_id TEXT NOT NULL,
        hub_seq INTEGER NOT NULL,       -- of the message's first record
        msg_key TEXT NOT NULL,          -- MQTT "seq/ts", HL7 "sender/MSH-10"
        PRIMARY KEY (device_id, hub_seq)
      ) STRICT, WITHOUT ROWID;
    `)
  },
  // v3 → v4 (issue 18): identifying columns sealed at rest.
  sealAdmissionIdentities,
  // v4 → v5 (issue 19): the alarm history (GET /api/alarms?state=all&since=…, alarm-history.ts)
  // reads alarm records by time; a partial index keeps it off the observation rows and costs
  // nothing on their insert path.
  (db) => {
    db.exec(`CREATE INDEX records_alarms_by_time ON records (hub_time_ms, hub_seq) WHERE kind = 3;`)
  },
  // v5 → v6 (issue 21): where an admission came from. source: 'manual' (the API, the nurse's
  // fallback) or 'adt' (the hospital's interface engine, agent/hl7/); for ADT ones the MRN's
  // assigning authority (PID-3 CX-4, a code of the hospital, not identifying) and the visit number
  // (PV1-19, identifying: sealed like the MRN, under fieldPurpose('admissions.visit', id)), and
  // when the newest ADT event applied to it happened (sender's EVN time, ms): an older event
  // arriving late must not undo a newer one.
  (db) => {
    db.exec(`
      ALTER TABLE admissions ADD COLUMN source TEXT NOT NULL DEFAULT 'manual';
      ALTER TABLE admissions ADD COLUMN mrn_authority TEXT;
      ALTER TABLE admissions ADD COLUMN visit BLOB;
      ALTER TABLE admissions ADD COLUMN adt_event_ms INTEGER;
    `)
  },
  // v6 → v7 (issue 21): HL7 out (agent/hl7/outbound.ts). One cursor per destination over `records`
  // ('alarms': the last alarm record the alert manager answered AA; 'results/<bed>': the last record
  // of that bed covered by an acknowledged PCD-01 message); moved only after AA, so a crash re-sends.
  // hl7_dead_letter: messages the receiver rejected (AR) with its reason; the message itself is
  // rebuilt from the records between from_seq and to_seq (the builders are deterministic), so no
  // name or MRN is written here in clear.
  (db) => {
    db.exec(`
      CREATE TABLE hl7_cursor (dest TEXT PRIMARY KEY, hub_seq INTEGER NOT NULL) STRICT;
      CREATE TABLE hl7_dead_letter (
        dest TEXT NOT NULL,
        control_id TEXT NOT NULL,       -- MSH-10
        from_seq INTEGER NOT NULL,
        to_seq INTEGER NOT NULL,
        reason TEXT NOT NULL,           -- the receiver's MSA-3 / ERR text
        at_ms INTEGER NOT NULL,
        PRIMARY KEY (dest, control_id)
      ) STRICT;
    `)
  },
  // v7 → v8 (issue 24): the stay (encounter) an admission belongs to, so a transfer keeps it: the id
  // of the admission that opened the stay (NULL: this one) and when the stay began (PV1-44 when ADT
  // sends it, else that admission's time; NULL: admitted_ms). Neither identifies a person.
  (db) => {
    db.exec(`
      ALTER TABLE admissions ADD COLUMN stay_of INTEGER;
      ALTER TABLE admissions ADD COLUMN stay_start_ms INTEGER;
    `)
  },
  // v8 → v9 (issue 23): run rows. A row may hold a device message's observations as one run
  // covering hub_seq .. hub_seq + n - 1, packed in `items` (run-items.ts; the per-observation
  // columns code..quality are then NULL). Existing rows are single records (n 1, items NULL).
  (db) => {
    db.exec(`
      ALTER TABLE records ADD COLUMN n INTEGER NOT NULL DEFAULT 1;
      ALTER TABLE records ADD COLUMN items BLOB;
    `)
  },
]

/**
 * Issue 18: the table is rebuilt with BLOB columns (STRICT tables cannot hold a BLOB in a TEXT
 * column) and every existing row is sealed by bedside_seal(), which openDatabase registers with
 * the data keys. secure_delete (set by migrate for this step, SEALING_MIGRATIONS) zeroes the old
 * table's pages as they are freed, and migrate checkpoints the WAL afterwards, so no plaintext
 * copy of the old rows stays in the file. Marked by identity, not by index: its place in
 * `migrations` may move when other migrations are merged before it.
 */
function sealAdmissionIdentities(db: Db): void {
  db.exec(`
      CREATE TABLE admissions_sealed (
        id INTEGER PRIMARY KEY,
        bed_id TEXT NOT NULL,
        mrn BLOB NOT NULL,              -- sealed: version, key id, IV, ciphertext, tag
        name BLOB,                      -- sealed, or NULL
        birth_date BLOB,                -- sealed, or NULL
        admitted_ms INTEGER NOT NULL,
        discharged_ms INTEGER
      ) STRICT;
      INSERT INTO admissions_sealed (id, bed_id, mrn, name, birth_date, admitted_ms, discharged_ms)
        SELECT id, bed_id, bedside_seal('admissions.mrn', id, mrn), bedside_seal('admissions.name', id, name),
               bedside_seal('admissions.birth_date', id, birth_date), admitted_ms, discharged_ms FROM admissions;
      DROP TABLE admissions;
      ALTER TABLE admissions_sealed RENAME TO admissions;
      CREATE INDEX admissions_by_bed ON admissions (bed_id, discharged_ms);
    `)
}

/** Migrations that rewrite identifying data: run with secure_delete so freed pages hold no plaintext. */
const SEALING_MIGRATIONS: ReadonlySet<(db: Db) => void> = new Set([sealAdmissionIdentities])

/**
 * The field cipher of each open store, keyed by its connection: whoever opened the store (agent,
 * `relink`, a test) reads admissions through the same keys, and code that only holds a `Db`
 * (Admissions) finds them without a parameter threaded through every layer.
 */
const ciphers = new WeakMap<Db, () => FieldCipher>()

/** The field cipher of a store opened by openDatabase / openReadOnly (loads the data keys on first use). */
export function storeCipher(db: Db): FieldCipher {
  const get = ciphers.get(db)
  if (!get) throw new Error('storeCipher: this connection was not opened by openDatabase or openReadOnly')
  return get()
}

/** Attaches the data keys of `dataDir` (or `keys`) to a connection, loaded lazily. */
export function attachCipher(db: Db, dataDir: string, keys?: KeyRing): void {
  let cipher: FieldCipher | undefined
  ciphers.set(db, () => (cipher ??= new FieldCipher(keys ?? DataKeys.open(dataDir))))
}

function migrate(db: Db, file: string): void {
  const version = db.pragma('user_version', { simple: true }) as number
  if (version > SCHEMA_VERSION) {
    throw new StoreError('BEDSIDE_ERR_STORE_NEWER', file, `${file}: database schema version ${version} is newer than this agent supports (${SCHEMA_VERSION}); upgrade bedside-hub or restore a backup. The file was not modified.`)
  }
  let sealed = false
  for (let v = version; v < SCHEMA_VERSION; v++) {
    const sealing = SEALING_MIGRATIONS.has(migrations[v]!)
    if (sealing) db.pragma('secure_delete = ON')
    db.transaction(() => {
      migrations[v]!(db)
      db.pragma(`user_version = ${v + 1}`)
    })()
    if (sealing) db.pragma('secure_delete = OFF')
    sealed ||= sealing
  }
  // The zeroed pages are in the WAL; copy them over the main file's plaintext pages now, and empty the WAL.
  if (sealed) db.pragma('wal_checkpoint(TRUNCATE)')
}

/** bedside_seal(column, rowid, text) for the sealing migration: NULL stays NULL. */
function registerSeal(db: Db): void {
  db.function('bedside_seal', { deterministic: false, varargs: false }, (column: unknown, rowId: unknown, value: unknown) => {
    if (value === null) return null
    return storeCipher(db).seal(String(value), fieldPurpose(String(column), Number(rowId)))
  })
}

/**
 * Opens (creating if needed) the store in `dataDir`, readable by the agent's user only. Its
 * identifying fields are sealed under the data keys of `dataDir` (secrets/data-key.ts) unless
 * `opts.keys` names others (tests).
 */
export function openDatabase(dataDir: string, opts: { keys?: KeyRing } = {}): Db {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const file = join(dataDir, 'bedside.db')
  const isNew = !existsSync(file)
  let db: Db
  try {
    db = new Database(file)
  } catch (err) {
    throw new StoreError('BEDSIDE_ERR_STORE_OPEN', file, `${file}: cannot open database: ${(err as Error).message}`, { cause: err })
  }
  try {
    // Reading the schema is the first thing that touches the file's pages: a corrupt or foreign file fails here.
    db.pragma('schema_version', { simple: true })
    const version = db.pragma('user_version', { simple: true }) as number
    if (version > SCHEMA_VERSION) {
      db.close()
      throw new StoreError('BEDSIDE_ERR_STORE_NEWER', file, `${file}: database schema version ${version} is newer than this agent supports (${SCHEMA_VERSION}); upgrade bedside-hub or restore a backup. The file was not modified.`)
    }
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = FULL')
    db.pragma('foreign_keys = ON')
    // The WAL is checkpointed automatically every 1000 pages (~4 MiB), bounding its size.
    db.pragma('wal_autocheckpoint = 1000')
    // Page cache 2 MiB (SQLite's own default): better-sqlite3 builds with 16 MiB, which a growing
    // store fills within minutes, the largest part of the agent's malloc heap. Records are appended
    // at the right edge of one rowid B-tree, so the small cache costs nothing measurable:
    // `npm run bench -- pipeline` gave 679-684k records/s with either size (2026-11-26).
    db.pragma('cache_size = -2000')
    attachCipher(db, dataDir, opts.keys)
    registerSeal(db)
    migrate(db, file)
  } catch (err) {
    if (db.open) db.close()
    if (err instanceof StoreError || err instanceof DataKeyError || err instanceof SecretFileError) throw err
    throw new StoreError('BEDSIDE_ERR_STORE_CORRUPT', file, `${file}: not a usable bedside-hub database (${(err as Error).message}); the file was left untouched. Move it aside to start empty, or restore a backup.`, { cause: err })
  }
  if (isNew) chmodSync(file, 0o600)
  return db
}
