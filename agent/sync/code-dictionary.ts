/**
 * The code dictionary published with the wire schema (issue 24): every numeric code an Envelope can
 * carry (Observation.code, WaveformChunk.code, Alarm.mdc_code), the audit actions, subject kinds and
 * quality bits, generated from the one table of each in the code (drivers/codes.ts,
 * agent/audit-actions.ts, drivers/records.ts, proto/codec.ts), never hand-copied.
 * `bedside-hub codes --json` prints it; proto/bedside/v1/codes.json is that output, checked in beside
 * the .proto files for consumers, and test/sync/code-dictionary.test.ts fails when the two differ.
 */
import { MDC_TERMS, PRIVATE_BASE } from '../../drivers/codes.js'
import { Quality, qualityToNames } from '../../drivers/records.js'
import { SubjectKind } from '../../proto/codec.js'
import { AuditAction } from '../audit-actions.js'

export interface CodeDictionary {
  readonly schema: 'bedside.v1'
  /** FHIR's system URI for MDC; private codes are bedside-hub's own (source "private"). */
  readonly system: string
  readonly private_base: number
  readonly codes: readonly { code: number; ref: string; kind: string; source: string; unit: string; loinc?: string; label?: string }[]
  readonly audit_actions: readonly string[]
  readonly subject_kinds: readonly { value: number; name: string }[]
  readonly quality_bits: readonly { bit: number; name: string }[]
}

export function codeDictionary(): CodeDictionary {
  return {
    schema: 'bedside.v1',
    system: 'urn:iso:std:iso:11073:10101',
    private_base: PRIVATE_BASE,
    codes: MDC_TERMS.map((t) => ({
      code: t.code, ref: t.ref, kind: t.kind, source: t.source ?? 'mdc', unit: t.unit,
      ...(t.loinc ? { loinc: t.loinc } : {}), ...(t.label ? { label: t.label } : {}),
    })),
    audit_actions: Object.values(AuditAction),
    subject_kinds: Object.entries(SubjectKind).map(([name, value]) => ({ value, name: `SUBJECT_KIND_${name}` })),
    quality_bits: Object.values(Quality).filter((b) => b !== 0).map((bit) => ({ bit, name: qualityToNames(bit)[0]! })),
  }
}

/** The published form: stable key order, two-space indent, final newline (what codes.json holds). */
export function codeDictionaryJson(): string {
  return `${JSON.stringify(codeDictionary(), null, 2)}\n`
}

/** The same dictionary as a Markdown table, for people (docs/codes.md). */
export function codeDictionaryMarkdown(): string {
  const d = codeDictionary()
  const rows = d.codes.map((c) => `| ${c.code} | ${c.ref} | ${c.kind} | ${c.source} | ${c.unit} | ${c.loinc ?? ''} | ${c.label ?? ''} |`)
  return [
    '# Code dictionary (generated: `bedside-hub codes --markdown`, do not edit)',
    '',
    `Codes of Observation.code, WaveformChunk.code and Alarm.mdc_code. \`mdc\`: IEEE 11073-10101 (${d.system}); \`private\`: bedside-hub's own, from ${d.private_base} (drivers/codes.ts says why).`,
    '',
    '| code | ref | kind | source | unit | LOINC | meaning |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
    `Audit actions (AuditEvent.action): ${d.audit_actions.map((a) => `\`${a}\``).join(', ')}.`,
    '',
    `Subject kinds: ${d.subject_kinds.map((k) => `${k.value} ${k.name}`).join(', ')}.`,
    '',
    `Quality bits: ${d.quality_bits.map((q) => `${q.bit} ${q.name}`).join(', ')}.`,
    '',
  ].join('\n')
}
