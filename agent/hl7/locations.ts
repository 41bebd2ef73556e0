/**
 * The location map (config `hl7.adt.locations`): where PV1-3 puts a patient on this ward. PV1-3 is
 * a PL (HL7 v2.6 §2.A.53): point of care ^ room ^ bed ^ facility ^ …; the hospital's interface
 * engine sends its own codes, so the map is the operator's, one line per bed (or per room, or per
 * point of care, when those hold one bed). Pure.
 */
import type { Config } from '../config.js'

export type AdtLocations = NonNullable<NonNullable<Config['hl7']>['adt']>['locations']

/** PV1-3's first three components, un-escaped. */
export interface PatientLocation {
  readonly pointOfCare: string
  readonly room: string
  readonly bed: string
}

export class LocationMap {
  private readonly exact = new Map<string, string>()
  /** Points of care that appear in the map: a location there that maps to no bed is a map error, not another ward. */
  private readonly ours = new Set<string>()

  constructor(locations: AdtLocations) {
    for (const l of locations) {
      this.exact.set(key(l.point_of_care, l.room ?? '', l.bed ?? ''), l.bed_id)
      this.ours.add(l.point_of_care)
    }
  }

  /** The bed of a location: the most specific entry (point of care, room, bed), then (…, room), then (point of care). */
  bedOf(loc: PatientLocation): string | undefined {
    return this.exact.get(key(loc.pointOfCare, loc.room, loc.bed)) ??
      this.exact.get(key(loc.pointOfCare, loc.room, '')) ??
      this.exact.get(key(loc.pointOfCare, '', ''))
  }

  /** True when the point of care is this ward's (some entry names it). */
  isOurs(loc: PatientLocation): boolean {
    return this.ours.has(loc.pointOfCare)
  }
}

// The unit separator cannot appear in a config string that came from YAML in practice, nor in PV1-3 (un-escaped text of one component).
const key = (poc: string, room: string, bed: string) => `${poc}\u001f${room}\u001f${bed}`

/** "3A^301^1" for messages and audits. */
export function formatLocation(loc: PatientLocation): string {
  return [loc.pointOfCare, loc.room, loc.bed].join('^').replace(/\^+$/, '')
}
