/**
 * Technical conditions reported on change only: one report when a condition starts, one when it
 * ends, so a sensor that says "no contact" in every notification raises one condition episode.
 */
import type { DeviceCondition } from '../types.js'

export class ConditionLatch {
  private active = false
  constructor(private readonly deviceId: string, private readonly condition: DeviceCondition['condition']) {}

  /** Returns the condition to report, or null when nothing changed. */
  update(active: boolean, atMs: number, detail?: string): DeviceCondition | null {
    if (active === this.active) return null
    this.active = active
    return { deviceId: this.deviceId, condition: this.condition, active, detail, atMs }
  }

  get isActive(): boolean {
    return this.active
  }
}
