/**
 * A simulated BLE ward for the demo: one radio with, per bed, an H10 patch streaming ECG and
 * optionally a pulse oximeter, HR strap and thermometer sending plausible vitals. The agent
 * connects to it through the real central (drivers/ble), exactly as it would to real devices:
 *
 *   const ward = createSimBleWard([{ bed: '3a-01', patch: 'a0:9e:1a:00:00:01', heartRateBpm: 78, oximeter: 'c0:ff:ee:00:01:02' }])
 *   const central = new BleCentral(ward.radio, allowlist)
 *   …
 *   ward.stop()
 */
import { SimPolarH10, type SimPolarH10Options } from './polar-h10.js'
import { SimRadio } from './sim-radio.js'
import { SimHrsSensor, SimHtsSensor, SimPlxSensor } from './sensors.js'
import type { SimBleDevice } from './sim-device.js'

export interface SimBedSpec {
  readonly bed: string
  /** Address of the bed's Polar H10 patch. */
  readonly patch?: string
  readonly heartRateBpm?: number
  /** The patch's rhythm over time (SimPolarH10Options.script): the demo's arrhythmias. */
  readonly ecgScript?: SimPolarH10Options['script']
  readonly oximeter?: string
  readonly spo2Pct?: number
  readonly hrStrap?: string
  readonly thermometer?: string
  readonly temperatureCel?: number
}

export interface SimBleWard {
  readonly radio: SimRadio
  readonly devices: ReadonlyMap<string, SimBleDevice>
  stop(): void
}

/** Small, seeded wobble so the vitals look alive without tripping alarms by chance. */
function wobble(seed: { s: number }, amplitude: number): number {
  seed.s = (seed.s * 48271) % 0x7fffffff
  return Math.round((seed.s / 0x7fffffff - 0.5) * 2 * amplitude)
}

export function createSimBleWard(beds: readonly SimBedSpec[], vitalsIntervalMs = 1000): SimBleWard {
  const radio = new SimRadio()
  const devices = new Map<string, SimBleDevice>()
  const seed = { s: 12345 }
  for (const b of beds) {
    const hr = b.heartRateBpm ?? 72
    if (b.patch) devices.set(b.patch, new SimPolarH10({ address: b.patch, heartRateBpm: hr, noiseUv: 15, ...(b.ecgScript ? { script: b.ecgScript } : {}) }))
    if (b.oximeter) {
      const ox = new SimPlxSensor({ address: b.oximeter })
      ox.every(vitalsIntervalMs, () => ox.sendContinuous({ spo2Pct: (b.spo2Pct ?? 97) + wobble(seed, 1), pulseRateBpm: hr + wobble(seed, 2), pulseAmplitudeIndexPct: 4.2 }))
      devices.set(b.oximeter, ox)
    }
    if (b.hrStrap) {
      const strap = new SimHrsSensor({ address: b.hrStrap })
      strap.every(vitalsIntervalMs, () => strap.send({ heartRateBpm: hr + wobble(seed, 2), contact: 'detected', rrTicks: [Math.round((60 / hr) * 1024)] }))
      devices.set(b.hrStrap, strap)
    }
    if (b.thermometer) {
      const t = new SimHtsSensor({ address: b.thermometer })
      t.every(vitalsIntervalMs * 30, () => t.send({ value: (b.temperatureCel ?? 36.8) + wobble(seed, 2) / 10, type: 2, timeMs: Date.now() }))
      devices.set(b.thermometer, t)
    }
  }
  for (const d of devices.values()) radio.add(d.peripheral)
  return { radio, devices, stop: () => devices.forEach((d) => d.stop()) }
}
