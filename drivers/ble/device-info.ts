/**
 * Device Information Service 0x180A (protocols.md §4, [S-GATT]): the strings that identify a device
 * for pairing records. utf8s carries no length prefix: the length is the attribute length.
 *
 * Serial numbers are identifiers (DESIGN.md, Pseudonymization): they go to the pairing record in the
 * local store, never into canonical records.
 */
export const DEVICE_INFO_UUIDS = {
  manufacturer: '2a29',
  model: '2a24',
  serial: '2a25',
} as const

export interface DeviceIdentity {
  readonly manufacturer: string | null
  readonly model: string | null
  readonly serial: string | null
}

/**
 * utf8s → string. Trailing NULs and whitespace are trimmed defensively (§4: UNCONFIRMED that
 * devices send them); an empty result reads as "not provided".
 */
export function parseUtf8s(payload: Buffer): string | null {
  const text = payload.toString('utf8').replace(/[\0\s]+$/u, '')
  return text.length > 0 ? text : null
}

/** Stable identity key for pairing: Manufacturer + Model + Serial, not the BLE address (§4, random addresses). */
export function identityKey(id: DeviceIdentity): string | null {
  if (id.serial === null) return null
  return `${id.manufacturer ?? '?'}/${id.model ?? '?'}/${id.serial}`
}
