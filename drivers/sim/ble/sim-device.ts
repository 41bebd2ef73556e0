/**
 * What every simulated BLE device shares: Battery Service and Device Information (protocols.md §4),
 * a periodic sender for the demo ward, and a stop that clears its timers.
 */
import { GATT } from '../../ble/gatt-uuids.js'
import { SimPeripheral, type SimPeripheralSpec } from './sim-radio.js'

export interface SimDeviceOptions {
  address: string
  localName?: string
  batteryPct?: number
  manufacturer?: string
  model?: string
  serial?: string
}

type ServiceSpec = SimPeripheralSpec['services'][number]

export function commonServices(o: SimDeviceOptions, battery: () => number): ServiceSpec[] {
  return [
    { uuid: GATT.BATTERY_SERVICE, characteristics: [{ uuid: GATT.BATTERY_LEVEL, properties: ['read', 'notify'], read: () => Buffer.from([battery()]) }] },
    {
      uuid: GATT.DEVICE_INFORMATION_SERVICE,
      characteristics: [
        { uuid: GATT.MANUFACTURER_NAME, properties: ['read'], read: Buffer.from(o.manufacturer ?? 'Simulated Medical') },
        { uuid: GATT.MODEL_NUMBER, properties: ['read'], read: Buffer.from(o.model ?? 'SIM-1') },
        { uuid: GATT.SERIAL_NUMBER, properties: ['read'], read: Buffer.from(o.serial ?? `SIM${o.address.replace(/:/g, '').slice(-6).toUpperCase()}`) },
      ],
    },
  ]
}

export abstract class SimBleDevice {
  abstract readonly peripheral: SimPeripheral
  protected batteryPct: number
  private readonly timers = new Set<NodeJS.Timeout>()

  constructor(protected readonly options: SimDeviceOptions) {
    this.batteryPct = options.batteryPct ?? 90
  }

  /** Changes the battery level and notifies it (0x2A19 is Read + optional Notify, §4). */
  setBattery(pct: number): void {
    this.batteryPct = pct
    this.peripheral.characteristic(GATT.BATTERY_LEVEL).notify(Buffer.from([pct]))
  }

  /** Calls `send` every `intervalMs` until stop() (demo ward). */
  every(intervalMs: number, send: () => void): void {
    const t = setInterval(send, intervalMs)
    t.unref()
    this.timers.add(t)
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t)
    this.timers.clear()
  }
}
