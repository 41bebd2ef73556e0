/**
 * Builds Datex S/5 Basic displayed-values records from vitals, byte for byte as protocols.md
 * §6.3/§6.5/§6.6 lays them out. Used by the Datex device emulator and by tests.
 */
import { HEADER_BYTES } from '../serial/datex/frame.js'
import { encodeHeader, MainType } from '../serial/datex/header.js'

/** Vitals an emulated monitor displays. An absent field means the module is not plugged in. */
export interface EmulatorVitals {
  readonly hrPerMin?: number
  readonly rrPerMin?: number
  readonly spo2Pct?: number
  readonly pulsePerMin?: number
  readonly nibp?: { readonly sysMmHg: number; readonly diaMmHg: number; readonly meanMmHg: number }
  readonly art?: { readonly sysMmHg: number; readonly diaMmHg: number; readonly meanMmHg: number }
  readonly tempCel?: number
  readonly etco2MmHg?: number
}

/** Raw int16 values for special markers (§6.6). */
export const DatexMarker = {
  INVALID: -32767,
  NOT_UPDATED: -32766,
  DISCONTINUITY: -32765,
  UNDER_RANGE: -32764,
  OVER_RANGE: -32763,
  NOT_CALIBRATED: -32762,
} as const

/** Per-field marker overrides, keyed by class offset of the int16 (e.g. 6 = ecg.hr, 124 = SpO2). */
export type MarkerOverrides = Readonly<Record<number, number>>

export interface RecordOptions {
  readonly driLevel?: number
  readonly plugId?: number
  readonly timeS: number
  readonly recordNumber?: number
  readonly markers?: MarkerOverrides
}

const AMBIENT_MMHG = 760
const RECORD_BYTES = HEADER_BYTES + 278

/** One Basic displayed-values record (header + one 278-byte dri_phdb), not yet framed. */
export function buildBasicRecord(v: EmulatorVitals, o: RecordOptions): Buffer {
  const rec = Buffer.alloc(RECORD_BYTES)
  encodeHeader(
    rec,
    { lengthBytes: RECORD_BYTES, recordNumber: o.recordNumber ?? 1, driLevel: o.driLevel ?? 9, plugId: o.plugId ?? 0, timeS: o.timeS, mainType: MainType.PHDB },
    [{ offset: 0, type: 1 }],
  )
  rec.writeUInt32LE(o.timeS >>> 0, HEADER_BYTES)
  const c = HEADER_BYTES + 4 // class data
  if (v.hrPerMin !== undefined || v.rrPerMin !== undefined) {
    group(rec, c + 0)
    int16(rec, c + 6, v.hrPerMin, 1)
    int16(rec, c + 14, v.rrPerMin, 1)
  }
  if (v.art) {
    group(rec, c + 16, 1) // P1 labelled ART
    int16(rec, c + 22, v.art.sysMmHg, 100)
    int16(rec, c + 24, v.art.diaMmHg, 100)
    int16(rec, c + 26, v.art.meanMmHg, 100)
    int16(rec, c + 28, v.hrPerMin, 1)
  }
  if (v.nibp) {
    group(rec, c + 72)
    int16(rec, c + 78, v.nibp.sysMmHg, 100)
    int16(rec, c + 80, v.nibp.diaMmHg, 100)
    int16(rec, c + 82, v.nibp.meanMmHg, 100)
    int16(rec, c + 84, undefined, 1)
  }
  if (v.tempCel !== undefined) {
    group(rec, c + 86)
    int16(rec, c + 92, v.tempCel, 100)
  }
  if (v.spo2Pct !== undefined) {
    group(rec, c + 118)
    int16(rec, c + 124, v.spo2Pct, 100)
    int16(rec, c + 126, v.pulsePerMin, 1)
  }
  if (v.etco2MmHg !== undefined) {
    group(rec, c + 132)
    // et is in 0.01 %: etCO2 mmHg = et × amb × 1e-5 (§6.6) with amb in 0.1 mmHg.
    int16(rec, c + 138, (v.etco2MmHg / AMBIENT_MMHG) * 100, 100)
    int16(rec, c + 142, v.rrPerMin, 1)
    int16(rec, c + 144, AMBIENT_MMHG, 10)
  }
  for (const [offset, raw] of Object.entries(o.markers ?? {})) rec.writeInt16LE(raw, c + Number(offset))
  return rec
}

/** group_hdr: status exists+active, label_info (§6.6). */
function group(rec: Buffer, at: number, label = 0): void {
  rec.writeUInt32LE(0b11, at)
  rec.writeUInt16LE(label, at + 4)
}

function int16(rec: Buffer, at: number, value: number | undefined, scale: number): void {
  rec.writeInt16LE(value === undefined ? DatexMarker.INVALID : Math.round(value * scale), at)
}
