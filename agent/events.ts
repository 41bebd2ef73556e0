/**
 * The agent's live events, for outputs that are not MQTT (the dashboard's WebSocket feed). Emitted
 * by the pipeline's owners after the fact; listeners must not throw and must not block.
 */
import type { LinkStatus } from '../drivers/types.js'
import type { WaveformChunk } from '../drivers/records.js'
import type { AlarmChange } from './rules/index.js'

export interface AgentEvents {
  /** An alarm state change, already published on MQTT and queued for the store. */
  alarm: [change: AlarmChange, hubSeq: number]
  /** A bed's latest vitals changed (emitted at most once per second per bed). */
  vitals: [bedId: string]
  /** A device's link state changed. */
  link: [deviceId: string, status: LinkStatus]
  /** An accepted waveform chunk of a bed's device (the dashboard's ECG strip decimates it). */
  wave: [bedId: string, chunk: WaveformChunk]
}
