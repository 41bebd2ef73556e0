/**
 * The agent's configuration: one YAML file, declared once here with defaults, validated without
 * touching the network, every error reported at once with its path, unknown keys rejected, then
 * deep-frozen (STYLE.md §5). The commented example is packaging/config.example.yaml.
 */
import { readFileSync } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'
import YAML from 'yaml'
import { z } from 'zod'
import cron from 'node-cron' // issue 7: schedules are checked with the config
import { deviceSchema, type DeviceConfig } from '../drivers/families.js'
import { deviceId, hostPort } from '../drivers/family.js'
import { rulesConfigSchema } from './rules/index.js'
import { permissionPolicy, secretFileProblem, type PermissionPolicy } from './secrets/permissions.js' // issue 18
import { isLoopback } from './serve/access.js' // issue 18
import { allowFromEntry } from '../drivers/serial/hl7/allow.js'

const cronExpr = z.string().refine((s) => cron.validate(s), 'must be a cron expression, e.g. "0 3 * * 1" (seconds field optional)') // issue 7

const id = deviceId

export { deviceSchema }

/** label (issue 24): the bed's human-readable name for analytics (Envelope.bed_label); default its id. Not a person's name. */
const bed = z.object({ id, label: z.string().min(1).max(64).optional(), devices: z.array(deviceSchema).default([]) }).strict()

const kafka = z.object({
  brokers: z.array(hostPort).min(1),
  client_id: z.string().default('bedside-hub'),
  topics: z
    .object({
      raw_vitals: z.string().default('raw-vitals'),
      waveforms: z.string().default('waveforms'),
      alert_events: z.string().default('alert-events'),
      audit_log: z.string().default('audit-log'),
      dead_letter: z.string().default('dead-letter'),
    })
    .strict()
    .default({}),
  /** Upper bound of records in one sendBatch; the producer adapts below it. */
  max_batch_records: z.number().int().min(1).max(100_000).default(5000),
  // --- issue 23: fewer, larger Kafka records ---
  /**
   * Observations of one patient (or unadmitted device) per `raw-vitals` record at most: above 1 they
   * travel as runs, schema_version 2 Envelopes (docs/analytics.md); 1 sends one schema_version 1
   * Envelope per observation, for consumers that do not read version 2 yet.
   */
  observations_per_record: z.number().int().min(1).max(10_000).default(1000),
  // --- end issue 23 ---
  // --- issue 7 (durability): flow control and security of the producer ---
  /** Acknowledgement latency the adaptive batch size aims for. */
  target_ack_ms: z.number().int().min(10).max(60_000).default(1000),
  /** TLS to the brokers: CA to verify them, and a client certificate when the broker asks for one. */
  ssl: z.object({
    ca_file: z.string().min(1),
    cert_file: z.string().min(1).optional(),
    key_file: z.string().min(1).optional(),
    /** Name checked against the broker certificate (default: the broker host). */
    servername: z.string().optional(),
  }).strict().optional(),
  sasl: z.object({
    mechanism: z.literal('scram-sha-512'),
    username: z.string().min(1),
    /** The password itself, or password_file (mode 0600) to keep it out of the config. */
    password: z.string().min(1).optional(),
    password_file: z.string().min(1).optional(),
  }).strict().refine((s) => (s.password === undefined) !== (s.password_file === undefined), 'set exactly one of password, password_file').optional(),
  // --- end issue 7 ---
  // --- issue 18: SASL/SCRAM sends a password-derived proof and the brokers' data in clear without TLS ---
  /** Allow `sasl` without `ssl` (a lab broker); never on a ward network. */
  allow_plaintext_sasl: z.boolean().default(false),
  // --- end issue 18 ---
  // --- issue 24: values a schema registry's stock deserializers read ---
  /**
   * `plain`: each value is a bedside.v1.Envelope in protobuf. `confluent`: the same bytes in the
   * Confluent wire format (magic byte, schema id, message index), the schema registered at start
   * under `<topic>-value` in `schema_registry`. Headers (content-type, schema-version, hub-id,
   * site) go with every record either way (docs/analytics-stock-tools.md).
   */
  wire_format: z.enum(['plain', 'confluent']).default('plain'),
  schema_registry: z.object({
    /** Base of the Confluent-compatible REST API, e.g. http://registry:8080/apis/ccompat/v7 (Apicurio). */
    url: z.string().url(),
    timeout_ms: z.number().int().min(100).max(120_000).default(10_000),
  }).strict().optional(),
  // --- end issue 24 ---
}).strict().superRefine((k, ctx) => { // issue 18
  if (k.sasl && !k.ssl && !k.allow_plaintext_sasl) {
    ctx.addIssue({ code: 'custom', path: ['sasl'], message: 'SASL without TLS is refused: the credentials and every record would cross the network in clear; add cloud.kafka.ssl (ca_file), or set cloud.kafka.allow_plaintext_sasl: true for a lab broker' })
  }
  if (k.wire_format === 'confluent' && !k.schema_registry) { // issue 24
    ctx.addIssue({ code: 'custom', path: ['schema_registry'], message: 'wire_format confluent needs schema_registry.url (the registry that assigns the schema ids the values carry)' })
  }
})

// --- issue 18 (security review): who may read, which names are served, TLS ---
const tlsFiles = z.object({
  /** Server certificate chain, PEM (leaf first). Reloaded without a restart when the file changes. */
  cert: z.string().min(1),
  /** Its private key, PEM (readable by the agent's user only). */
  key: z.string().min(1),
  /** CA bundle, PEM, to verify client certificates; not used by HTTP. */
  ca: z.string().min(1).optional(),
}).strict()

const httpSection = z.object({
  listen: hostPort.default('127.0.0.1:8080'),
  /** Bearer tokens: viewer reads (page, API, /metrics), nurse and admin also write. No token, no patient data. */
  tokens: z.array(z.object({ token: z.string().min(8), role: z.enum(['viewer', 'nurse', 'admin']), name: z.string().optional() }).strict()).default([]),
  /** Host names and addresses the agent answers to (besides the listen address and loopback); default: this machine's hostname (and its addresses on a wildcard listen). */
  allowed_hosts: z.array(z.string().min(1).regex(/^[^\s/]+$/, 'must be a host name or address, without scheme or path')).optional(),
  /** HTTPS (and wss://) with operator certificates. */
  tls: tlsFiles.optional(),
  /** Serve plain HTTP on a non-loopback address anyway (patient data and tokens in clear on the ward network). */
  insecure: z.boolean().default(false),
  /** Serve /metrics (and /healthz) on this address instead of the main one, e.g. the management network; same token and TLS rules. */
  metrics_listen: hostPort.optional(),
}).strict().superRefine((http, ctx) => {
  for (const key of ['listen', 'metrics_listen'] as const) {
    const listen = http[key]
    if (listen === undefined || http.tls || http.insecure || isLoopback(listen.slice(0, listen.lastIndexOf(':')))) continue
    ctx.addIssue({
      code: 'custom', path: [key],
      message: `"${listen}" is not a loopback address and http.tls is not set: ${key === 'listen' ? 'patient data and tokens' : 'tokens'} would cross the network in clear. Set http.tls (cert and key), listen on 127.0.0.1 behind a TLS proxy, or set http.insecure: true to accept plain HTTP knowingly`,
    })
  }
}).default({})
// --- end issue 18 ---

/** The MQTT listen address: as configured, else the IANA port of the transport (8883 secure-mqtt, 1883 mqtt). */
function mqttListen(m: { listen?: string | undefined; tls?: unknown }): string {
  return m.listen ?? (m.tls ? '0.0.0.0:8883' : '127.0.0.1:1883')
}

// --- issue 21: HL7 v2 with the hospital's interface engine (ADT in; results and alarms out come later) ---
/** PV1-3 (PL: point of care ^ room ^ bed) → one of this ward's beds; room and bed absent match any. */
const adtLocation = z.object({
  /** PV1-3.1, e.g. the nursing unit "3A". */
  point_of_care: z.string().min(1),
  /** PV1-3.2; absent: any room of the point of care. */
  room: z.string().min(1).optional(),
  /** PV1-3.3; absent: any bed of the room. */
  bed: z.string().min(1).optional(),
  bed_id: id,
}).strict().refine((l) => l.bed === undefined || l.room !== undefined, { message: 'bed needs room (PV1-3.3 names a bed inside PV1-3.2)', path: ['bed'] })

const hl7Adt = z.object({
  /** The MLLP listener the interface engine connects to; 2575 is the port IANA registers for HL7 over MLLP. */
  listen: hostPort.default('127.0.0.1:2575'),
  /** MLLP over TLS (the same files and reloading as http.tls); client_certs as for MQTT devices, the engine's certificate signed by `ca`. */
  tls: tlsFiles.extend({ client_certs: z.enum(['off', 'optional', 'require']).default('off') }).strict()
    .refine((t) => t.client_certs === 'off' || t.ca !== undefined, { message: 'client_certs optional or require needs ca (the CA bundle that signs the interface engine certificate)', path: ['ca'] }).optional(),
  /** Plain MLLP on a non-loopback address anyway (names, MRNs and birth dates in clear on the network). */
  insecure: z.boolean().default(false),
  /** Addresses or CIDR ranges of the interface engine; others are closed on accept. */
  allow_from: z.array(allowFromEntry).min(1).optional(),
  /** PID-3 repetition to take as the MRN: the one whose assigning authority (CX-4.1) is this; absent: the first with type MR (CX-5), else the first. */
  mrn_authority: z.string().min(1).optional(),
  /** Where PV1-3 puts a patient on this ward. */
  locations: z.array(adtLocation).default([]),
  /** Bounds (every input hostile): connections at once, bytes of one message, seconds a connection may stay silent. */
  max_connections: z.number().int().min(1).max(256).default(8),
  max_message_bytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(256 * 1024),
  idle_timeout_s: z.number().min(1).max(86_400).default(600),
}).strict().superRefine((a, ctx) => {
  const beyondLoopback = !isLoopback(a.listen.slice(0, a.listen.lastIndexOf(':')))
  if (!a.tls && !a.insecure && beyondLoopback) {
    ctx.addIssue({ code: 'custom', path: ['listen'], message: `"${a.listen}" is not a loopback address and hl7.adt.tls is not set: names, MRNs and birth dates would cross the network in clear. Set hl7.adt.tls (cert and key), listen on 127.0.0.1 behind a TLS tunnel, or set hl7.adt.insecure: true to accept plain MLLP knowingly` })
  } else if (a.tls && a.tls.client_certs !== 'require' && !a.allow_from && !a.insecure && beyondLoopback) {
    // TLS hides the messages but names no sender: an ADT message admits, moves and discharges
    // patients, and a discharge ends the bed's alarms (red-team finding, session 11).
    ctx.addIssue({ code: 'custom', path: ['tls', 'client_certs'], message: `"${a.listen}" is not a loopback address and nothing says who may send: anyone who reaches the port could admit or discharge patients (and end their alarms). Set hl7.adt.tls.client_certs: require (with ca, the CA of the interface engine's certificate), or hl7.adt.allow_from with the engine's addresses, or hl7.adt.insecure: true to accept every sender knowingly` })
  }
  const seen = new Map<string, number>()
  a.locations.forEach((l, i) => {
    const key = `${l.point_of_care}^${l.room ?? '*'}^${l.bed ?? '*'}`
    const first = seen.get(key)
    if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['locations', i], message: `location ${key} is already mapped by locations[${first}]` })
    else seen.set(key, i)
  })
})

/** TLS toward the interface engine or alert manager (we are the client): PEM files, reloaded at each connect. */
const hl7ClientTls = z.object({
  /** CA bundle that signs the receiver's certificate; absent: the system's CAs. */
  ca: z.string().min(1).optional(),
  /** Our client certificate and key, when the receiver asks for one (both or neither). */
  cert: z.string().min(1).optional(),
  key: z.string().min(1).optional(),
  /** Name to verify the receiver's certificate against; default: the target host. */
  servername: z.string().min(1).optional(),
}).strict().refine((t) => (t.cert === undefined) === (t.key === undefined), { message: 'cert and key go together (the client certificate and its private key)', path: ['cert'] })

/** One outbound HL7 destination (agent/hl7/outbound.ts): MLLP client, one message at a time, removed after AA. */
const hl7Outbound = {
  /** host:port of the receiver's MLLP listener (the interface engine's channel). */
  target: hostPort,
  tls: hl7ClientTls.optional(),
  /** Plain MLLP to a non-loopback target anyway (names, MRNs and values in clear on the network). */
  insecure: z.boolean().default(false),
  /** MSH-3 sending application (default: the hub id) and MSH-5/-6 receiving application and facility. */
  sending_application: z.string().min(1).regex(/^[^|^~\\&\r\n]+$/, 'no HL7 delimiters').optional(),
  receiving_application: z.string().min(1).regex(/^[^|^~\\&\r\n]+$/, 'no HL7 delimiters').default('CIS'),
  receiving_facility: z.string().min(1).regex(/^[^|^~\\&\r\n]+$/, 'no HL7 delimiters').optional(),
  /** Seconds to wait for the ACK before the message counts as unanswered (retried). */
  ack_timeout_s: z.number().min(1).max(600).default(30),
  /** Retry backoff after AE, no answer or a lost connection: doubling from 1 s up to this. */
  max_backoff_s: z.number().min(1).max(3600).default(60),
}
function insecureTarget(what: string) {
  return (o: { target: string; tls?: unknown; insecure: boolean }, ctx: z.RefinementCtx) => {
    if (!o.tls && !o.insecure && !isLoopback(o.target.slice(0, o.target.lastIndexOf(':')))) {
      ctx.addIssue({ code: 'custom', path: ['target'], message: `"${o.target}" is not a loopback address and hl7.${what}.tls is not set: names, MRNs and ${what} would cross the network in clear. Set hl7.${what}.tls, send to 127.0.0.1 through a TLS tunnel, or set hl7.${what}.insecure: true to send plain MLLP knowingly` })
    }
  }
}
const hl7Results = z.object({
  ...hl7Outbound,
  /** Seconds per charting period: each bed's latest valid observations of the period go out once it closes (IHE PCD-01). */
  period_s: z.number().int().min(5).max(86_400).default(60),
}).strict().superRefine(insecureTarget('results'))
const hl7Alarms = z.object(hl7Outbound).strict().superRefine(insecureTarget('alarms'))

const hl7Section = z.object({
  /** ADT^A01…A40 in (agent/hl7/adt-listener.ts); absent: no listener, admissions only through the API. */
  adt: hl7Adt.optional(),
  /** ORU^R01 out (IHE PCD-01, agent/hl7/pcd01.ts); absent: no results sent. */
  results: hl7Results.optional(),
  /** ORU^R40 out (IHE PCD-04, agent/hl7/pcd04.ts): every alarm state change; absent: none sent. */
  alarms: hl7Alarms.optional(),
}).strict()
// --- end issue 21 ---

export const configSchema = z.object({
  hub: z.object({
    id,
    site: z.string().min(1),
    /** Issue 24: the ward's human-readable name for analytics (Envelope.ward_label); default hub.id. */
    label: z.string().min(1).max(64).optional(),
    data_dir: z.string().min(1),
  }).strict(),
  http: httpSection, // issue 18

  mqtt: z.object({
    /** Default: 0.0.0.0:8883 with tls, else 127.0.0.1:1883 (plain MQTT stays on this machine unless insecure). */
    listen: hostPort.optional(),
    // --- issue 18: MQTT over TLS (MQTT 3.1.1 §5.4.5), device client certificates ---
    tls: tlsFiles.extend({
      /** Devices may (optional) or must (require) log in with a certificate signed by `ca` whose subject CN is their device id. */
      client_certs: z.enum(['off', 'optional', 'require']).default('off'),
    }).strict().refine((t) => t.client_certs === 'off' || t.ca !== undefined, { message: 'client_certs optional or require needs ca (the CA bundle that signs the device certificates)', path: ['ca'] }).optional(),
    /** Serve plain MQTT on a non-loopback address anyway (device passwords and vital signs in clear on the ward network). */
    insecure: z.boolean().default(false),
    // --- end issue 18 ---
    /** Non-device MQTT clients (central stations, integrations): may subscribe to beds/ and alarms/. */
    clients: z.array(z.object({ username: z.string().min(1), password: z.string().min(8), role: z.enum(['viewer', 'nurse']) }).strict()).default([]),
    // --- issue 16 (hostile input): limits that act before a packet or a connection costs memory ---
    /** Largest MQTT packet (announced remaining length), before or after CONNECT; larger: connection closed. Default 256 KiB, the largest waveform message. */
    max_packet_bytes: z.number().int().min(1024).max(268_435_455).default(256 * 1024),
    /** All MQTT connections at once (keep well under the process's descriptor limit). */
    max_connections: z.number().int().min(1).max(1_000_000).default(1024),
    /** Connections that have not logged in yet; when full, the oldest of them is closed for a new one. */
    max_pending: z.number().int().min(1).max(1_000_000).default(256),
    /**
     * Connections not logged in yet from one source address; more are refused. Room for a whole
     * ward reconnecting at once through one address (a serial-to-MQTT concentrator, a NAT, a test
     * harness on loopback: 64 clients connecting together were refused at the former 32).
     */
    max_pending_per_source: z.number().int().min(1).max(1_000_000).default(128),
    /** A connection that has not logged in (valid CONNECT) within this time is closed. */
    connect_timeout_s: z.number().min(0.1).max(300).default(5),
    /** Logged-in connections of one device at once (it needs one; a few cover a reconnect before the old one times out); a new one closes the oldest. */
    max_connections_per_device: z.number().int().min(1).max(1_000_000).default(4),
    /** Logged-in connections of one station username at once (several screens may share one); a new one closes the oldest. */
    max_connections_per_client: z.number().int().min(1).max(1_000_000).default(32),
    /** Failed logins per source address and name: past max_failures within window_s, refused for lockout_s, doubling up to max_lockout_s (agent/serve/login-throttle.ts). */
    login_throttle: z.object({
      max_failures: z.number().int().min(1).default(10),
      window_s: z.number().min(1).default(60),
      lockout_s: z.number().min(0.1).default(10),
      max_lockout_s: z.number().min(0.1).default(900),
    }).strict().default({}),
    // --- end issue 16 ---
  }).strict().superRefine((m, ctx) => { // issue 18: the http rule, for MQTT
    const listen = mqttListen(m)
    if (m.tls || m.insecure || isLoopback(listen.slice(0, listen.lastIndexOf(':')))) return
    ctx.addIssue({
      code: 'custom', path: ['listen'],
      message: `"${listen}" is not a loopback address and mqtt.tls is not set: device passwords and vital signs would cross the network in clear. Set mqtt.tls (cert and key; devices connect to port 8883), listen on 127.0.0.1, or set mqtt.insecure: true to accept plain MQTT knowingly`,
    })
  }).transform((m) => ({ ...m, listen: mqttListen(m) })).default({}),
  beds: z.array(bed).default([]),
  /** hci: the machine's Bluetooth adapter through @stoprocent/noble; sim: the simulated demo radio. */
  ble: z.object({ radio: z.enum(['hci', 'sim']).default('hci') }).strict().default({}),
  /** Demo mode: simulated devices flag their data DEMO; true lets such data drive alarms (never on a real ward). */
  demo: z.boolean().default(false),
  store: z.object({
    /** Group commit closes after this many ms or max_records records, whichever first. */
    commit_interval_ms: z.number().min(0).max(1000).default(2),
    commit_max_records: z.number().int().min(1).max(100_000).default(4096),
    /**
     * Sender messages remembered per device to recognise re-sends (MQTT QoS 1 after a lost PUBACK,
     * HL7 after a lost ACK): must cover the most messages a device keeps in flight. Costs ~100 B each.
     */
    redelivery_window: z.number().int().min(16).max(65_536).default(1024),
    /**
     * Issue 23: 'per-message' stores a sender message's consecutive observations of one subject as
     * ONE row over their hub_seqs (store/commit.ts coalesce), 'off' a row per observation. What is
     * sent to Kafka, per hub_seq, is the same either way; a store may hold both kinds of row.
     * Default 'per-message' (the 100-obs/message ingest costs ~30 % less CPU per observation);
     * 'off' stays as the fallback, e.g. for a store read by tools that expect a row per observation.
     * (The one record a cluster fault run found "missing" with run rows on was the fleet check's
     * race with a no-data alarm committed after its drain, not a loss: BENCHMARKS.md, issue 23.)
     */
    observation_runs: z.enum(['off', 'per-message']).default('per-message'),
    /**
     * Issue 23: where the group commit's fsync runs. 'background': COMMIT writes the WAL frames and a
     * thread-pool thread fsyncs them while the event loop goes on (store/wal-fsync.ts); every
     * acknowledgement still waits for that fsync, and nothing unsynced leaves the gateway.
     * 'inline': SQLite's synchronous=FULL fsync inside COMMIT, on the event loop (before issue 23).
     */
    commit_fsync: z.enum(['background', 'inline']).default('background'),
    // --- issue 7 (durability) ---
    /** Disk quota of the store in MiB; default: half of the data directory's free space at start. */
    quota_mb: z.number().min(1).optional(),
    /** Records Kafka acknowledged are deleted locally after this many days (and pseudonym keys forgotten). */
    retention_days: z.number().min(0).max(3650).default(7),
    // --- end issue 7 ---
  }).strict().default({}),
  // --- issue 7 (durability): schedules of store and key care (node-cron syntax, seconds field optional) ---
  housekeeping: z.object({
    quota_check_ms: z.number().int().min(50).max(60_000).default(1000),
    retention_cron: cronExpr.default('*/10 * * * *'),
    checkpoint_cron: cronExpr.default('* * * * *'),
    /** Data key rotation, and the pseudonym key's under pseudonyms.policy gateway (site: the bundle's epochs); default weekly, Monday 03:00. */
    key_rotation_cron: cronExpr.default('0 3 * * 1'),
    /** Daily self-test: write a record, read it back, technical alarm on failure (issue 10). */
    self_test_cron: cronExpr.default('30 3 * * *'),
  }).strict().default({}),
  // --- end issue 7 ---
  // --- issue 24: one pseudonym per patient per hospital, by policy (agent/sync/pseudonym.ts) ---
  pseudonyms: z.object({
    /**
     * site: the hospital's shared epoch keys (imported with `bedside-hub keys import`, or key_file),
     * so a patient keeps one pseudonym across wards; gateway: a key per gateway, rotated by
     * housekeeping.key_rotation_cron (pseudonyms join neither across wards nor across rotations).
     * Default: site when the gateway holds site keys, else gateway (with a warning).
     */
    policy: z.enum(['site', 'gateway']).optional(),
    /** The site key bundle as placed by configuration management (clear JSON, mode 0600 or 0640 root:bedside-hub). */
    key_file: z.string().min(1).optional(),
  }).strict().superRefine((p, ctx) => {
    if (p.policy === 'gateway' && p.key_file !== undefined) ctx.addIssue({ code: 'custom', path: ['key_file'], message: 'key_file is the site key bundle: policy gateway would not use it; set policy: site, or remove key_file' })
  }).default({}),
  // --- end issue 24 ---
  cloud: z.object({ kafka }).strict().optional(),
  /** Alarm rules (agent/rules/schema.ts): the default set, patches and per-bed changes, validated here with the rest. */
  rules: rulesConfigSchema.optional(),
  hl7: hl7Section.optional(), // issue 21
  log: z.object({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info') }).strict().default({}),
}).strict().superRefine((cfg, ctx) => {
  const seenBeds = new Set<string>()
  const seenDevices = new Set<string>()
  cfg.beds.forEach((b, i) => {
    if (seenBeds.has(b.id)) ctx.addIssue({ code: 'custom', path: ['beds', i, 'id'], message: `duplicate bed id "${b.id}"` })
    seenBeds.add(b.id)
    b.devices.forEach((d, j) => {
      if (seenDevices.has(d.id)) ctx.addIssue({ code: 'custom', path: ['beds', i, 'devices', j, 'id'], message: `duplicate device id "${d.id}"` })
      seenDevices.add(d.id)
    })
  })
  cfg.hl7?.adt?.locations.forEach((l, i) => { // issue 21: every mapped location names a bed of this ward
    if (!seenBeds.has(l.bed_id)) ctx.addIssue({ code: 'custom', path: ['hl7', 'adt', 'locations', i, 'bed_id'], message: `unknown bed "${l.bed_id}" (not in beds)` })
  })
  cfg.beds.forEach((b, bi) => b.devices.forEach((d, di) => {
    if (d.type !== 'hl7-tcp' || d.allow_from || d.insecure || isLoopback(d.listen.slice(0, d.listen.lastIndexOf(':')))) return
    ctx.addIssue({
      code: 'custom', path: ['beds', bi, 'devices', di, 'listen'],
      message: `"${d.listen}" is not a loopback address and allow_from is not set: MLLP has no login, so anyone who can reach the port could send (or hide) the vitals of "${d.id}". List the gateways' addresses in allow_from (e.g. ["10.20.4.0/24"]), or set insecure: true to accept every sender knowingly`,
    })
  }))
  const adtListen = cfg.hl7?.adt?.listen
  for (const d of adtListen ? cfg.beds.flatMap((b) => b.devices) : []) { // issue 21: 2575 is every HL7 listener's default
    if (d.type === 'hl7-tcp' && sameSocket(d.listen, adtListen!)) {
      ctx.addIssue({ code: 'custom', path: ['hl7', 'adt', 'listen'], message: `"${adtListen}" is also the listen address of HL7 device "${d.id}": give the ADT feed another port (e.g. 2576)` })
    }
  }
})

/** Two listen addresses that cannot both be bound: the same port on the same or a wildcard host. */
function sameSocket(a: string, b: string): boolean {
  const [ha, pa] = [a.slice(0, a.lastIndexOf(':')), a.slice(a.lastIndexOf(':') + 1)]
  const [hb, pb] = [b.slice(0, b.lastIndexOf(':')), b.slice(b.lastIndexOf(':') + 1)]
  const wild = (h: string) => h === '0.0.0.0' || h === '::' || h === '[::]'
  return pa === pb && pa !== '0' && (ha === hb || wild(ha) || wild(hb))
}

export type Config = z.infer<typeof configSchema>
export type { DeviceConfig }

export class ConfigError extends Error {
  /** BEDSIDE_ERR_SECRET_PERMISSIONS (issue 18): the file is readable beyond the agent; its content was not read. */
  readonly code: 'BEDSIDE_ERR_CONFIG' | 'BEDSIDE_ERR_SECRET_PERMISSIONS'
  constructor(readonly source: string, readonly problems: readonly string[], opts: { code?: ConfigError['code'] } = {}) {
    super(opts.code === 'BEDSIDE_ERR_SECRET_PERMISSIONS' ? problems.join('\n') : `invalid config ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'ConfigError'
    this.code = opts.code ?? 'BEDSIDE_ERR_CONFIG'
  }
}

/** `beds[3].devices[0].type` from zod's path array. */
function formatPath(path: readonly (string | number)[]): string {
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '') || '(root)'
}

function describeIssue(issue: z.ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    const where = formatPath(issue.path)
    return issue.keys.map((k) => `${where === '(root)' ? k : `${where}.${k}`}: unknown key "${k}"`).join('\n  - ')
  }
  if (issue.code === 'invalid_union_discriminator') {
    return `${formatPath(issue.path)}: unknown value, expected one of ${issue.options.map((o) => `"${String(o)}"`).join(', ')}`
  }
  return `${formatPath(issue.path)}: ${issue.message}`
}

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value as object)) deepFreeze(v)
  }
  return value
}

/** Validates a parsed YAML document; throws ConfigError listing every problem with its path. */
export function parseConfig(doc: unknown, source = '(inline)', baseDir = process.cwd()): Readonly<Config> {
  const result = configSchema.safeParse(doc ?? {})
  if (!result.success) throw new ConfigError(source, result.error.issues.map(describeIssue))
  const cfg = result.data
  if (!isAbsolute(cfg.hub.data_dir)) cfg.hub.data_dir = resolve(baseDir, cfg.hub.data_dir)
  return deepFreeze(cfg)
}

/**
 * Reads, validates and freezes a config file. Issue 18: a file readable by others (or by a group
 * that is not the agent's own) is refused before it is read where the policy enforces (the
 * installed agent), and warned about loudly elsewhere (secrets/permissions.ts says why);
 * `checkPermissions: false` is for `config check`, which reports that problem itself and still
 * validates the content.
 */
export function loadConfigFile(file: string, opts: { checkPermissions?: boolean; policy?: PermissionPolicy; warn?: (message: string) => void } = {}): Readonly<Config> {
  if (opts.checkPermissions !== false) {
    const open = secretFileProblem(file, 'config')
    if (open && (opts.policy ?? permissionPolicy()) === 'enforce') throw new ConfigError(file, [open.message], { code: 'BEDSIDE_ERR_SECRET_PERMISSIONS' })
    if (open) (opts.warn ?? ((m: string) => process.stderr.write(`bedside-hub: WARNING: ${m} (refused where the agent is installed: BEDSIDE_HUB_PERMISSIONS=enforce)\n`)))(open.message)
  }
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new ConfigError(file, [`cannot read: ${(err as Error).message}`])
  }
  const doc = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true })
  if (doc.errors.length > 0) throw new ConfigError(file, doc.errors.map((e) => `YAML: ${e.message.split('\n')[0]}`))
  return parseConfig(doc.toJS(), file, process.cwd())
}
