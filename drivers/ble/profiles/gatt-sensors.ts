/**
 * Standard GATT sensor profiles: Heart Rate (§1), Pulse Oximeter (§2), Health Thermometer (§3).
 * They only subscribe: these services start sending once the CCCD is written, and stop when it is
 * cleared, which the link does on close. Sensor contact and "sensor off" status bits become the
 * sensor-off technical condition, reported on change.
 */
import { ConditionLatch } from '../conditions.js'
import { GATT } from '../gatt-uuids.js'
import { heartRateRecords, parseHeartRateMeasurement } from '../hrs.js'
import { parseTemperatureMeasurement, temperatureRecords } from '../hts.js'
import type { Link } from '../link.js'
import { parsePlxContinuous, parsePlxSpotCheck, plxContinuousRecords, plxSpotCheckRecords, plxStatusQuality } from '../plx.js'
import { Quality } from '../../records.js'
import type { BleProfile } from './profile.js'

abstract class NoStreamToStop {
  async close(_link: Link): Promise<void> {
    // Nothing beyond the CCCDs, which the link clears itself.
  }
}

export class HrsProfile extends NoStreamToStop implements BleProfile {
  readonly type = 'ble-hrs' as const
  readonly serviceUuids = [GATT.HEART_RATE_SERVICE]
  readonly characteristicUuids = [GATT.HEART_RATE_MEASUREMENT]
  /** HRS notifies about once a second. */
  readonly silenceMs = 10_000
  private readonly contact: ConditionLatch

  constructor(deviceId: string) {
    super()
    this.contact = new ConditionLatch(deviceId, 'sensor-off')
  }

  async open(link: Link): Promise<void> {
    const hrm = link.require(GATT.HEART_RATE_MEASUREMENT, 'heart rate measurement')
    await link.subscribe(hrm, 'heart rate measurement', (payload) => {
      const m = parseHeartRateMeasurement(payload)
      link.emitAll(heartRateRecords(m, link.context()))
      link.condition(this.contact.update(m.sensorContact === 'not-detected', link.nowMs(), 'no skin contact'))
    })
  }
}

export class PlxProfile extends NoStreamToStop implements BleProfile {
  readonly type = 'ble-plx' as const
  readonly serviceUuids = [GATT.PULSE_OXIMETER_SERVICE]
  readonly characteristicUuids = [GATT.PLX_CONTINUOUS, GATT.PLX_SPOT_CHECK]
  readonly silenceMs = 10_000
  private readonly sensorOff: ConditionLatch

  constructor(deviceId: string) {
    super()
    this.sensorOff = new ConditionLatch(deviceId, 'sensor-off')
  }

  async open(link: Link): Promise<void> {
    const cont = link.characteristic(GATT.PLX_CONTINUOUS)
    const spot = link.characteristic(GATT.PLX_SPOT_CHECK)
    // At least one of the two is present (§2.1, condition C1).
    if (!cont && !spot) link.require(GATT.PLX_CONTINUOUS, 'PLX continuous or spot-check measurement')
    if (cont) {
      await link.subscribe(cont, 'PLX continuous measurement', (payload) => {
        const m = parsePlxContinuous(payload)
        link.emitAll(plxContinuousRecords(m, link.context()))
        this.reportSensorOff(link, plxStatusQuality(m))
      })
    }
    if (spot) {
      await link.subscribe(spot, 'PLX spot-check measurement', (payload) => {
        const m = parsePlxSpotCheck(payload)
        link.emitAll(plxSpotCheckRecords(m, link.context()))
        this.reportSensorOff(link, plxStatusQuality(m))
      })
    }
  }

  private reportSensorOff(link: Link, quality: number): void {
    link.condition(this.sensorOff.update((quality & Quality.SENSOR_OFF) !== 0, link.nowMs(), 'oximeter reports sensor off or displaced'))
  }
}

export class HtsProfile extends NoStreamToStop implements BleProfile {
  readonly type = 'ble-hts' as const
  readonly serviceUuids = [GATT.HEALTH_THERMOMETER_SERVICE]
  readonly characteristicUuids = [GATT.TEMPERATURE_MEASUREMENT]
  /** Thermometers indicate per measurement, minutes apart: silence is normal. */
  readonly silenceMs = null

  async open(link: Link): Promise<void> {
    const tm = link.require(GATT.TEMPERATURE_MEASUREMENT, 'temperature measurement')
    await link.subscribe(tm, 'temperature measurement', (payload) => {
      link.emitAll(temperatureRecords(parseTemperatureMeasurement(payload), link.context()))
    })
  }
}
