/**
 * The latest value of every parameter per bed: what the dashboard and the `beds/{bedId}/vitals`
 * topic show. Entries are mutated in place, so the hot path allocates nothing after warm-up.
 *
 * A value flagged OUT_OF_RANGE (implausible, issue 16, or a device's own over/under-range marker)
 * is kept as "no value" with its flag: its number never reaches the tile, `/api/beds` or MQTT,
 * and the previous reading is not shown as if it were current either. Monitors do the same, e.g.
 * "the respiration rate counter indicates invalid (- -) for values outside specified range"
 * (Mindray V Series Operating Instructions, Impedance Respiration,
 * https://www.easymanua.ls/mindray/v-series/manual?p=495).
 */
import { Quality, type Observation } from '../../drivers/records.js'

export interface LatestValue {
  code: number
  value: number
  unit: string
  deviceTimeMs: number
  quality: number
  deviceId: string
}

export class LatestVitals {
  private readonly beds = new Map<string, Map<number, LatestValue>>()
  /** Beds changed since the last `takeChanged()`. */
  private readonly changed = new Set<string>()

  update(bedId: string, obs: Observation): void {
    let bed = this.beds.get(bedId)
    if (!bed) this.beds.set(bedId, (bed = new Map()))
    const cur = bed.get(obs.code)
    const value = obs.quality & Quality.OUT_OF_RANGE ? Number.NaN : obs.value
    if (cur === undefined) {
      bed.set(obs.code, { code: obs.code, value, unit: obs.unit, deviceTimeMs: obs.deviceTimeMs, quality: obs.quality, deviceId: obs.deviceId })
    } else if (obs.deviceTimeMs >= cur.deviceTimeMs) {
      cur.value = value
      cur.unit = obs.unit
      cur.deviceTimeMs = obs.deviceTimeMs
      cur.quality = obs.quality
      cur.deviceId = obs.deviceId
    }
    this.changed.add(bedId)
  }

  of(bedId: string): ReadonlyMap<number, LatestValue> | undefined {
    return this.beds.get(bedId)
  }

  takeChanged(): string[] {
    const out = [...this.changed]
    this.changed.clear()
    return out
  }

  clearBed(bedId: string): void {
    this.beds.delete(bedId)
  }
}
