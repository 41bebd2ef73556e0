/**
 * The `AuditEvent.action` values the agent writes to the audit log (proto/bedside/v1/audit.proto),
 * in one place: analytics filters `audit_by_day` on them, so a name, once written, is a contract
 * (add names, never change one). Kebab-case as audit.proto's examples; the older dotted names
 * (`store.shed`, `keys.rotate-data`) are kept as they were already written to audit logs.
 * Issue 24: the pseudonym rotation, written `keys.rotate` before, is `key-rotation` as audit.proto says.
 */
export const AuditAction = {
  /** A patient admitted to a bed (detail: admission id and pseudonym). */
  ADMISSION: 'admission',
  /** A stay ended in this bed (the Envelope names the patient and the encounter it closes). */
  DISCHARGE: 'discharge',
  TRANSFER: 'transfer',
  /** ADT A11: an admission cancelled; the patient leaves the bed (issue 21). */
  ADMISSION_CANCELLED: 'admission-cancelled',
  /** ADT A02 to a location off this ward: the patient leaves this ward, the stay goes on elsewhere (issue 21). */
  TRANSFER_OUT: 'transfer-out',
  ALARM_ACK: 'alarm-ack',
  /** A patient's data shown to a signed-in user. */
  PATIENT_VIEW: 'patient-view',
  NEWS2_CONTEXT: 'news2-context',
  /** A user signed in to the page, or a token used for the first time since start. */
  SIGN_IN: 'sign-in',
  TOKEN_FIRST_USE: 'token-first-use',
  /** The ADT feed (issue 21): two admissions of one patient merged, an identity corrected, an admission adopted, an event that changed nothing or was ignored. */
  PATIENT_MERGE: 'patient-merge',
  IDENTITY_UPDATE: 'identity-update',
  ADT_ADOPTED: 'adt-adopted',
  ADT_UNCHANGED: 'adt-unchanged',
  ADT_IGNORED: 'adt-ignored',
  BLE_PAIRED: 'ble-paired',
  BLE_UNPAIRED: 'ble-unpaired',
  /** Waveform chunks shed to stay under the store quota. */
  STORE_SHED: 'store.shed',
  SELF_TEST: 'self-test',
  /** A stored record set aside in the local dead-letter. */
  SYNC_REJECTED: 'sync-rejected',
  /** An HL7 message (PCD-01 results, PCD-04 alarm) the receiver rejected with AR, set aside in the HL7 dead letter (issue 21). */
  HL7_REJECTED: 'hl7-rejected',
  /** A nurse asked for the bed's results now (PCD-01 on demand): the record ends the bed's current charting message (issue 21). */
  RESULTS_REQUESTED: 'results-requested',
  /** A new pseudonym key epoch in force (a gateway rotation, or the site bundle's next epoch); ids only. */
  KEY_ROTATION: 'key-rotation',
  /** A site key bundle imported (`bedside-hub keys import`, or `pseudonyms.key_file` changed); epoch ids only. */
  KEY_IMPORT: 'key-import',
  /** The site key bundle exported from this gateway (`bedside-hub keys export`). */
  KEY_EXPORT: 'key-export',
  /** A fresh site epoch made on this gateway (`bedside-hub keys rekey`). */
  KEY_REKEY: 'key-rekey',
  /** The at-rest data key rotated (issue 18). */
  DATA_KEY_ROTATION: 'keys.rotate-data',
} as const

export type AuditAction = (typeof AuditAction)[keyof typeof AuditAction]
