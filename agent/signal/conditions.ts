/**
 * Technical conditions of one ECG stream (protocols.md §10 [S-B40-ALARMS]: a lead off, or "an
 * algorithm that cannot interpret the data", is a technical alarm condition), derived from
 * per-block quality flags with hysteresis:
 * a condition turns active after 2 consecutive bad blocks and clears after 3 consecutive good
 * ones, so a single noisy second neither raises nor clears a technical alarm (no nuisance
 * flicker; the alarm engine adds its own condition delays).
 */
import { Quality } from '../../drivers/records.js'

export type EcgConditionName = 'leads-off' | 'ecg-noise' | 'ecg-saturation'

export interface EcgCondition {
  readonly deviceId: string
  readonly condition: EcgConditionName
  readonly active: boolean
  /** Device time of the block end at which the state changed, ms since the Unix epoch. */
  readonly atMs: number
  readonly detail?: string
}

export interface ConditionSink {
  condition(c: EcgCondition): void
}

const RAISE_AFTER_BLOCKS = 2
const CLEAR_AFTER_BLOCKS = 3

const WATCHED: ReadonlyArray<readonly [EcgConditionName, number, string]> = [
  ['leads-off', Quality.LEADS_OFF, 'flat line or device reports leads off'],
  ['ecg-noise', Quality.QUESTIONABLE, 'ECG noise too high for reliable beat detection'],
  ['ecg-saturation', Quality.OUT_OF_RANGE, 'ECG clipped at the amplifier range'],
]

export class BlockConditions {
  private readonly active = new Uint8Array(WATCHED.length)
  private readonly run = new Int32Array(WATCHED.length)

  constructor(
    private readonly deviceId: string,
    private readonly sink: ConditionSink,
  ) {}

  /** One closed block with its quality flags, at device time `atMs`. */
  update(flags: number, atMs: number): void {
    for (let i = 0; i < WATCHED.length; i++) {
      const [name, bit, detail] = WATCHED[i]!
      const bad = (flags & bit) !== 0
      const isActive = this.active[i] === 1
      this.run[i] = bad === isActive ? 0 : this.run[i]! + 1
      if (this.run[i]! >= (isActive ? CLEAR_AFTER_BLOCKS : RAISE_AFTER_BLOCKS)) {
        this.active[i] = isActive ? 0 : 1
        this.run[i] = 0
        this.sink.condition({ deviceId: this.deviceId, condition: name, active: !isActive, atMs, detail })
      }
    }
  }

  isActive(name: EcgConditionName): boolean {
    return this.active[WATCHED.findIndex(([n]) => n === name)] === 1
  }
}
