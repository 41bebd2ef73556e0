/**
 * The encounter (stay) identifier that the encounter pseudonym is an HMAC of (issue 24). Never sent
 * in clear: the Envelope carries `pseudonymIn(epoch at the stay's start, 'encounter', this)`.
 * - ADT gave a visit number (PV1-19): `visit ␟ <PV1-19>`. Every gateway of the site that sees the
 *   visit (an A01 on ward A, the A02 on ward B) derives the same pseudonym under the site key, so
 *   the stay links across wards. PV1-19 is unique within the hospital's visit numbering, and the
 *   site is already in the HMAC input (pseudonym.ts).
 * - No visit number (manual admissions, a feed without PV1-19): the admission that opened the stay,
 *   minted by this hub: `admission ␟ <hub_id>/<admission id>@<stay start ms>`. A transfer within the
 *   hub keeps it (admissions.ts `stayOf`); the start time keeps it unique if a hub's store is ever
 *   re-created and its ids start again at 1. Such a stay cannot link across hubs: nothing tells
 *   ward B's gateway which admission of ward A the patient came from.
 */
import type { Admission } from '../store/admissions.js'

export function encounterIdentifier(hubId: string, a: Pick<Admission, 'visit' | 'stayOf' | 'stayStartMs'>): string {
  return a.visit ? `visit\u001f${a.visit}` : `admission\u001f${hubId}/${a.stayOf}@${a.stayStartMs}`
}
