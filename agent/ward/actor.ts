/** Who does a ward write, as the audit names them; shared by the ward's use cases. */

export interface Actor { readonly role: string; readonly name: string }

/** The audit's actor: `nurse:ann`, `adt:EPIC`. */
export const who = (actor: Actor): string => `${actor.role}:${actor.name}`

export function unknownBed(bedId: string, field: string) {
  return { ok: false as const, status: 404 as const, error: `${field}: unknown bed "${bedId}"`, field }
}
