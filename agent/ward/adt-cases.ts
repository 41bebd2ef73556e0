/**
 * The ward's admission use cases as the hospital's ADT feed drives them (issue 21; the decision of
 * which one an event calls is agent/hl7/adt-apply.ts). Unlike the API's admit and transfer, which
 * refuse an occupied bed and ask the nurse to discharge first, the feed's view of where a patient
 * lies wins: whoever else was in the bed is discharged (their discharge was missed or is late).
 *
 * As every ward write: audited (actor `adt:<sending application>`, patients named by admission id
 * and pseudonym, never by name or MRN), the tile redrawn at once, and each resolves only once its
 * audit events are durable. The synchronous part of each call appends its audit events, so the
 * caller can add the message's identity to the same group commit (adt-listener.ts).
 */
import type { Admission, AdmissionOrigin } from '../store/admissions.js'
import type { BedContext } from './context.js'
import { unknownBed, who, type Actor } from './actor.js'
import type { WardDeps } from './ward.js'
import type { AuditAction } from '../audit-actions.js'

/** What the ward does around a change of a bed's patient (ward.ts). */
export interface BedHooks {
  /** Ward.resetBed: the bed's alarms cleared, its NEWS2 context and latest values forgotten, before its patient changes. */
  reset(bedId: string): void
  /** A copy of the patient's NEWS2 context in a bed (scale 2 is a clinical decision: it moves with them). */
  contextOf(bedId: string): BedContext
  /** That context stored for the patient's new admission and into the engine. */
  carryContext(bedId: string, admissionId: number, c: BedContext): void
}

export class AdtCases {
  constructor(
    private readonly d: WardDeps,
    private readonly bedIds: ReadonlySet<string>,
    private readonly bed: BedHooks,
  ) {}

  /** The current admission of the patient with this MRN on this ward, if any. */
  byMrn(mrn: string): Admission | undefined {
    return this.d.admissions.currentByMrn(mrn)
  }

  /**
   * Puts a patient (from ADT) in a bed, whatever the ward knew: admitted when not on the ward, moved
   * when in another bed, corrected when already there (name, birth date), nothing when nothing
   * differs. Whoever else lay in the bed is discharged first: the interface engine's view wins (it
   * missed sending us their discharge, or sent it out of order). One audit event per change.
   */
  async place(req: { bed_id: string; mrn: string; name: string | null; birth_date: string | null; origin: AdmissionOrigin; cause: string }, actor: Actor) {
    if (!this.bedIds.has(req.bed_id)) return unknownBed(req.bed_id, 'bed_id')
    const fromSeq = this.d.nextSeq()
    const by = who(actor)
    const here = this.d.admissions.currentByMrn(req.mrn)
    const occupant = this.d.admissions.current(req.bed_id)
    let change: 'admitted' | 'moved' | 'updated' | 'unchanged'
    let a: Admission
    if (here && here.bedId === req.bed_id) {
      // Already there: corrected in place (same admission, same pseudonym). One admitted by hand
      // while the feed was down follows the feed from now on (its source becomes 'adt').
      const origin = { ...req.origin, visit: req.origin.visit ?? here.visit, eventMs: newest(req.origin.eventMs, here.eventMs) }
      const adopted = here.source !== 'adt'
      const same = !adopted && here.name === req.name && here.birthDate === req.birth_date && here.visit === origin.visit && here.authority === origin.authority
      // Nothing to show, but the newest event time is kept (the late-event check reads it).
      a = same && here.eventMs === origin.eventMs ? here : this.d.admissions.update(req.bed_id, req.name, req.birth_date, origin)!
      change = same ? 'unchanged' : 'updated'
      const what = same ? 'already as sent' : adopted ? 'admitted by hand, now follows the ADT feed' : 'name, birth date or visit corrected'
      this.d.audit(same ? 'adt-unchanged' : adopted ? 'adt-adopted' : 'identity-update', by, req.bed_id, `admission ${a.id} in bed ${req.bed_id} ${what} (${req.cause})`)
      if (!same) this.d.bedChanged(req.bed_id)
    } else {
      if (occupant) this.displace(occupant, by, req.cause)
      const carried = here ? this.bed.contextOf(here.bedId) : null
      if (here) this.bed.reset(here.bedId)
      this.bed.reset(req.bed_id)
      const now = Date.now()
      a = this.d.db.transaction(() => {
        if (here) this.d.admissions.discharge(here.bedId, now)
        const visit = req.origin.visit ?? here?.visit ?? null
        // A move within the same visit continues its stay (issue 24: one encounter); another visit number opens a new one.
        const stay = here && visit === here.visit ? { stayOf: here.stayOf, stayStartMs: req.origin.stayStartMs ?? here.stayStartMs } : {}
        return this.d.admissions.admit(req.bed_id, req.mrn, req.name, req.birth_date, now, { ...req.origin, visit, eventMs: newest(req.origin.eventMs, here?.eventMs ?? null), ...stay })
      })()
      if (carried) this.bed.carryContext(req.bed_id, a.id, carried)
      if (here) this.d.bedChanged(here.bedId)
      this.d.bedChanged(req.bed_id)
      const pseudonym = this.d.pseudonyms.pseudonym('patient', a.mrn)
      change = here ? 'moved' : 'admitted'
      this.d.audit(here ? 'transfer' : 'admission', by, req.bed_id, here
        ? `admission ${here.id} in bed ${here.bedId} moved to admission ${a.id} in bed ${req.bed_id}, patient ${pseudonym} (${req.cause})`
        : `admission ${a.id} to bed ${req.bed_id}, patient ${pseudonym} (${req.cause})`)
    }
    await this.d.durable(fromSeq)
    return { ok: true as const, change, admission: { id: a.id, bedId: a.bedId, pseudonym: this.d.pseudonyms.pseudonym('patient', a.mrn) } }
  }

  /** Ends a current admission (ADT discharge, cancelled admission, transfer off the ward), audited as `action`. */
  async leave(bedId: string, action: AuditAction, cause: string, actor: Actor) {
    const a = this.d.admissions.current(bedId)
    if (!a) return { ok: false as const, status: 404 as const, error: `bed_id: no patient admitted to bed "${bedId}"`, field: 'bed_id' }
    const fromSeq = this.d.nextSeq()
    this.bed.reset(bedId)
    this.d.admissions.discharge(bedId, Date.now())
    this.d.bedChanged(bedId)
    this.d.audit(action, who(actor), bedId, `admission ${a.id} discharged from bed ${bedId} (${cause})`, a.id)
    await this.d.durable(fromSeq)
    return { ok: true as const }
  }

  /** A40: the patient in `bedId` is known by `mrn` from now on; a new admission (new pseudonym) in the same bed. */
  async merge(bedId: string, mrn: string, origin: AdmissionOrigin, cause: string, actor: Actor) {
    const old = this.d.admissions.current(bedId)
    if (!old) return { ok: false as const, status: 404 as const, error: `bed_id: no patient admitted to bed "${bedId}"`, field: 'bed_id' }
    const fromSeq = this.d.nextSeq()
    const carried = this.bed.contextOf(bedId) // the same person: their NEWS2 context stays
    this.bed.reset(bedId)
    const a = this.d.admissions.admit(bedId, mrn, old.name, old.birthDate, Date.now(), { ...origin, visit: origin.visit ?? old.visit, stayOf: old.stayOf, stayStartMs: old.stayStartMs })
    this.bed.carryContext(bedId, a.id, carried)
    this.d.bedChanged(bedId)
    const before = this.d.pseudonyms.pseudonym('patient', old.mrn)
    const after = this.d.pseudonyms.pseudonym('patient', a.mrn)
    this.d.audit('patient-merge', who(actor), bedId, `admission ${old.id} (patient ${before}) merged into admission ${a.id} in bed ${bedId}, patient ${after} (${cause})`)
    await this.d.durable(fromSeq)
    return { ok: true as const, admission: { id: a.id, bedId, pseudonym: after } }
  }

  /** An ADT message that changes nothing here (a discharge for a patient not on the ward…): audited, durable, then acknowledged. */
  async ignored(bedId: string | null, detail: string, actor: Actor): Promise<void> {
    const fromSeq = this.d.nextSeq()
    this.d.audit('adt-ignored', who(actor), bedId, detail)
    await this.d.durable(fromSeq)
  }

  /** The occupant of a bed an ADT event puts someone else in: discharged, audited as such. */
  private displace(occupant: Admission, by: string, cause: string): void {
    this.bed.reset(occupant.bedId)
    this.d.admissions.discharge(occupant.bedId, Date.now())
    this.d.audit('discharge', by, occupant.bedId, `admission ${occupant.id} discharged from bed ${occupant.bedId}: the bed was given to another patient (${cause})`, occupant.id)
  }
}

function newest(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.max(a, b)
}
