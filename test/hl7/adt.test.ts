/**
 * ADT in, proven against a real HL7 v2 implementation (issue 21): HAPI HL7 v2 2.5.1 plays the
 * hospital's interface engine (test/hl7/hapi/AdtSender.java, jars from Maven Central through
 * `scripts/services/services.sh classpath hapi`). It builds every message with HAPI's v2.6 model,
 * sends it over MLLP with HAPI's own client and reads each ACK with HAPI's parser.
 *
 * A ward of 17 beds (16 in the location map, one manual only) and 16 patients: admits, transfers,
 * discharges, registration, update, cancels (A11, A12, A13), a merge (A40), the adoption of an
 * admission made by hand while the feed was down, out-of-order events
 * (a transfer before its admit and that admit arriving late, a discharge of a patient never
 * admitted, a late discharge of an earlier visit), re-sends with the same MSH-10 after a reconnect (one of which would move a
 * patient back if applied twice), and three bad messages. Asserted: every ACK as HAPI read it (AA
 * where it should be, AE/AR with ERR-2 naming the segment and field, ERR-3 from table 0357), the
 * beds (GET /api/beds, with their source) and the store's admissions, each applied message audited
 * exactly once by `adt:HAPI-ENGINE` and refused ones not at all, re-sends counted, and pseudonyms
 * equal to those of the same MRN admitted by hand.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { pino } from 'pino'
import { startAgent } from '../../agent/agent.js'
import { relink } from '../../agent/commands/relink.js'
import { parseConfig } from '../../agent/config.js'
import { Admissions } from '../../agent/store/admissions.js'
import { readAuditBody } from '../../agent/store/bodies.js'
import { openDatabase } from '../../agent/store/db.js'
import { Pseudonymizer } from '../../agent/sync/pseudonym.js'
import { metricValue, tempDir, TEST_VIEWER } from '../support/agent-process.js'

const ROOT = join(import.meta.dirname, '..', '..')
const SENDER = join(ROOT, 'test', 'hl7', 'hapi', 'AdtSender.java')
const NURSE = 'adt-nurse-token'
const SITE = 'adt-site'
const javaMissing = spawnSync('java', ['-version']).error !== undefined

const bed = (i: number) => `3a-${String(i).padStart(2, '0')}`
const P = Array.from({ length: 17 }, (_, i) => ({
  mrn: `GH${10000 + i}`,
  family: ['Abbot', 'Baker', 'Carter', 'Dalton', 'Evans', 'Foster', 'Garcia', 'Hughes', 'Iqbal', 'Jensen', 'Khan', 'Larsen', 'Moreau', 'Novak', 'Okafor', 'Patel', 'Quinn'][i]!,
  given: ['Ada', 'Ben', 'Cleo', 'Dan', 'Eve', 'Finn', 'Gia', 'Hal', 'Ines', 'Jon', 'Kai', 'Lea', 'Max', 'Nia', 'Oli', 'Pia', 'Rex'][i]!,
  dob: `19${40 + i}0${1 + (i % 9)}1${i % 10}`,
}))
const label = (i: number, family = P[i]!.family) => `${family}, ${P[i]!.given}`

interface Msg {
  ctl: string
  trigger: string
  p: number
  /** Bed index in the map, or a raw PV1-3 "poc^room^bed", or null for none. */
  loc: number | string | null
  visit?: string
  family?: string
  mrn?: string | null
  prior?: string
  /** Minutes after 08:00 UTC when the event happened (EVN-2, EVN-6); default: its place in the script. */
  at?: number
  expect: 'AA' | 'AE' | 'AR'
  err2?: string
  err3?: string
  /** Sent again after a reconnect: the same message (same MSH-10) as line `ctl`. */
  resend?: boolean
}

function script(): Msg[] {
  const m: Msg[] = []
  let n = 0
  const next = (x: Omit<Msg, 'ctl'>) => {
    const msg = { ctl: `HAPI${String(++n).padStart(4, '0')}`, at: n, ...x }
    m.push(msg)
    return msg
  }
  const again = (x: Msg) => m.push({ ...x, resend: true })
  const admits = [] as Msg[]
  for (let i = 1; i <= 12; i++) admits.push(next({ trigger: 'A01', p: i, loc: i, visit: `V${i}`, expect: 'AA' }))
  const early = next({ trigger: 'A02', p: 13, loc: 13, visit: 'V13', expect: 'AA' }) // a transfer before its admit: admitted into the destination
  next({ trigger: 'A03', p: 14, loc: 14, visit: 'V14', expect: 'AA' }) // a discharge of a patient never admitted: ignored
  next({ trigger: 'A04', p: 15, loc: 'ED^^', visit: 'V15', expect: 'AA' }) // outpatient registration: ignored
  next({ trigger: 'A04', p: 15, loc: 15, visit: 'V15', expect: 'AA' }) // registered into a bed of the ward
  // ...and then the admit itself, late (it happened before the transfer): ignored, or it would take bed 9 from patient 9.
  next({ trigger: 'A01', p: 13, loc: 9, visit: 'V13', at: early.at! - 30, expect: 'AA' })
  const move1 = next({ trigger: 'A02', p: 1, loc: 14, visit: 'V1', expect: 'AA' })
  again(move1)
  next({ trigger: 'A02', p: 2, loc: 16, visit: 'V2', expect: 'AA' })
  next({ trigger: 'A08', p: 4, loc: 4, visit: 'V4', family: 'Dalton-Reyes', expect: 'AA' })
  next({ trigger: 'A03', p: 6, loc: 6, visit: 'V6', expect: 'AA' })
  next({ trigger: 'A03', p: 7, loc: 7, visit: 'V7', expect: 'AA' })
  next({ trigger: 'A02', p: 8, loc: 6, visit: 'V8', expect: 'AA' })
  again(admits[7]!) // the A01 of patient 8 again: applied twice it would move them back to bed 8
  next({ trigger: 'A11', p: 9, loc: 9, visit: 'V9', expect: 'AA' })
  next({ trigger: 'A13', p: 7, loc: 7, visit: 'V7', expect: 'AA' })
  next({ trigger: 'A12', p: 2, loc: 2, visit: 'V2', expect: 'AA' }) // PV1-3: where the patient is again
  next({ trigger: 'A40', p: 10, loc: null, mrn: 'GH20010', prior: P[10]!.mrn, expect: 'AA' })
  next({ trigger: 'A03', p: 12, loc: 12, visit: 'V-OLD', expect: 'AA' }) // a late discharge of an earlier visit: ignored
  next({ trigger: 'A01', p: 16, loc: 16, visit: 'V16', mrn: null, expect: 'AE', err2: 'PID^1^3', err3: '101' })
  next({ trigger: 'A01', p: 16, loc: '3A^399^1', visit: 'V16', expect: 'AE', err2: 'PV1^1^3', err3: '103' })
  next({ trigger: 'A31', p: 16, loc: 16, visit: 'V16', expect: 'AR', err2: 'MSH^1^9', err3: '201' })
  next({ trigger: 'A01', p: 16, loc: 16, visit: 'V16', expect: 'AA' })
  next({ trigger: 'A02', p: 5, loc: '4B^401^1', visit: 'V5', expect: 'AA' }) // to another ward: leaves this one
  again(next({ trigger: 'A03', p: 3, loc: 3, visit: 'V3', expect: 'AA' }))
  return m
}

function tsv(msgs: readonly Msg[]): string {
  const dash = (s: string | null | undefined) => (s === null || s === undefined || s === '' ? '-' : s)
  return msgs.map((x) => {
    const p = P[x.p]!
    const [poc, room, b] = x.loc === null ? ['-', '-', '-'] : typeof x.loc === 'number' ? ['3A', String(300 + x.loc), '1'] : x.loc.split('^')
    const when = new Date(Date.UTC(2026, 11, 5, 8, 0) + x.at! * 60_000).toISOString().replace(/[-:T]/g, '').slice(0, 14) + '+0000'
    const line = [x.ctl, x.trigger, dash(x.mrn === undefined ? p.mrn : x.mrn), 'GH', x.family ?? p.family, p.given, p.dob, dash(poc), dash(room), dash(b), dash(x.visit), dash(x.prior), when].join('\t')
    return (x.resend ? '#reconnect\n' : '') + line
  }).join('\n') + '\n'
}

/** Runs the HAPI sender; resolves with its output lines (one per message) once it exits 0. */
function runHapi(classpath: string, port: number, scriptFile: string, cwd: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    // cwd: HAPI keeps its message-id file in hapi.home (the working directory).
    const java = spawn('java', ['-cp', classpath, SENDER, '127.0.0.1', String(port), scriptFile], { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    java.stdout.on('data', (d: Buffer) => (out += d.toString()))
    java.stderr.on('data', (d: Buffer) => (err += d.toString()))
    java.on('error', reject)
    java.on('exit', (code) => (code === 0 ? resolve(out.trim().split('\n')) : reject(new Error(`AdtSender exited ${code}:\n${err.slice(-3000)}\n${out}`))))
  })
}

test('hl7 adt: HAPI as the interface engine admits, transfers and discharges a ward; ACKs, beds, store, audits and pseudonyms match', { skip: javaMissing ? 'java is not installed (CI installs openjdk-17-jre-headless): the HAPI HL7 v2 sender needs it' : false, timeout: 240_000 }, async (t) => {
  const cp = spawnSync('bash', [join(ROOT, 'scripts', 'services', 'services.sh'), 'classpath', 'hapi'], { encoding: 'utf8' })
  assert.equal(cp.status, 0, `services.sh classpath hapi failed:\n${cp.stderr}`)
  const dir = tempDir('adt')
  const dataDir = join(dir, 'data')
  const cfg = parseConfig({
    hub: { id: 'adt-hub', site: SITE, data_dir: dataDir },
    http: { listen: '127.0.0.1:0', tokens: [{ token: NURSE, role: 'nurse', name: 'nurse-ada' }, TEST_VIEWER] },
    mqtt: { listen: '127.0.0.1:0' },
    beds: Array.from({ length: 17 }, (_, i) => ({ id: bed(i + 1) })),
    hl7: { adt: { listen: '127.0.0.1:0', locations: Array.from({ length: 16 }, (_, i) => ({ point_of_care: '3A', room: String(301 + i), bed: '1', bed_id: bed(i + 1) })) } },
    log: { level: 'warn' },
  })
  const agent = await startAgent(cfg, { log: pino({ level: 'error' }) }) // the three refusals are expected
  let stopped = false
  t.after(async () => { if (!stopped) await agent.stop() })
  const http = `http://127.0.0.1:${agent.httpPort}`
  const api = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${http}${path}`, { method, headers: { authorization: `Bearer ${NURSE}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) })
    return { status: r.status, body: await r.json() as any }
  }

  const msgs = script()
  const scriptFile = join(dir, 'adt-script.tsv')
  writeFileSync(scriptFile, tsv(msgs))
  // While the feed was down, patient 11 was admitted by hand into their bed: the feed's A01 adopts that admission.
  const byHand11 = await api('POST', '/api/admissions', { bed_id: bed(11), mrn: P[11]!.mrn, name: 'Khan K' })
  assert.equal(byHand11.status, 201, JSON.stringify(byHand11.body))
  assert.equal(byHand11.body.admission.source, 'manual')
  const lines = await runHapi(cp.stdout.trim(), agent.adtPort, scriptFile, dir)

  // Every ACK, as HAPI's parser read it: MSA-1, MSA-2 = MSH-10, and for AE/AR the ERR naming the field.
  assert.equal(lines.length, msgs.length, lines.join('\n'))
  msgs.forEach((m, i) => {
    const [ctl, msa1, msa2, err2, err3, err8] = lines[i]!.split('\t')
    assert.deepEqual([ctl, msa1, msa2], [m.ctl, m.expect, m.ctl], `message ${i + 1} (${m.trigger}${m.resend ? ', re-sent' : ''}): ${lines[i]}`)
    if (m.expect !== 'AA') assert.deepEqual([err2, err3], [m.err2, m.err3], `ERR of ${m.ctl}: ${err8}`)
  })
  const sent = msgs.length
  const resends = msgs.filter((m) => m.resend).length
  console.log(`# HAPI sent ${sent} messages (${resends} re-sends): ${msgs.filter((m) => m.expect === 'AA').length} AA, ${msgs.filter((m) => m.expect !== 'AA').length} AE/AR`)

  // The beds as the page and the API show them, with their source.
  const expected: Record<string, { label: string; source: string } | null> = {}
  for (let i = 1; i <= 17; i++) expected[bed(i)] = null
  const adt = (i: number, family?: string) => ({ label: label(i, family), source: 'adt' })
  Object.assign(expected, {
    [bed(2)]: adt(2), [bed(4)]: adt(4, 'Dalton-Reyes'), [bed(6)]: adt(8), [bed(7)]: adt(7), [bed(10)]: adt(10), [bed(11)]: adt(11),
    [bed(12)]: adt(12), [bed(13)]: adt(13), [bed(14)]: adt(1), [bed(15)]: adt(15), [bed(16)]: adt(16),
  })
  // The manual fallback stays: patient 6, discharged by ADT, admitted by hand into the bed outside the map.
  const manual = await api('POST', '/api/admissions', { bed_id: bed(17), mrn: P[6]!.mrn, name: label(6), birth_date: '1946-07-16' })
  assert.equal(manual.status, 201, JSON.stringify(manual.body))
  expected[bed(17)] = { label: label(6), source: 'manual' }
  const beds = (await api('GET', '/api/beds')).body.beds as { id: string; patient: { label: string; source: string } | null }[]
  assert.deepEqual(Object.fromEntries(beds.map((b) => [b.id, b.patient && { label: b.patient.label, source: b.patient.source }])), expected)

  assert.equal(await metricValue(http, 'bedside_redelivered_total', 'source="adt"'), resends, 're-sends recognised')
  assert.equal(await metricValue(http, 'bedside_hl7_adt_messages_total', 'ack="AA"'), msgs.filter((m) => m.expect === 'AA').length)
  await agent.stop()
  stopped = true

  // The store: the same admissions, with source, assigning authority and visit; re-sends applied once.
  const db = openDatabase(dataDir)
  let audits: { action: string; actor: string; detail: string }[]
  let current: Map<string, { id: number; mrn: string; source: string; authority: string | null; visit: string | null; name: string | null; birthDate: string | null }>
  let rows: number
  try {
    const admissions = new Admissions(db)
    current = new Map(Array.from({ length: 17 }, (_, i) => bed(i + 1)).flatMap((b) => { const a = admissions.current(b); return a ? [[b, a]] : [] }))
    rows = (db.prepare('SELECT COUNT(*) AS n FROM admissions').get() as { n: number }).n
    audits = (db.prepare('SELECT body FROM records WHERE kind = 4 ORDER BY hub_seq').all() as { body: Buffer }[]).map((r) => readAuditBody(r.body, 0))
  } finally {
    db.close()
  }
  assert.deepEqual([...current.keys()].sort(), Object.keys(expected).filter((b) => expected[b] !== null).sort())
  assert.deepEqual(current.get(bed(14)), { ...current.get(bed(14))!, mrn: P[1]!.mrn, source: 'adt', authority: 'GH', visit: 'V1', birthDate: '1941-02-11' })
  assert.equal(current.get(bed(10))!.mrn, 'GH20010', 'A40: known by the surviving MRN')
  assert.equal(current.get(bed(17))!.source, 'manual')
  assert.deepEqual(current.get(bed(11)), { ...current.get(bed(11))!, id: byHand11.body.admission.id, source: 'adt', name: label(11), visit: 'V11' }, 'adopted: the same admission, now from the feed')
  // Admissions ever made: 12 admits (patient 11's being the one by hand that its A01 adopted), the
  // early transfer, the registration, transfers as new admissions (14, 16, 6, back to 2), the
  // cancelled discharge, the merge, patient 16, and patient 6 by hand in the unmapped bed.
  assert.equal(rows, 12 + 1 + 1 + 4 + 1 + 1 + 1 + 1)

  // Every applied message audited exactly once, by the engine; refused ones not at all; re-sends not again.
  const adtAudits = audits.filter((a) => a.actor === 'adt:HAPI-ENGINE')
  for (const m of msgs.filter((x) => !x.resend)) {
    const n = adtAudits.filter((a) => new RegExp(`ADT\\^${m.trigger} ${m.ctl}\\b`).test(a.detail)).length
    assert.equal(n, m.expect === 'AA' ? 1 : 0, `audits of ${m.ctl} (${m.trigger}, ${m.expect})`)
  }
  const actions = adtAudits.map((a) => a.action).sort()
  console.log(`# ADT audits: ${adtAudits.length} (${[...new Set(actions)].map((x) => `${x} ${actions.filter((y) => y === x).length}`).join(', ')})`)
  assert.ok(actions.includes('adt-ignored') && actions.includes('transfer-out') && actions.includes('admission-cancelled') && actions.includes('patient-merge') && actions.includes('identity-update') && actions.includes('adt-adopted'))

  // Pseudonyms: what ADT admissions carry is what the same MRN admitted by hand gets.
  const pseudonymOf = (ctl: string) => /patient (\S+) \(/.exec(adtAudits.find((a) => a.detail.includes(` ${ctl})`))!.detail)![1]
  assert.equal(pseudonymOf(msgs[5]!.ctl), manual.body.admission.pseudonym, 'patient 6: ADT admission and manual admission, one pseudonym')
  const keys = Pseudonymizer.open(dataDir, SITE, Date.now())
  assert.equal(byHand11.body.admission.pseudonym, keys.pseudonym('patient', P[11]!.mrn))
  // relink (on the gateway) tells the feed's admissions apart: patient 1, admitted into bed 1, then moved to bed 14.
  const hits = relink(keys.pseudonym('patient', P[1]!.mrn), cfg).map((h) => h.admission!)
  assert.deepEqual(hits.map((a) => [a.bedId, a.source, a.mrnAuthority, a.visit, a.dischargedMs === null]), [[bed(1), 'adt', 'GH', 'V1', false], [bed(14), 'adt', 'GH', 'V1', true]])
  for (const [i, m] of msgs.slice(0, 12).entries()) if (i + 1 !== 11) assert.equal(pseudonymOf(m.ctl), keys.pseudonym('patient', P[i + 1]!.mrn), `pseudonym of patient ${i + 1}`)
})
