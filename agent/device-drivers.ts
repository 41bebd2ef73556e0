/**
 * Builds one Driver per configured device (drivers/ are the sources of the data flow). MQTT devices
 * have no driver: they arrive through the broker. BLE devices share one central (the machine's
 * adapter, or the simulated radio of the demo ward), which connects only to allowlisted addresses.
 *
 * Driver families are imported on first use: each library costs 5–10 MB of RSS once loaded
 * (measured: serialport +8 MB, the BLE stack +6 MB over a bare node), and a ward without serial
 * monitors or patches should not pay for them (issue 11 memory goal).
 */
import type { Logger } from 'pino'
import type { Allowlist, BleCentral } from '../drivers/ble/index.js'
import type { NobleLike } from '../drivers/ble/noble-like.js'
import type { LinkCounters } from '../drivers/serial/index.js'
import type { Driver } from '../drivers/types.js'
import type { Config } from './config.js'
import type { DeviceEntry } from './pipeline/devices.js'

export interface BuiltDrivers {
  readonly drivers: Driver[]
  /** Per-port counters of serial/TCP drivers, by device id, for /metrics. */
  readonly linkCounters: Map<string, () => LinkCounters>
}

export interface DriverFactoryOptions {
  readonly cfg: Readonly<Config>
  readonly allowlist: Allowlist
  /** The demo ward's simulated radio; otherwise the machine's adapter is loaded on first use. */
  readonly simRadio?: NobleLike
  readonly log: Logger
}

function splitHostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':')
  return { host: s.slice(0, i), port: Number(s.slice(i + 1)) }
}

export async function buildDrivers(devices: Iterable<DeviceEntry>, o: DriverFactoryOptions): Promise<BuiltDrivers> {
  const drivers: Driver[] = []
  const linkCounters = new Map<string, () => LinkCounters>()
  let central: BleCentral | null = null
  const bleCentral = async (): Promise<BleCentral> => {
    if (!central) {
      const ble = await import('../drivers/ble/index.js')
      central = new ble.BleCentral(o.simRadio ?? (await ble.loadNoble()), o.allowlist)
    }
    return central
  }
  const serial = () => import('../drivers/serial/index.js')
  let seed = 1
  for (const d of devices) {
    const c = d.config
    switch (c.type) {
      case 'mqtt':
        break
      case 'sim':
        drivers.push(new (await import('../drivers/sim/vitals.js')).SimVitalsDriver(d.id, c.scenario, seed++, c.parameters))
        break
      case 'polar-pmd':
      case 'ble-hrs':
      case 'ble-plx':
      case 'ble-hts':
        drivers.push((await import('../drivers/ble/index.js')).createBleDriver({ deviceId: d.id, type: c.type, address: c.address, requiresBonding: c.requires_bonding, lowBatteryPct: c.low_battery_pct }, await bleCentral(), o.allowlist))
        break
      case 'datex': {
        const drv = new (await serial()).DatexDriver({ deviceId: d.id, port: c.port, intervalS: c.interval_s, silenceMs: c.silence_s * 1000 })
        linkCounters.set(d.id, () => drv.counters)
        drivers.push(drv)
        break
      }
      case 'hl7': {
        const drv = new (await serial()).Hl7SerialDriver({ deviceId: d.id, port: c.port, silenceMs: c.silence_s * 1000 })
        linkCounters.set(d.id, () => drv.counters)
        drivers.push(drv)
        break
      }
      case 'hl7-tcp': {
        const { host, port } = splitHostPort(c.listen)
        const drv = new (await serial()).Hl7TcpDriver({ deviceId: d.id, host, port, silenceMs: c.silence_s * 1000, sources: c.sources })
        linkCounters.set(d.id, () => drv.counters)
        drivers.push(drv)
        break
      }
    }
  }
  return { drivers, linkCounters }
}
