/**
 * What the ward knows of each device's link and battery, fed by the driver contexts. The one place
 * where link states become technical conditions (a disconnect the agent did not ask for, a silent
 * monitor) and where the API and the page read a device's state.
 */
import type { EventEmitter } from 'node:events'
import type { DeviceCondition, LinkStatus } from '../../drivers/types.js'
import type { AgentEvents } from '../events.js'
import type { TechnicalCondition } from '../rules/index.js'
import type { Metrics } from '../serve/metrics.js'

export interface DeviceStatusDeps {
  /** A technical condition of a device into the alarm engine (Pipeline.deviceCondition). */
  readonly condition: (deviceId: string, condition: TechnicalCondition, active: boolean, detail?: string) => void
  /** The device's link went down: its ECG analysis starts afresh on the next link. */
  readonly linkDown: (deviceId: string) => void
  readonly metrics: Metrics
  readonly events: EventEmitter<AgentEvents>
  /** True once the agent is stopping: its own disconnects raise no alarm. */
  readonly stopping: () => boolean
}

export class DeviceStatus {
  private readonly links = new Map<string, LinkStatus>()
  private readonly batteries = new Map<string, number>()
  private readonly lowBattery = new Set<string>()

  constructor(private readonly d: DeviceStatusDeps) {}

  link(deviceId: string): LinkStatus | undefined {
    return this.links.get(deviceId)
  }

  allLinks(): ReadonlyMap<string, LinkStatus> {
    return this.links
  }

  batteryPct(deviceId: string): number | undefined {
    return this.batteries.get(deviceId)
  }

  /** True while the device's low-battery condition is active (as it reported it). */
  isLowBattery(deviceId: string): boolean {
    return this.lowBattery.has(deviceId)
  }

  setLink(deviceId: string, s: LinkStatus): void {
    const before = this.links.get(deviceId)
    this.links.set(deviceId, s)
    if (s.state === 'disconnected' && s.cause !== 'stopped' && !this.d.stopping()) this.d.condition(deviceId, 'disconnected', true, s.cause)
    if (s.state === 'silent') this.d.condition(deviceId, 'no-data', true)
    if (s.state === 'connected' && before && before.state !== 'connected' && before.state !== 'connecting') {
      this.d.condition(deviceId, 'disconnected', false)
      this.d.condition(deviceId, 'no-data', false)
    }
    if (s.state === 'disconnected') this.d.linkDown(deviceId)
    this.d.metrics.deviceLink.set({ device: deviceId }, s.state === 'connected' ? 1 : 0)
    this.d.events.emit('link', deviceId, s)
  }

  setBattery(deviceId: string, pct: number): void {
    this.batteries.set(deviceId, pct)
    this.d.metrics.deviceBattery.set({ device: deviceId }, pct)
  }

  /** A condition a device reports about itself (battery, sensor contact, leads, clock). */
  condition(c: DeviceCondition): void {
    if (c.condition === 'low-battery') {
      if (c.active) this.lowBattery.add(c.deviceId)
      else this.lowBattery.delete(c.deviceId)
    }
    this.d.condition(c.deviceId, c.condition, c.active, c.detail)
  }
}
