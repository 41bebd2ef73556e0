/**
 * JSON shapes of the agent's live outputs (MQTT topics, HTTP API). Reference ids and UCUM units,
 * never numeric codes, and never a patient's identity: these feeds are on the ward network.
 */
import { refOf } from '../drivers/codes.js'
import { qualityToNames } from '../drivers/records.js'
import type { LatestValue } from './pipeline/latest.js'
import type { AlarmChange } from './rules/index.js'

export const alarmTopic = (bedId: string): string => `bedside/v1/alarms/${bedId}`
export const vitalsTopic = (bedId: string): string => `bedside/v1/beds/${bedId}/vitals`

export function alarmJson(c: AlarmChange, hubSeq?: number): Record<string, unknown> {
  return { ...c, ...(hubSeq !== undefined ? { hubSeq } : {}) }
}

export function vitalJson(v: LatestValue): Record<string, unknown> {
  return { code: refOf(v.code), value: Number.isNaN(v.value) ? null : v.value, unit: v.unit, ts: v.deviceTimeMs, quality: qualityToNames(v.quality), device: v.deviceId }
}

export function vitalsJson(bedId: string, values: ReadonlyMap<number, LatestValue> | undefined): Record<string, unknown> {
  return { bedId, vitals: values ? [...values.values()].map(vitalJson) : [] }
}
