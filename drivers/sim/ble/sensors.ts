/**
 * Simulated standard GATT sensors for the demo ward and tests: a heart-rate strap (HRS, §1),
 * a pulse oximeter (PLX, §2) and a thermometer (HTS, §3). Each `send…` notifies the exact bytes
 * a real device sends (encode.ts); `every(ms, …)` turns it into a periodic source.
 *
 *   const plx = new SimPlxSensor({ address: 'c0:ff:ee:00:00:02' })
 *   radio.add(plx.peripheral)
 *   plx.every(1000, () => plx.sendContinuous({ spo2Pct: 97, pulseRateBpm: 72 }))
 */
import { GATT } from '../../ble/gatt-uuids.js'
import { encodeHeartRate, encodePlxContinuous, encodePlxSpotCheck, encodeTemperature, type HeartRateFields, type PlxFields, type TemperatureFields } from './encode.js'
import { commonServices, SimBleDevice, type SimDeviceOptions } from './sim-device.js'
import { SimPeripheral } from './sim-radio.js'

export interface SimSensorOptions extends SimDeviceOptions {
  /** The measurement attributes need a bonded link (see sim-radio.ts header). */
  requiresBonding?: boolean
}

export class SimHrsSensor extends SimBleDevice {
  readonly peripheral: SimPeripheral
  constructor(o: SimSensorOptions) {
    super(o)
    this.peripheral = new SimPeripheral({
      address: o.address,
      localName: o.localName ?? 'SIM HRS',
      services: [
        {
          uuid: GATT.HEART_RATE_SERVICE,
          characteristics: [
            { uuid: GATT.HEART_RATE_MEASUREMENT, properties: ['notify'], requiresBonding: o.requiresBonding },
            { uuid: GATT.BODY_SENSOR_LOCATION, properties: ['read'], read: Buffer.from([1]) },
          ],
        },
        ...commonServices(o, () => this.batteryPct),
      ],
    })
  }
  send(f: HeartRateFields): boolean {
    return this.peripheral.characteristic(GATT.HEART_RATE_MEASUREMENT).notify(encodeHeartRate(f))
  }
}

export class SimPlxSensor extends SimBleDevice {
  readonly peripheral: SimPeripheral
  constructor(o: SimSensorOptions) {
    super(o)
    this.peripheral = new SimPeripheral({
      address: o.address,
      localName: o.localName ?? 'SIM PLX',
      services: [
        {
          uuid: GATT.PULSE_OXIMETER_SERVICE,
          characteristics: [
            { uuid: GATT.PLX_CONTINUOUS, properties: ['notify'], requiresBonding: o.requiresBonding },
            { uuid: GATT.PLX_SPOT_CHECK, properties: ['indicate'], requiresBonding: o.requiresBonding },
          ],
        },
        ...commonServices(o, () => this.batteryPct),
      ],
    })
  }
  sendContinuous(f: PlxFields): boolean {
    return this.peripheral.characteristic(GATT.PLX_CONTINUOUS).notify(encodePlxContinuous(f))
  }
  sendSpotCheck(f: PlxFields & { timeMs?: number }): boolean {
    return this.peripheral.characteristic(GATT.PLX_SPOT_CHECK).notify(encodePlxSpotCheck(f))
  }
}

export class SimHtsSensor extends SimBleDevice {
  readonly peripheral: SimPeripheral
  constructor(o: SimSensorOptions) {
    super(o)
    this.peripheral = new SimPeripheral({
      address: o.address,
      localName: o.localName ?? 'SIM HTS',
      services: [
        { uuid: GATT.HEALTH_THERMOMETER_SERVICE, characteristics: [{ uuid: GATT.TEMPERATURE_MEASUREMENT, properties: ['indicate'], requiresBonding: o.requiresBonding }] },
        ...commonServices(o, () => this.batteryPct),
      ],
    })
  }
  send(f: TemperatureFields): boolean {
    return this.peripheral.characteristic(GATT.TEMPERATURE_MEASUREMENT).notify(encodeTemperature(f))
  }
}
