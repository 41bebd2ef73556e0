/**
 * What an ADT event does to the ward (issue 21): a pure decision (`decide`) over the event, the
 * location map and who lies where now, then its execution through the ward's use cases (`execute`),
 * which audit every change and resolve once it is durable.
 *
 * Out of order, as interface engines really send it: the engine's view of where a patient is
 * wins, and a message that finds nothing to change is acknowledged AA (and audited as ignored),
 * because an engine re-sends an AE until it gets an AA, which would jam its queue behind one stale
 * discharge. So:
 * - A01 admit, A13 cancel discharge: the patient is put in the PV1-3 bed (moved there if in another
 *   bed, corrected if already there); whoever lay there is discharged first.
 * - A02 transfer, A12 cancel transfer (PV1-3 is where the patient is now, v2.6 §3.3.2 / §3.3.12):
 *   the same; a transfer before its admit admits into the destination. A destination off this
 *   ward discharges the patient (transfer out); between two other wards it is ignored.
 * - A04 register: as A01 when PV1-3 maps to a bed (ED, day case); else ignored (outpatients).
 * - A03 discharge, A11 cancel admit: the patient leaves; a patient not on the ward, or here under
 *   another visit number (a late discharge of an earlier visit), is ignored.
 * - A08 update: name and birth date corrected in place; PV1-3 is not read (A02 moves patients).
 * - A40 merge: the patient known by MRG-1 is known by PID-3 from now on (a new admission in the
 *   same bed, so a new pseudonym); nothing to do when MRG-1 is not on the ward.
 * - Any of these (but A40) that happened before the event that put the patient where they are
 *   (EVN-6/EVN-2/MSH-7, the engine's clock, kept per admission) is late: ignored.
 * Refused (AE, ERR naming PV1-3): an A01/A13 without PV1-3, or with a location of this ward's
 * points of care that maps to no bed, or of another ward (the engine's filter or our map is wrong).
 */
import type { Admission, AdmissionOrigin } from '../store/admissions.js'
import type { Actor, Ward } from '../ward/ward.js'
import { AdtFieldError, at, HL7_ERR, type AdtEvent } from './adt-message.js'
import { formatLocation, type LocationMap } from './locations.js'

export type AdtPlan =
  | { readonly kind: 'place'; readonly bedId: string; readonly cause: string }
  | { readonly kind: 'leave'; readonly bedId: string; readonly action: 'discharge' | 'admission-cancelled' | 'transfer-out'; readonly cause: string }
  | { readonly kind: 'merge'; readonly bedId: string; readonly cause: string }
  | { readonly kind: 'ignore'; readonly bedId: string | null; readonly detail: string }
  | { readonly kind: 'refuse'; readonly error: AdtFieldError }

/** Decides what `e` does, given the map and the current admission of an MRN. Pure. */
export function decide(e: AdtEvent, map: LocationMap, patientByMrn: (mrn: string) => Admission | undefined): AdtPlan {
  const here = patientByMrn(e.patient.mrn)
  const cause = `ADT^${e.trigger} ${e.controlId}`
  // Late: the event happened before the one that put the patient where they are (an A01 arriving
  // after its A02, a discharge of the stay before): applying it would undo the newer one.
  if (here && here.eventMs !== null && e.eventMs < here.eventMs && e.trigger !== 'A40') {
    return { kind: 'ignore', bedId: here.bedId, detail: `${cause}: happened before the event that put admission ${here.id} in bed ${here.bedId} (late)` }
  }
  const bedId = e.location ? map.bedOf(e.location) : undefined
  const where = e.location ? formatLocation(e.location) : '(none)'
  switch (e.trigger) {
    case 'A01':
    case 'A13':
      if (bedId) return { kind: 'place', bedId, cause }
      return { kind: 'refuse', error: locationError(e) }
    case 'A04':
      if (bedId) return { kind: 'place', bedId, cause }
      return { kind: 'ignore', bedId: null, detail: `${cause}: registration at ${where}, not a bed of this ward` }
    case 'A02':
    case 'A12':
      if (bedId) return { kind: 'place', bedId, cause }
      if (e.location && map.isOurs(e.location)) return { kind: 'refuse', error: locationError(e) }
      if (here) return { kind: 'leave', bedId: here.bedId, action: 'transfer-out', cause: `${cause}: to ${where}, off this ward` }
      return { kind: 'ignore', bedId: null, detail: `${cause}: transfer to ${where} of a patient not on this ward` }
    case 'A03':
    case 'A11': {
      const what = e.trigger === 'A03' ? 'discharge' : 'cancelled admission'
      if (!here) return { kind: 'ignore', bedId: null, detail: `${cause}: ${what} of a patient not on this ward` }
      if (e.visit && here.visit && e.visit !== here.visit) return { kind: 'ignore', bedId: here.bedId, detail: `${cause}: ${what} of another visit than admission ${here.id} in bed ${here.bedId}` }
      return { kind: 'leave', bedId: here.bedId, action: e.trigger === 'A03' ? 'discharge' : 'admission-cancelled', cause }
    }
    case 'A08':
      if (here) return { kind: 'place', bedId: here.bedId, cause }
      return { kind: 'ignore', bedId: null, detail: `${cause}: update of a patient not on this ward` }
    case 'A40': {
      const prior = patientByMrn(e.priorMrn!)
      if (prior) return { kind: 'merge', bedId: prior.bedId, cause }
      return { kind: 'ignore', bedId: null, detail: `${cause}: merge of a patient not on this ward` }
    }
  }
}

function locationError(e: AdtEvent): AdtFieldError {
  const pv1 = e.message.segments.find((s) => s.id === 'PV1')!
  const loc = at(e.message, pv1, 3)
  if (!e.location) return new AdtFieldError('AE', 'missing-location', HL7_ERR.requiredFieldMissing, loc, `PV1-3 (assigned patient location) is empty: ADT^${e.trigger} needs the bed`)
  return new AdtFieldError('AE', 'unknown-location', HL7_ERR.tableValueNotFound, loc, `PV1-3 location "${formatLocation(e.location)}" maps to no bed of this ward (hl7.adt.locations)`)
}

/** The admission's origin as the event gives it. */
export function originOf(e: AdtEvent): AdmissionOrigin {
  return { source: 'adt', authority: e.patient.authority || null, visit: e.visit, eventMs: Number.isNaN(e.eventMs) ? null : e.eventMs, stayStartMs: Number.isNaN(e.admitMs) ? undefined : e.admitMs }
}

/**
 * Runs a plan (not `refuse`) through the ward. Its synchronous part appends the audit event(s), so
 * a caller that adds the message's identity in the same turn has both in one group commit; the
 * promise resolves once they are durable.
 */
export function execute(plan: Exclude<AdtPlan, { kind: 'refuse' }>, e: AdtEvent, ward: Ward, actor: Actor): Promise<unknown> {
  switch (plan.kind) {
    case 'place': {
      const here = ward.adt.byMrn(e.patient.mrn)
      // A message without PID-5 / PID-7 (some engines send lean A02/A03) keeps what the ward knew.
      return ward.adt.place({
        bed_id: plan.bedId, mrn: e.patient.mrn,
        name: e.patient.name ?? here?.name ?? null, birth_date: e.patient.birthDate ?? here?.birthDate ?? null,
        origin: originOf(e), cause: plan.cause,
      }, actor).then(orFail)
    }
    case 'leave':
      return ward.adt.leave(plan.bedId, plan.action, plan.cause, actor).then(orFail)
    case 'merge':
      return ward.adt.merge(plan.bedId, e.patient.mrn, originOf(e), plan.cause, actor).then(orFail)
    case 'ignore':
      return ward.adt.ignored(plan.bedId, plan.detail, actor)
  }
}

/** A refusal here is a bug of `decide` (it checked the bed and the patient in the same turn). */
function orFail(r: { ok: boolean; error?: string }): unknown {
  if (!r.ok) throw new Error(`ADT plan no longer applies: ${r.error ?? 'refused'}`)
  return r
}
