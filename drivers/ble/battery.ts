/**
 * Battery Level 0x2A19 (protocols.md §4, [S-GATT]): uint8 percent, 0–100; 101–255 reserved.
 * Low battery is not an observation but a technical condition (DESIGN.md, Alarms).
 */
import { DecodeError } from '../errors.js'
import type { DeviceCondition } from '../types.js'
import { ConditionLatch } from './conditions.js'

/**
 * Default low-battery threshold. No standard fixes it; 20 % leaves a typical patch a few hours,
 * enough for a nurse to swap it within a shift. Configurable per device.
 */
export const DEFAULT_LOW_BATTERY_PCT = 20

export function parseBatteryLevel(payload: Buffer): number {
  if (payload.length < 1) throw new DecodeError('battery', 'truncated', 'battery level is empty')
  const pct = payload[0]
  if (pct > 100) throw new DecodeError('battery', 'reserved-value', `battery level ${pct} is in the reserved range 101–255`)
  return pct
}

/** Tracks one device's low-battery condition so that it is reported on change only. */
export class BatteryMonitor {
  private readonly latch: ConditionLatch
  constructor(deviceId: string, private readonly lowPct = DEFAULT_LOW_BATTERY_PCT) {
    this.latch = new ConditionLatch(deviceId, 'low-battery')
  }

  /** Returns the condition to report, or null when the state did not change. */
  update(pct: number, atMs: number): DeviceCondition | null {
    return this.latch.update(pct <= this.lowPct, atMs, `battery ${pct} %`)
  }
}
