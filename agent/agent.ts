/**
 * The composition root: builds every part of one agent from a validated config, starts them in
 * dependency order, and stops them in reverse. Nothing else wires parts together.
 *
 *   drivers ─emit→ Pipeline (validate → normalize → associate → rules → GroupCommitter)
 *   MQTT devices ─→ MqttServer.authorizePublish ─→ Pipeline          Outbox ─→ CloudSync ─→ Kafka
 *   alarms ─→ MQTT alarms/{bed}, HTTP API                           /metrics, /healthz, /api/*
 */
import { hash } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { pino, type Logger } from 'pino'
import { isDecodeError } from '../drivers/errors.js'
import { decodeObsPayload, decodeWavePayload } from '../drivers/mqtt/payload.js'
import { Quality, type DeviceRecord, type Observation, type WaveformChunk } from '../drivers/records.js'
import type { Driver, DriverContext, LinkStatus } from '../drivers/types.js'
import type { NobleLike } from '../drivers/ble/noble-like.js'
import type { LinkCounters } from '../drivers/serial/index.js'
import { DeviceRunner, type DeviceHost } from './device-drivers.js'
import { Pairings } from './store/pairings.js'
import type { Config } from './config.js'
import { AgentApiImpl } from './api.js'
import { alarmJson, alarmTopic, vitalsJson, vitalsTopic } from './outputs.js'
import { DeviceRegistry } from './pipeline/devices.js'
import { Pipeline, type IngestResult } from './pipeline/ingest.js'
import { MessageIntake } from './pipeline/deliver.js'
import { SeenMessages } from './store/seen-messages.js'
import { DeviceSeqStore } from './store/device-seqs.js'
import { DeviceIdentities } from './store/device-identities.js'
import { LocalDeadLetter } from './store/dead-letter.js'
import { LatestVitals } from './pipeline/latest.js'
import { createRuleEngine, rulesConfigSchema, type AlarmChange, type RuleEngine } from './rules/index.js'
import { buildHttp, buildMetricsHttp } from './serve/http.js'
import { allowedHosts } from './serve/access.js'
import { createTlsOptionsReloader, type TlsReloader } from './serve/tls.js'
import { createMetrics, observedCounter, type Metrics } from './serve/metrics.js'
import { MqttServer, mqttLimits, type MqttIngest } from './serve/mqtt.js'
import { loadPageAssets } from './serve/page.js'
import { LiveFeed } from './serve/ws.js'
import { Admissions } from './store/admissions.js'
import { GroupCommitter } from './store/commit.js'
import { openDatabase, type Db } from './store/db.js'
import { Outbox } from './store/outbox.js'
import { EnvelopeEncoder } from './sync/envelope.js'
import { createKafka } from './sync/kafka.js'
import { Pseudonymizer } from './sync/pseudonym.js'
import { CloudSync } from './sync/sync.js'
import { Durability } from './housekeeping/wire.js' // issue 7
import { kafkaSecurity } from './sync/security.js' // issue 7

export interface AgentOptions {
  readonly log?: Logger
  /** Demo ward: simulated devices flag their data DEMO; let it drive alarms anyway (also `demo: true` in the config). */
  readonly demo?: boolean
  /** The demo ward's simulated BLE radio (config `ble.radio: sim`). */
  readonly simRadio?: NobleLike
}

/** Live events for outputs that are not MQTT (the dashboard's WebSocket feed). */
export interface AgentEvents {
  /** An alarm state change, already published on MQTT and queued for the store. */
  alarm: [change: AlarmChange, hubSeq: number]
  /** A bed's latest vitals changed (emitted at most once per second per bed). */
  vitals: [bedId: string]
  /** A device's link state changed. */
  link: [deviceId: string, status: LinkStatus]
  /** An accepted waveform chunk of a bed's device (the dashboard's ECG strip decimates it). */
  wave: [bedId: string, chunk: WaveformChunk]
}

export interface RunningAgent {
  readonly httpPort: number
  readonly mqttPort: number
  readonly metrics: Metrics
  stop(): Promise<void>
}

function splitHostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':')
  return { host: s.slice(0, i), port: Number(s.slice(i + 1)) }
}

/** Parts of a running agent, kept together so stop() can unwind them in reverse order. */
class Agent implements RunningAgent {
  readonly metrics = createMetrics()
  readonly events = new EventEmitter<AgentEvents>()
  /** Link state per device id, for the API and dashboard. */
  readonly links = new Map<string, LinkStatus>()
  /** Last battery level (%) per device id, for the API and dashboard. */
  readonly batteries = new Map<string, number>()
  readonly startedMs = Date.now()
  readonly log: Logger
  readonly db: Db
  readonly committer: GroupCommitter
  readonly outbox: Outbox
  readonly admissions: Admissions
  readonly devices: DeviceRegistry
  readonly pseudonyms: Pseudonymizer
  readonly engine: RuleEngine
  readonly latest = new LatestVitals()
  readonly pipeline: Pipeline
  /** Sender messages in as units, re-sends recognised (exactly once across redelivery). */
  readonly intake: MessageIntake
  /** Each device's identity per hub_seq range, so a backlog syncs under the pseudonyms it had. */
  readonly identities: DeviceIdentities
  readonly mqtt: MqttServer
  sync: CloudSync | null = null
  /** Quota, retention, checkpoints, key rotation (issue 7). */
  readonly durability: Durability
  httpPort = 0
  mqttPort = 0
  private readonly abort = new AbortController()
  private runner: DeviceRunner | null = null
  private readonly timers: NodeJS.Timeout[] = []
  private http: ReturnType<typeof buildHttp> | null = null
  private tls: TlsReloader | null = null
  private metricsHttp: ReturnType<typeof buildHttp> | null = null
  private live: LiveFeed | null = null
  private readonly scratch: Observation[] = []
  private readonly waveScratch: WaveformChunk[] = []

  constructor(readonly cfg: Readonly<Config>, private readonly opts: AgentOptions) {
    this.log = opts.log ?? pino({ level: cfg.log.level, base: { hub: cfg.hub.id } })
    this.db = openDatabase(cfg.hub.data_dir)
    this.committer = new GroupCommitter(this.db, { intervalMs: cfg.store.commit_interval_ms, maxRecords: cfg.store.commit_max_records }, {
      onCommit: (n, s) => {
        this.metrics.recordsCommitted.inc(n)
        this.outbox.committed(n) // issue 7: running outbox depth
        this.metrics.commitLatency.observe(s)
        this.sync?.notify()
      },
      onError: (err, n) => {
        this.metrics.commitFailures.inc()
        this.log.error({ event: 'commit_failed', records: n, err: err.message }, `group commit of ${n} records failed; none of them was acknowledged`)
      },
    })
    this.outbox = new Outbox(this.db)
    this.admissions = new Admissions(this.db)
    const deviceSeqs = new DeviceSeqStore(this.db, () => this.devices.all())
    this.identities = new DeviceIdentities(this.db)
    // A device's identity is fixed for the records accepted from the next hub_seq on (issue 17).
    this.devices = new DeviceRegistry(cfg.beds, {
      startSeq: (id) => deviceSeqs.startOf(id),
      knownSerial: (id) => this.identities.reportedSerial(id),
      onIdentity: (d) => this.identities.record(d.id, d.identity, this.committer.peekHubSeq),
    })
    this.pseudonyms = Pseudonymizer.open(cfg.hub.data_dir, cfg.hub.site, Date.now())
    const rules = cfg.rules ?? rulesConfigSchema.parse({})
    this.engine = createRuleEngine(rules, { validQualityMask: Quality.RETIMED | (opts.demo || cfg.demo ? Quality.DEMO : 0) })
    this.observeCounters()
    this.mqtt = new MqttServer(
      {
        devices: new Map([...this.devices.all()].filter((d) => d.config.type === 'mqtt').map((d) => [d.id, (d.config as { secret: string }).secret])),
        clients: new Map(cfg.mqtt.clients.map((c) => [c.username, { password: c.password, role: c.role }])),
      },
      this.mqttIngest(),
      this.metrics,
      this.log.child({ component: 'mqtt' }),
      mqttLimits(cfg.mqtt), // issue 16
      cfg.mqtt.tls ?? null, // issue 18: MQTT over TLS, device certificates
    )
    this.durability = new Durability(this) // issue 7: before the pipeline, which reads its quota gate
    this.pipeline = new Pipeline({
      devices: this.devices, admissions: this.admissions, committer: this.committer, engine: this.engine, latest: this.latest,
      metrics: this.metrics, log: this.log.child({ component: 'pipeline' }), storeGate: this.durability.quota,
      publishAlarm: (c, hubSeq) => {
        this.mqtt.publish(alarmTopic(c.bedId), JSON.stringify(alarmJson(c, hubSeq)), 1, false)
        this.events.emit('alarm', c, hubSeq)
      },
    })
    const seen = new SeenMessages(this.db, cfg.store.redelivery_window)
    this.committer.attach(seen)
    this.committer.attach(deviceSeqs)
    this.intake = new MessageIntake({
      committer: this.committer, seen,
      ingest: (r) => (r.kind === 'obs' ? this.pipeline.ingestObservation(r) : this.ingestWave(r)),
      redelivered: (source) => this.metrics.redelivered.inc({ source }),
    })
  }

  /** DurabilityHost (issue 7): hub-level audit events and alarm changes of the store. */
  audit(action: string, detail: string): number {
    return this.pipeline.audit(action, 'bedside-hub', null, detail)
  }

  whenCommitted(cb: (err: Error | null) => void): void {
    this.committer.whenCommitted(cb)
  }

  handleAlarms(changes: readonly AlarmChange[]): void {
    if (changes.length > 0) this.pipeline.handleAlarms(changes)
  }

  /**
   * MQTT device payloads → one delivery per message. A message's identity is its seq and device
   * time as sent (a QoS 1 re-send repeats both); a device that sends no seq is keyed by the message's
   * bytes, so an identical re-send is recognised and two different messages in one millisecond are not
   * merged. A duplicate is PUBACKed once its original is durable ('accepted' below).
   */
  private mqttIngest(): MqttIngest {
    const deliver = (deviceId: string, identity: string | undefined, payload: Buffer, records: DeviceRecord[]): 'accepted' | 'rejected' | 'refused' => {
      const key = identity ?? `#${hash('sha1', payload, 'base64')}`
      const r = this.intake.deliver(deviceId, 'mqtt', key, records)
      records.length = 0
      return r === 'duplicate' ? 'accepted' : r
    }
    return {
      deviceObs: (deviceId, payload) => {
        const device = this.devices.get(deviceId)
        if (!device) return 'rejected'
        const out = this.scratch
        out.length = 0
        const ctx = { deviceId, hubTimeMs: Date.now(), nextSeq: device.nextSeq, identity: undefined as string | undefined }
        try {
          decodeObsPayload(payload, ctx, out)
        } catch (err) {
          if (!isDecodeError(err)) throw err
          this.pipeline.reject(err.reason, deviceId, err.message)
          return 'rejected'
        }
        if (ctx.identity === undefined) device.nextSeq++ // the number was taken (the payload had no seq)
        return deliver(deviceId, ctx.identity, payload, out)
      },
      deviceWave: (deviceId, payload) => {
        const device = this.devices.get(deviceId)
        if (!device) return 'rejected'
        const ctx = { deviceId, hubTimeMs: Date.now(), nextSeq: device.nextSeq, identity: undefined as string | undefined }
        const out = this.waveScratch
        out.length = 0
        try {
          out.push(decodeWavePayload(payload, ctx))
        } catch (err) {
          if (!isDecodeError(err)) throw err
          this.pipeline.reject(err.reason, deviceId, err.message)
          return 'rejected'
        }
        if (ctx.identity === undefined) device.nextSeq++ // the number was taken (the payload had no seq)
        return deliver(deviceId, ctx.identity, payload, out)
      },
      unknownTopic: (deviceId, topic) => this.pipeline.reject('unknown-topic', deviceId, topic),
      whenCommitted: (cb) => this.committer.whenCommitted(cb),
    }
  }

  async start(): Promise<void> {
    const mq = splitHostPort(this.cfg.mqtt.listen)
    this.mqttPort = (await this.mqtt.start(mq.host, mq.port)).port
    const api = new AgentApiImpl(this)
    this.mqtt.alarmAck = (alarmId, bedId, actor) => api.acknowledge(alarmId, actor, bedId) // nurse stations ack over MQTT (issue 6)
    this.live = new LiveFeed(this.events, api, this.log.child({ component: 'ws' }))
    const hp = splitHostPort(this.cfg.http.listen)
    const metricsListen = this.cfg.http.metrics_listen
    this.http = buildHttp(api, { ...this.httpSecurity(hp.host), tokens: this.cfg.http.tokens, metrics: this.metrics, log: this.log.child({ component: 'http' }), assets: loadPageAssets(), live: this.live, metricsHere: !metricsListen })
    await this.http.listen({ host: hp.host, port: hp.port })
    const addr = this.http.server.address()
    this.httpPort = typeof addr === 'object' && addr ? addr.port : hp.port
    if (metricsListen) await this.startMetricsHttp(api, metricsListen)
    this.startSync()
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

  private startSync(): void {
    const kcfg = this.cfg.cloud?.kafka
    if (!kcfg) {
      this.log.info({ event: 'sync_disabled' }, 'no cloud.kafka configured: records are queued locally and never sent')
      return
    }
    const kafka = createKafka({ brokers: kcfg.brokers, clientId: kcfg.client_id, log: this.log, ...kafkaSecurity(kcfg) })
    const encoder = new EnvelopeEncoder(this.cfg.hub.id, this.admissions, this.devices, this.pseudonyms, this.identities)
    this.sync = new CloudSync(kafka, this.outbox, encoder, { topics: kcfg.topics, deadLetterTopic: kcfg.topics.dead_letter, maxBatchRecords: kcfg.max_batch_records, targetAckMs: kcfg.target_ack_ms }, this.metrics, this.log.child({ component: 'sync' }))
    this.sync.onError = (e) => this.durability.syncError(e) // issue 7
    this.sync.deadLetter = {
      store: new LocalDeadLetter(this.db),
      rejected: (entries) => {
        for (const e of entries) this.pipeline.audit('sync-rejected', 'bedside-hub', null, `record ${e.hubSeq} (kind ${e.kind}) set aside in the local dead-letter: ${e.reason}`)
      },
    }
    this.sync.start()
  }

  private async startDrivers(): Promise<void> {
    const host: DeviceHost = {
      context: (id) => this.driverContext(id),
      startFailed: (id, err) => {
        // A configuration error of one device (bad port path, bonding required) must not stop the ward.
        this.setLink(id, { state: 'disconnected', cause: err.message })
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
      deliver: (key, records, durable) => this.intake.deliverDurably(deviceId, 'driver', key, records, durable),
      status: (s) => this.setLink(deviceId, s),
      condition: (c) => this.pipeline.deviceCondition(c.deviceId, c.condition, c.active, c.detail),
      battery: (pct) => {
        this.batteries.set(deviceId, pct)
        this.metrics.deviceBattery.set({ device: deviceId }, pct)
      },
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

  private setLink(deviceId: string, s: LinkStatus): void {
    const before = this.links.get(deviceId)
    this.links.set(deviceId, s)
    // Link state → technical conditions: a disconnect the agent did not ask for, a silent monitor.
    if (s.state === 'disconnected' && s.cause !== 'stopped' && !this.abort.signal.aborted) this.pipeline.deviceCondition(deviceId, 'disconnected', true, s.cause)
    if (s.state === 'silent') this.pipeline.deviceCondition(deviceId, 'no-data', true)
    if (s.state === 'connected' && before && before.state !== 'connected' && before.state !== 'connecting') {
      this.pipeline.deviceCondition(deviceId, 'disconnected', false)
      this.pipeline.deviceCondition(deviceId, 'no-data', false)
    }
    if (s.state === 'disconnected') this.pipeline.ecg.stop(deviceId)
    this.metrics.deviceLink.set({ device: deviceId }, s.state === 'connected' ? 1 : 0)
    this.events.emit('link', deviceId, s)
  }

  /** Counters that drivers and the engine keep themselves, read at scrape time. */
  private observeCounters(): void {
    const perLink = (pick: (c: LinkCounters) => number) => () => [...(this.runner?.factory.linkCounters ?? [])].map(([device, read]) => [{ device }, pick(read())] as [{ device: string }, number])
    observedCounter(this.metrics, 'bedside_link_frames_total', 'Frames received per serial/TCP device link', ['device'], perLink((c) => c.frames))
    observedCounter(this.metrics, 'bedside_link_bytes_total', 'Bytes received per serial/TCP device link', ['device'], perLink((c) => c.bytesIn))
    observedCounter(this.metrics, 'bedside_link_checksum_failures_total', 'Frames with a bad checksum per device link', ['device'], perLink((c) => c.checksumFailures))
    observedCounter(this.metrics, 'bedside_link_resyncs_total', 'Resynchronisations on garbage per device link', ['device'], perLink((c) => c.resyncs))
    observedCounter(this.metrics, 'bedside_link_reopens_total', 'Port opens (first open and reopens after unplug) per device link', ['device'], perLink((c) => c.opens))
    observedCounter(this.metrics, 'bedside_rules_skipped_total', 'Observations the alarm engine did not evaluate, by reason', ['reason'], () => {
      const st = this.engine.stats()
      return [[{ reason: 'late' }, st.lateDropped], [{ reason: 'flagged' }, st.flaggedIgnored], [{ reason: 'no-rule' }, st.unmatched]]
    })
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

  async stop(): Promise<void> {
    this.abort.abort()
    for (const t of this.timers) clearInterval(t)
    await this.runner?.stopAll()
    this.live?.close()
    await this.http?.close()
    await this.metricsHttp?.close()
    this.tls?.close()
    await this.mqtt.stop()
    await this.durability.housekeeping.stop() // issue 7
    this.committer.close()
    await this.sync?.stop()
    this.db.close()
    this.log.info({ event: 'stopped' }, 'bedside-hub stopped')
  }
}

export type AgentInternals = Agent

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
