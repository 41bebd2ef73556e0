/**
 * The composition root: builds every part of one agent from a validated config, starts them in
 * dependency order, and stops them in reverse. Nothing else wires parts together.
 *
 *   drivers ─emit→ Pipeline (validate → normalize → associate → rules → GroupCommitter)
 *   MQTT devices ─→ MqttServer.authorizePublish ─→ Pipeline          Outbox ─→ CloudSync ─→ Kafka
 *   alarms ─→ MQTT alarms/{bed}, HTTP API                           /metrics, /healthz, /api/*
 */
import { EventEmitter } from 'node:events'
import { pino, type Logger } from 'pino'
import { isDecodeError } from '../drivers/errors.js'
import { decodeObsPayload, decodeWavePayload } from '../drivers/mqtt/payload.js'
import { Quality, type Observation } from '../drivers/records.js'
import type { Driver, DriverContext, LinkStatus } from '../drivers/types.js'
import { SimVitalsDriver } from '../drivers/sim/vitals.js'
import type { Config } from './config.js'
import { AgentApiImpl } from './api.js'
import { alarmJson, alarmTopic, vitalsJson, vitalsTopic } from './outputs.js'
import { DeviceRegistry } from './pipeline/devices.js'
import { Pipeline } from './pipeline/ingest.js'
import { LatestVitals } from './pipeline/latest.js'
import { createRuleEngine, rulesConfigSchema, type AlarmChange, type RuleEngine } from './rules/index.js'
import { buildHttp } from './serve/http.js'
import { createMetrics, type Metrics } from './serve/metrics.js'
import { MqttServer, type MqttIngest } from './serve/mqtt.js'
import { renderPage } from './serve/page.js'
import { Admissions } from './store/admissions.js'
import { GroupCommitter } from './store/commit.js'
import { openDatabase, type Db } from './store/db.js'
import { Outbox } from './store/outbox.js'
import { EnvelopeEncoder } from './sync/envelope.js'
import { createKafka } from './sync/kafka.js'
import { Pseudonymizer } from './sync/pseudonym.js'
import { CloudSync } from './sync/sync.js'

export interface AgentOptions {
  readonly log?: Logger
  /** Demo ward: simulated devices flag their data DEMO; let it drive alarms anyway. */
  readonly demo?: boolean
}

/** Live events for outputs that are not MQTT (the dashboard's WebSocket feed). */
export interface AgentEvents {
  /** An alarm state change, already published on MQTT and queued for the store. */
  alarm: [change: AlarmChange, hubSeq: number]
  /** A bed's latest vitals changed (emitted at most once per second per bed). */
  vitals: [bedId: string]
  /** A device's link state changed. */
  link: [deviceId: string, status: LinkStatus]
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
  readonly mqtt: MqttServer
  sync: CloudSync | null = null
  httpPort = 0
  mqttPort = 0
  private readonly abort = new AbortController()
  private readonly drivers: Driver[] = []
  private readonly timers: NodeJS.Timeout[] = []
  private http: ReturnType<typeof buildHttp> | null = null
  private readonly scratch: Observation[] = []

  constructor(readonly cfg: Readonly<Config>, opts: AgentOptions) {
    this.log = opts.log ?? pino({ level: cfg.log.level, base: { hub: cfg.hub.id } })
    this.db = openDatabase(cfg.hub.data_dir)
    this.committer = new GroupCommitter(this.db, { intervalMs: cfg.store.commit_interval_ms, maxRecords: cfg.store.commit_max_records }, {
      onCommit: (n, s) => {
        this.metrics.recordsCommitted.inc(n)
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
    this.devices = new DeviceRegistry(cfg.beds)
    this.pseudonyms = Pseudonymizer.open(cfg.hub.data_dir, cfg.hub.site, Date.now())
    const rules = rulesConfigSchema.parse(cfg.rules ?? {})
    this.engine = createRuleEngine(rules, { validQualityMask: Quality.RETIMED | (opts.demo ? Quality.DEMO : 0) })
    this.mqtt = new MqttServer(
      {
        devices: new Map([...this.devices.all()].filter((d) => d.config.type === 'mqtt').map((d) => [d.id, (d.config as { secret: string }).secret])),
        clients: new Map(cfg.mqtt.clients.map((c) => [c.username, { password: c.password, role: c.role }])),
      },
      this.mqttIngest(),
      this.metrics,
      this.log.child({ component: 'mqtt' }),
    )
    this.pipeline = new Pipeline({
      devices: this.devices, admissions: this.admissions, committer: this.committer, engine: this.engine, latest: this.latest,
      metrics: this.metrics, log: this.log.child({ component: 'pipeline' }),
      publishAlarm: (c, hubSeq) => {
        this.mqtt.publish(alarmTopic(c.bedId), JSON.stringify(alarmJson(c, hubSeq)), 1, false)
        this.events.emit('alarm', c, hubSeq)
      },
    })
  }

  private mqttIngest(): MqttIngest {
    return {
      deviceObs: (deviceId, payload) => {
        const device = this.devices.get(deviceId)
        if (!device) return false
        const out = this.scratch
        out.length = 0
        try {
          decodeObsPayload(payload, { deviceId, hubTimeMs: Date.now(), nextSeq: device.nextSeq++ }, out)
        } catch (err) {
          if (!isDecodeError(err)) throw err
          this.pipeline.reject(err.reason, deviceId, err.message)
          return false
        }
        let accepted = false
        for (let i = 0; i < out.length; i++) if (this.pipeline.ingestObservation(out[i]!) === 'accepted') accepted = true
        out.length = 0
        return accepted
      },
      deviceWave: (deviceId, payload) => {
        const device = this.devices.get(deviceId)
        if (!device) return false
        try {
          return this.pipeline.ingestWaveform(decodeWavePayload(payload, { deviceId, hubTimeMs: Date.now(), nextSeq: device.nextSeq++ })) === 'accepted'
        } catch (err) {
          if (!isDecodeError(err)) throw err
          this.pipeline.reject(err.reason, deviceId, err.message)
          return false
        }
      },
      unknownTopic: (deviceId, topic) => this.pipeline.reject('unknown-topic', deviceId, topic),
      whenCommitted: (cb) => this.committer.whenCommitted(cb),
    }
  }

  async start(): Promise<void> {
    const mq = splitHostPort(this.cfg.mqtt.listen)
    this.mqttPort = (await this.mqtt.start(mq.host, mq.port)).port
    const api = new AgentApiImpl(this)
    this.http = buildHttp(api, this.cfg.http.tokens, this.metrics, () => renderPage(this.cfg.hub.id))
    const hp = splitHostPort(this.cfg.http.listen)
    await this.http.listen({ host: hp.host, port: hp.port })
    const addr = this.http.server.address()
    this.httpPort = typeof addr === 'object' && addr ? addr.port : hp.port
    this.startSync()
    await this.startDrivers()
    this.every(250, () => this.pipeline.handleAlarms(this.engine.tick(Date.now())))
    this.every(1000, () => this.publishVitals())
    this.every(2000, () => this.refreshGauges())
    this.refreshGauges()
    this.log.info({ event: 'started', http: this.httpPort, mqtt: this.mqttPort, beds: this.cfg.beds.length, cloud: this.sync !== null }, `bedside-hub ${this.cfg.hub.id} running: http ${hp.host}:${this.httpPort}, mqtt ${mq.host}:${this.mqttPort}`)
  }

  private startSync(): void {
    const kcfg = this.cfg.cloud?.kafka
    if (!kcfg) {
      this.log.info({ event: 'sync_disabled' }, 'no cloud.kafka configured: records are queued locally and never sent')
      return
    }
    const kafka = createKafka({ brokers: kcfg.brokers, clientId: kcfg.client_id, log: this.log })
    const encoder = new EnvelopeEncoder(this.cfg.hub.id, this.admissions, this.devices, this.pseudonyms)
    this.sync = new CloudSync(kafka, this.outbox, encoder, { topics: kcfg.topics, maxBatchRecords: kcfg.max_batch_records }, this.metrics, this.log.child({ component: 'sync' }))
    this.sync.start()
  }

  private async startDrivers(): Promise<void> {
    let seed = 1
    for (const d of this.devices.all()) {
      if (d.config.type !== 'sim') continue // mqtt devices come through the broker; BLE and serial drivers are wired by their own issues
      const driver = new SimVitalsDriver(d.id, d.config.scenario, seed++)
      this.drivers.push(driver)
      await driver.start(this.driverContext(d.id))
    }
  }

  private driverContext(deviceId: string): DriverContext {
    return {
      signal: this.abort.signal,
      emit: (r) => (r.kind === 'obs' ? this.pipeline.ingestObservation(r) : this.pipeline.ingestWaveform(r)),
      status: (s) => this.setLink(deviceId, s),
      reject: (reason, detail) => this.pipeline.reject(reason, deviceId, detail),
    }
  }

  private setLink(deviceId: string, s: LinkStatus): void {
    this.links.set(deviceId, s)
    this.metrics.deviceLink.set({ device: deviceId }, s.state === 'connected' ? 1 : 0)
    this.events.emit('link', deviceId, s)
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
    for (const d of this.drivers) await d.stop()
    await this.http?.close()
    await this.mqtt.stop()
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
