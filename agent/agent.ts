/**
 * The composition root: builds every part of one agent from a validated config, hands each its
 * dependencies explicitly, starts them in dependency order, and stops them in reverse. Nothing
 * else wires parts together, and nothing reaches into it (docs/architecture.md).
 *
 *   drivers, MQTT source ─deliver→ MessageIntake ─→ Pipeline (validate → normalize → plausibility
 *     → associate → rules → GroupCommitter with its companions) ─→ Outbox ─→ CloudSync ─→ Kafka
 *   alarms ─→ MQTT alarms/{bed}, WebSocket;  Ward (use cases) ←─ HTTP API, WebSocket, MQTT stations
 */
import { EventEmitter } from 'node:events'
import { pino, type Logger } from 'pino'
import type { NobleLike } from '../drivers/ble/noble-like.js'
import { MqttDeviceSource } from '../drivers/mqtt/source.js'
import { Quality, type WaveformChunk } from '../drivers/records.js'
import type { DriverContext } from '../drivers/types.js'
import { AgentApiImpl } from './api.js'
import type { Config } from './config.js'
import { DeviceRunner, type DeviceHost } from './device-drivers.js'
import { AuditAction } from './audit-actions.js'
import { AdtListener } from './hl7/adt-listener.js' // issue 21
import type { Hl7Outbound } from './hl7/outbound.js'
import { createHl7Outputs } from './hl7/outputs.js'
import type { AgentEvents } from './events.js'
import { Durability } from './housekeeping/wire.js' // issue 7
import { alarmJson, alarmTopic, vitalsJson, vitalsTopic } from './outputs.js'
import { MessageIntake } from './pipeline/deliver.js'
import { DeviceStatus } from './pipeline/device-status.js'
import { DeviceRegistry } from './pipeline/devices.js'
import { Pipeline, type IngestResult } from './pipeline/ingest.js'
import { AlarmCodes } from './pipeline/alarm-codes.js'
import { LatestVitals } from './pipeline/latest.js'
import { createRuleEngine, rulesConfigSchema, type RuleEngine } from './rules/index.js'
import { allowedHosts } from './serve/access.js'
import { buildHttp, buildMetricsHttp } from './serve/http.js'
import { createMetrics, observeSourceCounters, type Metrics } from './serve/metrics.js'
import { MqttServer, mqttLimits } from './serve/mqtt.js'
import { loadPageAssets } from './serve/page.js'
import { createTlsOptionsReloader, type TlsReloader } from './serve/tls.js'
import { LiveFeed } from './serve/ws.js'
import { Admissions } from './store/admissions.js'
import { GroupCommitter, RecordKind, STORE_REJECTED } from './store/commit.js'
import { openDatabase, type Db } from './store/db.js'
import { LocalDeadLetter } from './store/dead-letter.js'
import { DeviceIdentities } from './store/device-identities.js'
import { DeviceSeqStore } from './store/device-seqs.js'
import { Outbox } from './store/outbox.js'
import { Pairings } from './store/pairings.js'
import { SeenMessages } from './store/seen-messages.js'
import { EnvelopeEncoder } from './sync/envelope.js'
import { Pseudonymizer, pseudonymPolicyWarning } from './sync/pseudonym.js'
import { kafkaSecurity } from './sync/security.js' // issue 7
import type { CloudSync } from './sync/sync.js'
import { WireFormat } from './sync/wire-format.js' // issue 24
import { Ward } from './ward/ward.js'
import { checkSecretFile, permissionPolicy } from './secrets/permissions.js'

export interface AgentOptions {
  readonly log?: Logger
  /** Demo ward: simulated devices flag their data DEMO; let it drive alarms anyway (also `demo: true` in the config). */
  readonly demo?: boolean
  /** The demo ward's simulated BLE radio (config `ble.radio: sim`). */
  readonly simRadio?: NobleLike
}

export type { AgentEvents } from './events.js'

export interface RunningAgent {
  readonly httpPort: number
  readonly mqttPort: number
  /** The ADT listener's port (issue 21); 0 when hl7.adt is not configured. */
  readonly adtPort: number
  readonly metrics: Metrics
  /**
   * `cb` is called once if the store can no longer make records durable (the WAL's fsync failed,
   * store/wal-fsync.ts): the caller should stop the agent and exit non-zero for a restart.
   */
  onFatal(cb: (err: Error) => void): void
  stop(): Promise<void>
}

function splitHostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':')
  return { host: s.slice(0, i), port: Number(s.slice(i + 1)) }
}

/** Parts of a running agent, kept together so stop() can unwind them in reverse order. */
class Agent implements RunningAgent {
  readonly metrics = createMetrics()
  private readonly events = new EventEmitter<AgentEvents>()
  private readonly startedMs = Date.now()
  private readonly fatal: { err: Error | null; cbs: ((err: Error) => void)[] } = { err: null, cbs: [] }
  private readonly log: Logger
  private readonly db: Db
  private readonly committer: GroupCommitter
  private readonly outbox: Outbox
  private readonly admissions: Admissions
  private readonly devices: DeviceRegistry
  /** Link and battery of each device, and the technical conditions its link state means. */
  private readonly status: DeviceStatus
  private readonly pseudonyms: Pseudonymizer
  /** The demo ward (opts.demo or `demo: true`): every event it sends is flagged demo (issue 24). */
  private readonly demo: boolean
  private readonly engine: RuleEngine
  private readonly latest = new LatestVitals()
  private readonly pipeline: Pipeline
  /** Sender messages in as units, re-sends recognised (exactly once across redelivery). */
  private readonly intake: MessageIntake
  /** Each device's identity per hub_seq range, so a backlog syncs under the pseudonyms it had. */
  private readonly identities: DeviceIdentities
  /** The ward's use cases (acknowledge, admit, discharge, transfer, the views and their audit). */
  private readonly ward: Ward
  private readonly api: AgentApiImpl
  private readonly mqtt: MqttServer
  private sync: CloudSync | null = null
  /** Quota, retention, checkpoints, key rotation (issue 7). */
  private readonly durability: Durability
  httpPort = 0
  mqttPort = 0
  adtPort = 0
  /** The hospital's ADT feed (issue 21), when hl7.adt is configured. */
  private adt: AdtListener | null = null
  /** PCD-01 results and PCD-04 alarms to the hospital (issue 21), when hl7.results / hl7.alarms are configured. */
  private hl7Out: Hl7Outbound[] = []
  /** The redelivery window: device messages and ADT control ids already applied. */
  private readonly seen: SeenMessages
  private readonly abort = new AbortController()
  private runner: DeviceRunner | null = null
  private readonly timers: NodeJS.Timeout[] = []
  private http: ReturnType<typeof buildHttp> | null = null
  private tls: TlsReloader | null = null
  private metricsHttp: ReturnType<typeof buildHttp> | null = null
  private live: LiveFeed | null = null

  constructor(private readonly cfg: Readonly<Config>, private readonly opts: AgentOptions) {
    this.log = opts.log ?? pino({ level: cfg.log.level, base: { hub: cfg.hub.id } })
    // Issue 18: the TLS private keys are secrets like the config (refused where installed, warned about elsewhere).
    for (const [file, what] of [[cfg.http.tls?.key, 'http.tls.key'], [cfg.mqtt.tls?.key, 'mqtt.tls.key'], [cfg.hl7?.adt?.tls?.key, 'hl7.adt.tls.key'], [cfg.hl7?.results?.tls?.key, 'hl7.results.tls.key'], [cfg.hl7?.alarms?.tls?.key, 'hl7.alarms.tls.key']] as const) {
      if (file) checkSecretFile(file, what, permissionPolicy(), (m) => this.log.warn({ event: 'secret_file_exposed', file, what }, `WARNING: ${m}`))
    }
    // The store: records, their identities and sequences, all in one group commit.
    this.db = openDatabase(cfg.hub.data_dir)
    this.committer = new GroupCommitter(this.db, { intervalMs: cfg.store.commit_interval_ms, maxRecords: cfg.store.commit_max_records, runs: cfg.store.observation_runs, fsync: cfg.store.commit_fsync }, {
      onCommit: (n, s) => {
        this.metrics.recordsCommitted.inc(n)
        this.outbox.committed(n) // issue 7: running outbox depth
        this.metrics.commitLatency.observe(s)
        this.sync?.notify()
        for (const o of this.hl7Out) o.wake()
      },
      onError: (err, n) => {
        this.metrics.commitFailures.inc()
        this.log.error({ event: 'commit_failed', records: n, err: err.message }, `group commit of ${n} records failed; none of them was acknowledged`)
      },
      onSetAside: (refused) => {
        // Rare by construction (the decoders bound every value): each record is audited, each batch logged once.
        for (const r of refused) {
          this.metrics.storeRejected.inc({ code: r.code }, r.records)
          // Not for a refused audit record: its audit could be refused in turn, and so on.
          if (r.kind !== RecordKind.AUDIT) this.pipeline.audit('sync-rejected', 'bedside-hub', null, `record ${r.hubSeq} (kind ${r.kind}) set aside in the local dead-letter: ${STORE_REJECTED} (${r.code})`)
        }
        const first = refused[0]!
        this.log.error({ event: 'records_set_aside', rows: refused.length, hub_seq: first.hubSeq, code: first.code, err: first.message },
          `the store refused ${refused.length} row(s) of a group commit (first: record ${first.hubSeq}, ${first.message}); they are kept whole in the local dead-letter (bedside-hub queue), the rest of the batch is stored and acknowledged`)
      },
      onFatal: (err) => {
        this.log.fatal({ event: 'store_fsync_failed', err: err.message }, `${err.message}. Stopping: check the data directory's disk (dmesg), then let the service restart`)
        this.fatal.err = err
        for (const cb of this.fatal.cbs) cb(err)
      },
    })
    if (cfg.store.commit_fsync === 'background' && !this.committer.fsyncInBackground) {
      this.log.warn({ event: 'commit_fsync_inline' }, 'store.commit_fsync is background, but the store has no WAL file to fsync apart: the fsync stays inside COMMIT (inline)')
    }
    this.outbox = new Outbox(this.db, () => this.committer.durableSeq)
    this.admissions = new Admissions(this.db)
    const deviceSeqs = new DeviceSeqStore(this.db, () => this.devices.all())
    this.identities = new DeviceIdentities(this.db)
    // A device's identity is fixed for the records accepted from the next hub_seq on (issue 17).
    this.devices = new DeviceRegistry(cfg.beds, {
      startSeq: (id) => deviceSeqs.startOf(id),
      knownSerial: (id) => this.identities.reportedSerial(id),
      onIdentity: (d, reported) => this.identities.record(d.id, d.identity, this.committer.peekHubSeq, reported),
      onRemove: (id) => this.identities.forgetReported(id),
    })
    this.pseudonyms = Pseudonymizer.open(cfg.hub.data_dir, cfg.hub.site, Date.now(), { policy: cfg.pseudonyms.policy, keyFile: cfg.pseudonyms.key_file, hubId: cfg.hub.id })
    const keyWarning = pseudonymPolicyWarning(this.pseudonyms)
    // A warning where pseudonyms leave the gateway (a cloud is configured); without one, a note.
    if (keyWarning) this.log[cfg.cloud ? 'warn' : 'info']({ event: 'pseudonym_policy', policy: this.pseudonyms.policy }, keyWarning)
    this.demo = opts.demo === true || cfg.demo
    this.engine = createRuleEngine(cfg.rules ?? rulesConfigSchema.parse({}), { validQualityMask: Quality.RETIMED | (this.demo ? Quality.DEMO : 0) })
    observeSourceCounters(this.metrics, () => this.runner?.factory.linkCounters ?? [], () => this.engine.stats())
    this.durability = new Durability({ // issue 7: before the pipeline, which reads its quota gate
      cfg, db: this.db, outbox: this.outbox, pseudonyms: this.pseudonyms, metrics: this.metrics, log: this.log, engine: this.engine,
      sync: () => this.sync,
      audit: (action, detail) => this.pipeline.audit(action, 'bedside-hub', null, detail),
      handleAlarms: (changes) => changes.length > 0 && this.pipeline.handleAlarms(changes),
      whenCommitted: (cb) => this.committer.whenCommitted(cb),
    })
    this.pipeline = new Pipeline({
      devices: this.devices, admissions: this.admissions, committer: this.committer, engine: this.engine, latest: this.latest,
      metrics: this.metrics, log: this.log.child({ component: 'pipeline' }), storeGate: this.durability.quota,
      alarmCodes: new AlarmCodes(cfg.rules ?? rulesConfigSchema.parse({}), cfg.beds.map((b) => b.id)),
      publishAlarm: (c, hubSeq) => {
        this.mqtt.publish(alarmTopic(c.bedId), JSON.stringify(alarmJson(c, hubSeq)), 1, false)
        this.events.emit('alarm', c, hubSeq)
      },
    })
    const seen = (this.seen = new SeenMessages(this.db, cfg.store.redelivery_window))
    this.committer.attach(seen)
    this.committer.attach(deviceSeqs)
    this.intake = new MessageIntake({
      committer: this.committer, seen,
      ingest: (r) => (r.kind === 'obs' ? this.pipeline.ingestObservation(r) : this.ingestWave(r)),
      redelivered: (source) => this.metrics.redelivered.inc({ source }),
    })
    this.status = new DeviceStatus({
      condition: (id, condition, active, detail) => this.pipeline.deviceCondition(id, condition, active, detail),
      linkDown: (id) => this.pipeline.ecg.stop(id),
      metrics: this.metrics, events: this.events, stopping: () => this.abort.signal.aborted,
    })
    // The ward's use cases, and the adapters over them: HTTP/WebSocket (api.ts), MQTT stations.
    this.ward = new Ward({
      beds: cfg.beds, db: this.db, admissions: this.admissions, engine: this.engine, latest: this.latest, devices: this.status, pseudonyms: this.pseudonyms,
      alarms: (changes) => this.pipeline.handleAlarms(changes),
      audit: (action, actor, bedId, detail, admissionId) => void this.pipeline.audit(action, actor, bedId, detail, admissionId),
      nextSeq: () => this.committer.peekHubSeq,
      durable: (from) => new Promise((resolve, reject) => this.committer.durableFrom(from, (err) => (err ? reject(err) : resolve()))),
      bedChanged: (bedId) => void this.events.emit('vitals', bedId),
    })
    this.api = new AgentApiImpl({
      hubId: cfg.hub.id, http: cfg.http, mqtt: cfg.mqtt, startedMs: this.startedMs, ward: this.ward, registry: this.devices, devices: this.status, engine: this.engine, outbox: this.outbox,
      sync: () => this.sync, storeOpen: () => this.db.open, brokerListening: () => this.mqtt.listening, pseudonyms: this.pseudonyms,
      adtListening: () => (this.cfg.hl7?.adt ? this.adt?.listening ?? false : null), // issue 21
      requestResults: (bedId, actor) => this.requestResults(bedId, actor), // issue 21
    })
    const source = new MqttDeviceSource({
      sequenceOf: (id) => { const d = this.devices.get(id); return d?.config.type === 'mqtt' ? d : undefined },
      deliver: (id, key, records, durable) => this.intake.deliver(id, 'mqtt', key, records, durable),
      reject: (reason, id, detail) => this.pipeline.reject(reason, id, detail),
    })
    this.mqtt = new MqttServer(
      {
        devices: new Map([...this.devices.all()].filter((d) => d.config.type === 'mqtt').map((d) => [d.id, (d.config as { secret: string }).secret])),
        clients: new Map(cfg.mqtt.clients.map((c) => [c.username, { password: c.password, role: c.role }])),
      },
      {
        deviceObs: (id, payload, durable) => source.observations(id, payload, durable),
        deviceWave: (id, payload, durable) => source.waveform(id, payload, durable),
        unknownTopic: (id, topic) => source.unknownTopic(id, topic),
        alarmAck: (alarmId, bedId, actor) => this.ward.acknowledge(alarmId, actor, bedId), // nurse stations ack over MQTT (issue 6)
        bedContext: async (bedId, input, actor) => {
          const r = await this.ward.setContext(bedId, input, actor)
          return r.ok ? { ok: true } : { ok: false, error: r.error }
        },
      },
      this.metrics,
      this.log.child({ component: 'mqtt' }),
      mqttLimits(cfg.mqtt), // issue 16
      cfg.mqtt.tls ?? null, // issue 18: MQTT over TLS, device certificates
    )
  }

  async start(): Promise<void> {
    const mq = splitHostPort(this.cfg.mqtt.listen)
    this.mqttPort = (await this.mqtt.start(mq.host, mq.port)).port
    this.ward.restoreContexts()
    const api = this.api
    this.live = new LiveFeed(this.events, api, this.log.child({ component: 'ws' }))
    const hp = splitHostPort(this.cfg.http.listen)
    const metricsListen = this.cfg.http.metrics_listen
    this.http = buildHttp(api, { ...this.httpSecurity(hp.host), tokens: this.cfg.http.tokens, metrics: this.metrics, log: this.log.child({ component: 'http' }), assets: loadPageAssets(), live: this.live, metricsHere: !metricsListen })
    await this.http.listen({ host: hp.host, port: hp.port })
    const addr = this.http.server.address()
    this.httpPort = typeof addr === 'object' && addr ? addr.port : hp.port
    if (metricsListen) await this.startMetricsHttp(api, metricsListen)
    await this.startSync()
    await this.startAdt() // issue 21
    this.startHl7Out() // issue 21
    this.durability.housekeeping.start() // issue 7
    await this.startDrivers()
    this.every(250, () => this.pipeline.handleAlarms(this.engine.tick(Date.now())))
    this.every(1000, () => this.publishVitals())
    this.every(2000, () => this.refreshGauges())
    this.refreshGauges()
    this.log.info({ event: 'started', http: this.httpPort, mqtt: this.mqttPort, beds: this.cfg.beds.length, cloud: this.sync !== null }, `bedside-hub ${this.cfg.hub.id} running: ${this.tls ? 'https' : 'http'} ${hp.host}:${this.httpPort}, mqtt ${mq.host}:${this.mqttPort}`)
  }

  /** Issue 18: /metrics on an address of its own (http.metrics_listen), same tokens and TLS. */
  private async startMetricsHttp(api: AgentApiImpl, listen: string): Promise<void> {
    const mp = splitHostPort(listen)
    const log = this.log.child({ component: 'http-metrics' })
    this.metricsHttp = buildMetricsHttp(api, { tokens: this.cfg.http.tokens, metrics: this.metrics, log, allowedHosts: allowedHosts(mp.host, this.cfg.http.allowed_hosts), ...(this.tls ? { tls: this.tls } : {}) })
    await this.metricsHttp.listen({ host: mp.host, port: mp.port })
  }

  /** Issue 18: the Host names served and HTTPS; says loudly when the page is plain or closed. */
  private httpSecurity(listenHost: string): { allowedHosts: ReadonlySet<string>; tls?: TlsReloader } {
    const http = this.cfg.http
    const log = this.log.child({ component: 'http' })
    if (http.tokens.length === 0) log.warn({ event: 'http_no_tokens' }, 'http.tokens is empty: the page, the API and /metrics refuse everyone until a token is configured')
    if (!http.tls && http.insecure) log.warn({ event: 'http_insecure', listen: http.listen }, `INSECURE: http.insecure is set: the page, patient data and bearer tokens travel in clear on ${http.listen}; set http.tls`)
    if (http.tls) this.tls = createTlsOptionsReloader({ cert: http.tls.cert, key: http.tls.key }, log)
    return { allowedHosts: allowedHosts(listenHost, http.allowed_hosts), ...(this.tls ? { tls: this.tls } : {}) }
  }

  /** Issue 21: the MLLP listener for the hospital's interface engine, when configured. */
  private async startAdt(): Promise<void> {
    const adt = this.cfg.hl7?.adt
    if (!adt) return
    const log = this.log.child({ component: 'hl7-adt' })
    if (!adt.tls && adt.insecure) log.warn({ event: 'adt_insecure', listen: adt.listen }, `INSECURE: hl7.adt.insecure is set: names, MRNs and birth dates travel in clear on ${adt.listen}; set hl7.adt.tls`)
    this.adt = new AdtListener(adt, {
      ward: this.ward, committer: this.committer, seen: this.seen, log,
      reject: (reason, detail) => this.pipeline.reject(reason, 'hl7-adt', detail),
      redelivered: () => this.metrics.redelivered.inc({ source: 'adt' }),
      answered: (event, ack) => this.metrics.adtMessages.inc({ event, ack }),
    })
    await this.adt.start()
    this.adtPort = this.adt.address()?.port ?? 0
  }

  /** Issue 21: results (PCD-01) and alarms (PCD-04) to the hospital over MLLP, each through its own cursor. */
  private startHl7Out(): void {
    this.hl7Out = createHl7Outputs(this.cfg, {
      db: this.db, admissions: this.admissions, metrics: this.metrics, log: this.log, durableSeq: () => this.committer.durableSeq,
      audit: (detail) => void this.pipeline.audit(AuditAction.HL7_REJECTED, 'bedside-hub', null, detail),
    })
    for (const o of this.hl7Out) o.start()
  }

  /**
   * Issue 21, PCD-01 on demand: a `results-requested` audit record of the bed, durable before the
   * answer; the results output ends the bed's current message at it (pcd-sources.ts).
   */
  private async requestResults(bedId: string, actor: { role: string; name: string }): Promise<{ ok: true; controlId: string } | { ok: false; status: 404 | 409; error: string; field: string }> {
    if (!this.cfg.hl7?.results) return { ok: false, status: 409, error: 'hl7.results is not configured', field: 'hl7.results' }
    if (!this.cfg.beds.some((b) => b.id === bedId)) return { ok: false, status: 404, error: `bedId: unknown bed "${bedId}"`, field: 'bedId' }
    if (!this.admissions.current(bedId)) return { ok: false, status: 404, error: `bedId: no patient admitted to bed "${bedId}"`, field: 'bedId' }
    const seq = this.pipeline.audit(AuditAction.RESULTS_REQUESTED, `${actor.role}:${actor.name}`, bedId, `PCD-01 results of bed ${bedId} requested now`)
    await new Promise<void>((resolve, reject) => this.committer.durableFrom(seq, (err) => (err ? reject(err) : resolve())))
    for (const o of this.hl7Out) o.wake()
    return { ok: true, controlId: `R${seq}` }
  }

  private async startSync(): Promise<void> {
    const kcfg = this.cfg.cloud?.kafka
    if (!kcfg) {
      this.log.info({ event: 'sync_disabled' }, 'no cloud.kafka configured: records are queued locally and never sent')
      return
    }
    // kafkajs is loaded only by a ward that syncs: its 143 modules are ~2 MB of heap (BENCHMARKS.md, Session 8).
    const [{ createKafka }, { CloudSync }] = await Promise.all([import('./sync/kafka.js'), import('./sync/sync.js')])
    const kafka = createKafka({ brokers: kcfg.brokers, clientId: kcfg.client_id, log: this.log, ...kafkaSecurity(kcfg) })
    const bedLabels = new Map(this.cfg.beds.map((b) => [b.id, b.label ?? b.id]))
    const encoder = new EnvelopeEncoder(this.cfg.hub.id, this.admissions, this.devices, this.pseudonyms, this.identities, {
      site: this.cfg.hub.site, demo: this.demo, wardLabel: this.cfg.hub.label ?? this.cfg.hub.id, bedLabel: (id) => bedLabels.get(id) ?? id,
    })
    this.sync = new CloudSync(kafka, this.outbox, encoder, {
      topics: kcfg.topics, deadLetterTopic: kcfg.topics.dead_letter, maxBatchRecords: kcfg.max_batch_records, targetAckMs: kcfg.target_ack_ms, observationsPerRecord: kcfg.observations_per_record,
      onError: (e) => this.durability.syncError(e), // issue 7
      wire: new WireFormat({ // issue 24
        format: kcfg.wire_format, hubId: this.cfg.hub.id, site: this.cfg.hub.site,
        topics: [kcfg.topics.raw_vitals, kcfg.topics.waveforms, kcfg.topics.alert_events, kcfg.topics.audit_log],
        registry: kcfg.schema_registry ? { url: kcfg.schema_registry.url, timeoutMs: kcfg.schema_registry.timeout_ms } : undefined,
      }),
      deadLetter: {
        store: new LocalDeadLetter(this.db),
        rejected: (entries) => {
          for (const e of entries) this.pipeline.audit('sync-rejected', 'bedside-hub', null, `record ${e.hubSeq} (kind ${e.kind}) set aside in the local dead-letter: ${e.reason}`)
        },
      },
    }, this.metrics, this.log.child({ component: 'sync' }))
    this.sync.start()
  }

  private async startDrivers(): Promise<void> {
    const host: DeviceHost = {
      context: (id) => this.driverContext(id),
      startFailed: (id, err) => {
        // A configuration error of one device (bad port path, bonding required) must not stop the ward.
        this.status.setLink(id, { state: 'disconnected', cause: err.message })
        this.log.error({ event: 'driver_start_failed', device: id, err: err.message }, `device ${id} could not start: ${err.message}`)
      },
      pairingChanged: (p, change) => {
        this.pipeline.audit(change === 'paired' ? 'ble-paired' : 'ble-unpaired', p.addedBy, p.bedId, `BLE device ${p.deviceId} ${change} (bed ${p.bedId})`)
        this.log.info({ event: `ble_${change}`, device: p.deviceId, bed: p.bedId }, `BLE device ${p.deviceId} ${change}`)
      },
    }
    this.runner = new DeviceRunner(this.devices, new Set(this.cfg.beds.map((b) => b.id)), new Pairings(this.db), host, this.opts.simRadio, this.log)
    await this.runner.startAll()
    this.every(5000, () => void this.runner?.syncPairings().catch((err: Error) => this.log.error({ event: 'pairing_sync_failed', err: err.message }, 'reading BLE pairings failed')))
  }

  private driverContext(deviceId: string): DriverContext {
    return {
      signal: this.abort.signal,
      emit: (r) => (r.kind === 'obs' ? this.pipeline.ingestObservation(r) : this.ingestWave(r)),
      sequenceOf: (id) => this.devices.get(id),
      identified: (serial) => this.devices.identify(deviceId, serial),
      deliver: (key, records, durable) => this.intake.deliver(deviceId, 'driver', key, records, durable),
      status: (s) => this.status.setLink(deviceId, s),
      condition: (c) => this.status.condition(c),
      battery: (pct) => this.status.setBattery(deviceId, pct),
      reject: (reason, detail) => this.pipeline.reject(reason, deviceId, detail),
    }
  }

  /** Waveforms from every source pass here: into the pipeline, then to the dashboard feed. */
  private ingestWave(chunk: WaveformChunk): IngestResult {
    const result = this.pipeline.ingestWaveform(chunk)
    if (result === 'accepted' && this.events.listenerCount('wave') > 0) {
      const device = this.devices.get(chunk.deviceId)
      if (device) this.events.emit('wave', device.bedId, chunk)
    }
    return result
  }

  private publishVitals(): void {
    for (const bedId of this.latest.takeChanged()) {
      this.mqtt.publish(vitalsTopic(bedId), JSON.stringify(vitalsJson(bedId, this.latest.of(bedId))), 0, true)
      this.events.emit('vitals', bedId)
    }
  }

  private refreshGauges(): void {
    this.metrics.outboxDepth.set(this.outbox.depth())
    const oldest = this.outbox.oldestUnsyncedMs()
    this.metrics.oldestUnsyncedAge.set(oldest === null ? 0 : Math.max(0, (Date.now() - oldest) / 1000))
  }

  private every(ms: number, fn: () => void): void {
    this.timers.push(setInterval(() => {
      try {
        fn()
      } catch (err) {
        this.log.error({ event: 'timer_failed', err: (err as Error).message }, 'periodic task failed')
      }
    }, ms))
  }

  onFatal(cb: (err: Error) => void): void {
    if (this.fatal.err) queueMicrotask(() => cb(this.fatal.err!))
    else this.fatal.cbs.push(cb)
  }

  async stop(): Promise<void> {
    this.abort.abort()
    for (const t of this.timers) clearInterval(t)
    await this.runner?.stopAll()
    await this.adt?.stop() // issue 21
    await Promise.all(this.hl7Out.map((o) => o.stop())) // issue 21: the message in flight is answered or abandoned (re-sent at the next start)
    this.live?.close()
    await this.http?.close()
    await this.metricsHttp?.close()
    this.tls?.close()
    await this.mqtt.stop()
    await this.durability.housekeeping.stop() // issue 7
    await this.committer.close()
    await this.sync?.stop()
    // After a failed fsync the page cache cannot be trusted: no closing checkpoint may copy
    // possibly lost WAL pages into the main file. The next start's recovery decides instead.
    if (!this.fatal.err) this.db.close()
    this.log.info({ event: 'stopped' }, 'bedside-hub stopped')
  }
}

/** Builds and starts an agent; on failure, whatever started is stopped again. */
export async function startAgent(cfg: Readonly<Config>, opts: AgentOptions = {}): Promise<RunningAgent> {
  const agent = new Agent(cfg, opts)
  try {
    await agent.start()
  } catch (err) {
    await agent.stop().catch(() => undefined)
    throw err
  }
  return agent
}
