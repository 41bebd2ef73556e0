/**
 * Fuzzing the ADT reader (issue 21): 20,000 mutated ADT messages (seeded, so a failure
 * reproduces) through readAdt, the decision and the ACK. Nothing throws: every bad message is an
 * AE or AR whose reason is from the documented set, and whose ACK HL7 can parse back.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { decide } from '../../agent/hl7/adt-apply.js'
import { formatErrorLocation, readAdt } from '../../agent/hl7/adt-message.js'
import { LocationMap } from '../../agent/hl7/locations.js'
import { buildAck } from '../../drivers/serial/hl7/ack.js'
import { parseMessage } from '../../drivers/serial/hl7/message.js'
import { prng } from '../../drivers/sim/prng.js'

const RUNS = 20_000
const REASONS = new Set(['missing-msh', 'bad-msh', 'bad-segment', 'missing-control-id', 'unsupported-version', 'unsupported-message-type', 'unsupported-event',
  'missing-pid', 'missing-pv1', 'missing-prior-mrn', 'missing-mrn', 'bad-mrn', 'bad-birth-date', 'bad-escape'])

const SEEDS = [
  'MSH|^~\\&|EPIC|GH|BEDHUB|3A|20261205120000||ADT^A01^ADT_A01|MSG1|P|2.6\rEVN|A01|20261205120000\rPID|1||123456^^^GH^MR~9^^^SSA^SS||Doe^Jane^Q||19700131|F\rPV1|1|I|3A^301^1^GH||||||||||||||||V1\r',
  'MSH|^~\\&|EPIC|GH|BEDHUB|3A|20261205120000||ADT^A40^ADT_A39|MSG2|P|2.6\rEVN|A40|20261205120000\rPID|1||2^^^GH^MR||O\\S\\Brien^Pat\rMRG|1^^^GH^MR\r',
]

const SPECIAL = '|^~\\&\r\nA0123456789MSHPIDPV1MRG'

function mutate(s: string, rnd: () => number): string {
  const chars = [...s]
  const n = 1 + Math.floor(rnd() * 6)
  for (let i = 0; i < n; i++) {
    const at = Math.floor(rnd() * (chars.length + 1))
    const r = rnd()
    if (r < 0.35) chars.splice(at, 1)
    else if (r < 0.7) chars.splice(at, 0, SPECIAL[Math.floor(rnd() * SPECIAL.length)]!)
    else if (r < 0.85) chars[at] = String.fromCharCode(Math.floor(rnd() * 0x3000))
    else chars.splice(at, Math.floor(rnd() * 20))
  }
  return chars.join('')
}

test('hl7 adt fuzz: mutated messages never throw, refusals carry a known reason and an ACK that parses', () => {
  const rnd = prng(21)
  const map = new LocationMap([{ point_of_care: '3A', room: '301', bed: '1', bed_id: 'b1' }])
  const counts = { ok: 0, AE: 0, AR: 0 }
  for (let i = 0; i < RUNS; i++) {
    const text = mutate(SEEDS[i % SEEDS.length]!, rnd)
    const r = readAdt(text)
    if (r.ok) {
      counts.ok++
      decide(r.event, map, () => undefined)
    } else {
      counts[r.error.ack]++
      assert.ok(REASONS.has(r.error.reason), `unknown reason ${r.error.reason} for ${JSON.stringify(text)}`)
      const ack = buildAck({ message: r.message, controlId: r.controlId, code: r.error.ack, error: r.error, ackControlId: 'A1', nowMs: 0, messageType: 'ACK', hl7Error: r.error.hl7Error, ...(r.error.location ? { errorLocation: formatErrorLocation(r.error.location) } : {}) })
      const back = parseMessage(ack)
      assert.equal(back.segments[1]!.fields[1], r.error.ack)
    }
  }
  console.log(`# ${RUNS} mutated ADT messages: ${counts.ok} read, ${counts.AE} AE, ${counts.AR} AR`)
  assert.ok(counts.ok > 0 && counts.AE > 0 && counts.AR > 0)
})
