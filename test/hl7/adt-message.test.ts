/**
 * ADT message reading and the decision it leads to (issue 21), over hand-built v2.6 messages:
 * each field the ward reads, and each refusal naming its segment and field (ERR-2).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { decide } from '../../agent/hl7/adt-apply.js'
import { decodeBody, formatErrorLocation, readAdt, type AdtEvent } from '../../agent/hl7/adt-message.js'
import { LocationMap } from '../../agent/hl7/locations.js'
import type { Admission } from '../../agent/store/admissions.js'

const MSH = (type: string, id = 'MSG1') => `MSH|^~\\&|EPIC|GH|BEDHUB|3A|20261205120000||${type}|${id}|P|2.6`
const PID = 'PID|1||123456^^^GH^MR~999^^^SSA^SS||Doe^Jane^Q||19700131|F'
const PV1 = (loc: string, visit = 'V1') => `PV1|1|I|${loc}||||||||||||||||${visit}`
const msg = (...segs: string[]) => segs.join('\r') + '\r'

function ok(text: string, authority?: string): AdtEvent {
  const r = readAdt(text, authority)
  assert.ok(r.ok, r.ok ? '' : `refused: ${r.error.message}`)
  return r.event
}

function refused(text: string): { ack: string; where: string; reason: string; message: string } {
  const r = readAdt(text)
  assert.ok(!r.ok, 'accepted')
  return { ack: r.error.ack, where: r.error.location ? formatErrorLocation(r.error.location) : '', reason: r.error.reason, message: r.error.message }
}

test('adt message: MSH, PID-3 (MR by type, or by authority), PID-5, PID-7, PV1-3 and PV1-19 are read', () => {
  const e = ok(msg(MSH('ADT^A01^ADT_A01'), 'EVN|A01|20261205120000', PID, PV1('3A^301^1^GH')))
  assert.equal(e.trigger, 'A01')
  assert.equal(e.controlId, 'MSG1')
  assert.equal(e.sendingApp, 'EPIC')
  assert.equal(e.sendingFacility, 'GH')
  assert.deepEqual(e.patient, { mrn: '123456', authority: 'GH', name: 'Doe, Jane Q', birthDate: '1970-01-31' })
  assert.deepEqual(e.location, { pointOfCare: '3A', room: '301', bed: '1' })
  assert.equal(e.visit, 'V1')
  assert.ok(Number.isNaN(e.admitMs), 'no PV1-44')
  // Issue 24: PV1-44 (admit date/time), when the visit began: the encounter's key epoch on every ward.
  const pv1With44 = `${PV1('3A^301^1')}${'|'.repeat(25)}20261201083000+0000`
  assert.equal(ok(msg(MSH('ADT^A02^ADT_A02'), PID, pv1With44)).admitMs, Date.UTC(2026, 11, 1, 8, 30))
  assert.ok(Number.isNaN(ok(msg(MSH('ADT^A02^ADT_A02'), PID, `${PV1('3A^301^1')}${'|'.repeat(25)}yesterday`)).admitMs), 'a malformed PV1-44 is no refusal')
  assert.equal(ok(msg(MSH('ADT^A01^ADT_A01'), PID, PV1('3A^301^1')), 'SSA').patient.mrn, '999')
  // Escapes are decoded in leaf values.
  assert.equal(ok(msg(MSH('ADT^A08^ADT_A01'), 'PID|1||1^^^GH^MR||O\\S\\Brien^Pat')).patient.name, 'O^Brien, Pat')
})

test('adt message: refusals name the segment and field (ERR-2) and say AE or AR', () => {
  const cases: [string, string, string, string][] = [
    [msg(MSH('ORU^R01^ORU_R01'), PID), 'AR', 'MSH^1^9^1^1', 'unsupported-message-type'],
    [msg(MSH('ADT^A31^ADT_A05'), PID), 'AR', 'MSH^1^9^1^2', 'unsupported-event'],
    [msg(MSH('ADT^A01^ADT_A01', ''), PID, PV1('3A^301^1')), 'AR', 'MSH^1^10', 'missing-control-id'],
    [msg(MSH('ADT^A01^ADT_A01'), 'PID|1||', PV1('3A^301^1')), 'AE', 'PID^1^3^1^1', 'missing-mrn'],
    [msg(MSH('ADT^A01^ADT_A01'), 'PID|1||1^^^GH^MR||Doe||19701399', PV1('3A^301^1')), 'AE', 'PID^1^7', 'bad-birth-date'],
    [msg(MSH('ADT^A01^ADT_A01'), PV1('3A^301^1')), 'AE', 'PID^1^0', 'missing-pid'],
    [msg(MSH('ADT^A02^ADT_A02'), PID), 'AE', 'PV1^1^0', 'missing-pv1'],
    [msg(MSH('ADT^A40^ADT_A39'), PID), 'AE', 'MRG^1^1', 'missing-prior-mrn'],
    ['PID|1||x\r', 'AR', 'MSH^1^0', 'missing-msh'],
  ]
  for (const [text, ack, where, reason] of cases) {
    const r = refused(text)
    assert.deepEqual([r.ack, r.where, r.reason], [ack, where, reason], `${text.split('\r')[0]}: ${r.message}`)
  }
})

test('adt decision: out-of-order and off-ward events as the engine sends them', () => {
  const map = new LocationMap([{ point_of_care: '3A', room: '301', bed: '1', bed_id: 'b1' }, { point_of_care: '3A', room: '302', bed_id: 'b2' }])
  const lying = new Map<string, Admission>()
  const byMrn = (mrn: string) => lying.get(mrn)
  const ev = (type: string, loc: string, visit = 'V1') => ok(msg(MSH(type), PID, PV1(loc, visit)))
  assert.deepEqual(decide(ev('ADT^A01^ADT_A01', '3A^301^1'), map, byMrn), { kind: 'place', bedId: 'b1', cause: 'ADT^A01 MSG1' })
  assert.equal((decide(ev('ADT^A01^ADT_A01', '3A^302^7'), map, byMrn) as { bedId: string }).bedId, 'b2', 'room-level entry matches any bed')
  const unknown = decide(ev('ADT^A01^ADT_A01', '3A^399^1'), map, byMrn)
  assert.equal(unknown.kind, 'refuse')
  assert.equal(unknown.kind === 'refuse' && formatErrorLocation(unknown.error.location!), 'PV1^1^3')
  assert.equal(decide(ev('ADT^A03^ADT_A03', '3A^301^1'), map, byMrn).kind, 'ignore', 'discharge of a patient not here')
  assert.equal(decide(ev('ADT^A02^ADT_A02', '3A^302'), map, byMrn).kind, 'place', 'transfer before admit admits at the destination')
  assert.equal(decide(ev('ADT^A04^ADT_A01', 'ED^^'), map, byMrn).kind, 'ignore', 'outpatient registration')
  assert.equal(decide(ev('ADT^A02^ADT_A02', '4B^401^1'), map, byMrn).kind, 'ignore', 'transfer between other wards')
  lying.set('123456', { id: 7, bedId: 'b1', mrn: '123456', name: null, birthDate: null, admittedMs: 0, source: 'adt', authority: 'GH', visit: 'V1', stayOf: 7, stayStartMs: 0, eventMs: ok(msg(MSH('ADT^A01^ADT_A01'), PID, PV1('3A^301^1'))).eventMs })
  assert.deepEqual(decide(ev('ADT^A02^ADT_A02', '4B^401^1'), map, byMrn), { kind: 'leave', bedId: 'b1', action: 'transfer-out', cause: 'ADT^A02 MSG1: to 4B^401^1, off this ward' })
  assert.equal(decide(ev('ADT^A03^ADT_A03', '3A^301^1', 'V0'), map, byMrn).kind, 'ignore', 'late discharge of an earlier visit')
  assert.equal(decide(ev('ADT^A03^ADT_A03', '3A^301^1'), map, byMrn).kind, 'leave')
  assert.equal(decide(ev('ADT^A11^ADT_A09', '3A^301^1'), map, byMrn).kind, 'leave')
  // An event that happened before the one that placed the patient (EVN-6/EVN-2/MSH-7) is late: ignored.
  const late = ok(msg(MSH('ADT^A02^ADT_A02').replace('20261205120000', '20261205113000'), PID, PV1('3A^302')))
  assert.equal(decide(late, map, byMrn).kind, 'ignore')
  const evn6 = ok(msg(MSH('ADT^A02^ADT_A02'), 'EVN|A02|20261205120000||||20261205110000', PID, PV1('3A^302')))
  assert.equal(evn6.eventMs, late.eventMs - 30 * 60_000, 'EVN-6 (event occurred) before EVN-2 and MSH-7')
  assert.equal(decide(evn6, map, byMrn).kind, 'ignore')
})

test('adt message: the body is read in the character set MSH-18 names (Latin-1 or UTF-8), or guessed when empty', () => {
  const body = (charset: string) => `MSH|^~\\&|EPIC|GH|BEDHUB|3A|20261205120000||ADT^A08^ADT_A01|MSG1|P|2.6|||||${charset}\rPID|1||1^^^GH^MR||Müller^Zoë\r`
  assert.equal(ok(decodeBody(Buffer.from(body('8859/1'), 'latin1'))).patient.name, 'Müller, Zoë')
  assert.equal(ok(decodeBody(Buffer.from(body('UNICODE UTF-8'), 'utf8'))).patient.name, 'Müller, Zoë')
  assert.equal(ok(decodeBody(Buffer.from(body(''), 'utf8'))).patient.name, 'Müller, Zoë')
  assert.equal(ok(decodeBody(Buffer.from(body(''), 'latin1'))).patient.name, 'Müller, Zoë')
})
