/**
 * PLX Measurement Status (16-bit) and Device and Sensor Status (24-bit) → quality flags
 * (protocols.md §2.4, [S-GATT], [S-CY]).
 *
 * The mapping is ours: the GATT spec names the bits, it does not say what a monitor should do
 * with them. We keep a value whenever the device sent one and let the quality bits tell the
 * rules not to trust it; "sensor off" bits also raise the sensor-off technical condition.
 */
import { Quality } from '../records.js'

/** Measurement Status bits (§2.4) that change how far a value can be trusted. */
const MEASUREMENT_STATUS_QUALITY: ReadonlyArray<readonly [bit: number, quality: number, name: string]> = [
  [5, Quality.VALID, 'measurement-ongoing'],
  [6, Quality.QUESTIONABLE, 'early-estimated-data'],
  [7, Quality.VALID, 'validated-data'],
  [8, Quality.VALID, 'fully-qualified-data'],
  [9, Quality.VALID, 'data-from-storage'],
  [10, Quality.DEMO, 'data-for-demonstration'],
  [11, Quality.DEMO, 'data-for-testing'],
  [12, Quality.CALIBRATING, 'calibration-ongoing'],
  [13, Quality.UNAVAILABLE, 'measurement-unavailable'],
  [14, Quality.QUESTIONABLE, 'questionable-measurement'],
  // An invalid measurement is not a value at all, so UNAVAILABLE rather than QUESTIONABLE.
  [15, Quality.UNAVAILABLE, 'invalid-measurement'],
]

/** Device and Sensor Status bits (§2.4); bits 16–23 are RFU and ignored. */
const DEVICE_SENSOR_STATUS_QUALITY: ReadonlyArray<readonly [bit: number, quality: number, name: string]> = [
  [0, Quality.VALID, 'extended-display-update-ongoing'],
  [1, Quality.QUESTIONABLE, 'equipment-malfunction'],
  [2, Quality.QUESTIONABLE, 'signal-processing-irregularity'],
  [3, Quality.QUESTIONABLE, 'inadequate-signal'],
  [4, Quality.QUESTIONABLE, 'poor-signal'],
  [5, Quality.QUESTIONABLE, 'low-perfusion'],
  [6, Quality.QUESTIONABLE, 'erratic-signal'],
  [7, Quality.QUESTIONABLE, 'nonpulsatile-signal'],
  [8, Quality.QUESTIONABLE, 'questionable-pulse'],
  [9, Quality.QUESTIONABLE, 'signal-analysis-ongoing'],
  // Named "Sensor Interface Detected" in the spot-check XML; same bit (§2.4).
  [10, Quality.QUESTIONABLE, 'sensor-interference'],
  [11, Quality.SENSOR_OFF, 'sensor-unconnected-to-user'],
  [12, Quality.QUESTIONABLE, 'unknown-sensor-connected'],
  [13, Quality.SENSOR_OFF, 'sensor-displaced'],
  [14, Quality.QUESTIONABLE, 'sensor-malfunctioning'],
  [15, Quality.SENSOR_OFF, 'sensor-disconnected'],
]

function tableMask(table: ReadonlyArray<readonly [number, number, string]>, status: number): number {
  let q = 0
  for (let i = 0; i < table.length; i++) if (status & (1 << table[i][0])) q |= table[i][1]
  return q
}

function tableNames(table: ReadonlyArray<readonly [number, number, string]>, status: number): string[] {
  const out: string[] = []
  for (const [bit, , name] of table) if (status & (1 << bit)) out.push(name)
  return out
}

export function measurementStatusQuality(status: number): number {
  return tableMask(MEASUREMENT_STATUS_QUALITY, status)
}
export function deviceSensorStatusQuality(status: number): number {
  return tableMask(DEVICE_SENSOR_STATUS_QUALITY, status)
}
export function measurementStatusNames(status: number): string[] {
  return tableNames(MEASUREMENT_STATUS_QUALITY, status)
}
export function deviceSensorStatusNames(status: number): string[] {
  return tableNames(DEVICE_SENSOR_STATUS_QUALITY, status)
}
