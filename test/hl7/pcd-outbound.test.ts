/**
 * HL7 out (issue 21), the delivery rules against a scripted MLLP receiver: AE and a silent receiver
 * are retried with the same message (same MSH-10) and nothing behind overtakes it; AR sets the
 * message aside in hl7_dead_letter with the receiver's reason and the cursor moves on; the cursor
 * survives a reopen. Records are written straight into a store; the sources and the loop are the
 * agent's.
 */
import assert from 'node:assert/strict'
import { createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import { test } from 'node:test'
import { parseConfig } from '../../agent/config.js'
import { Hl7Outbound } from '../../agent/hl7/outbound.js'
import { AlarmsSource, ResultsSource } from '../../agent/hl7/pcd-sources.js'
import { Admissions } from '../../agent/store/admissions.js'
import { alarmBody, auditBody } from '../../agent/store/bodies.js'
import { openDatabase } from '../../agent/store/db.js'
import { formatHl7Queue } from '../../agent/commands/queue.js'
import { Hl7Cursors, hl7QueueReport } from '../../agent/store/hl7-cursor.js'
import { MllpDeframer, mllpFrame } from '../../drivers/serial/hl7/mllp.js'
import { tempDir, waitFor } from '../support/agent-process.js'

type Answer = 'AA' | 'AE' | 'AR' | 'silent'

/** Answers each message by `script(controlId, nth time seen)`; records what arrived. */
async function receiver(script: (id: string, nth: number) => Answer) {
  const got: string[] = []
  const seen = new Map<string, number>()
  const sockets = new Set<Socket>()
  const server = createServer((s) => {
    sockets.add(s)
    const d = new MllpDeframer({
      message: (body) => {
        const text = body.toString('utf8')
        const id = text.split('\r')[0]!.split('|')[9]!
        got.push(id)
        const nth = (seen.get(id) ?? 0) + 1
        seen.set(id, nth)
        const a = script(id, nth)
        if (a === 'silent') return
        s.write(mllpFrame(`MSH|^~\\&|CIS|H|hub|s|20261205120000+0000||ACK^R40^ACK|K${got.length}|P|2.6\rMSA|${a}|${id}${a === 'AA' ? '' : `|refused by test (${a})`}\r`))
      },
      reject: () => undefined,
    })
    s.on('data', (c) => d.push(c))
    s.on('error', () => undefined)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as { port: number }).port
  return { got, port, close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()) }) }
}

function alarm(i: number, state: 'raised' | 'cleared') {
  return alarmBody({ alarmId: `b1/temp-high/${i}`, ruleId: 'temp-high', state, priority: 'low', category: 'physiological', code: 'MDC_TEMP_BODY', value: 39.5, message: 'Temp high', conditionSinceMs: 1_000 * i, atMs: 1_000 * i + 500, latching: false } as never)
}

test('hl7 out: AE and no answer retried with the same MSH-10 in order; AR set aside with its reason; the cursor survives a reopen', { timeout: 60_000 }, async (t) => {
  const dir = tempDir('pcd-out')
  const rx = await receiver((id, nth) => (id === 'A2' ? (nth === 1 ? 'AE' : nth === 2 ? 'silent' : 'AA') : id === 'A3' ? 'AR' : 'AA'))
  t.after(rx.close)
  const cfg = parseConfig({ hub: { id: 'hub', site: 's', data_dir: join(dir, 'data') }, beds: [{ id: 'b1' }], hl7: { alarms: { target: `127.0.0.1:${rx.port}`, ack_timeout_s: 1, max_backoff_s: 1 } } })
  let db = openDatabase(cfg.hub.data_dir)
  const cursors = new Hl7Cursors(db)
  assert.equal(cursors.get('alarms'), 0)
  const insert = db.prepare('INSERT INTO records (hub_seq, kind, bed_id, hub_time_ms, body) VALUES (?, 3, ?, ?, ?)')
  for (let i = 1; i <= 4; i++) insert.run(i, 'b1', 1_000 * i, alarm(i, i % 2 ? 'raised' : 'cleared'))
  const events: string[] = []
  const out = new Hl7Outbound('alarms', cfg.hl7!.alarms!, new AlarmsSource(db, cfg, cursors, new Admissions(db)), cursors, {
    sent: (_n, m, o) => events.push(`${m.controlId}:${o.kind}`),
    rejected: (_n, m, reason) => events.push(`${m.controlId}:rejected:${reason}`),
  })
  out.start()
  await waitFor('all four answered', async () => cursors.get('alarms') === 4, 30_000, 50)
  await out.stop()
  assert.deepEqual(rx.got, ['A1', 'A2', 'A2', 'A2', 'A3', 'A4'], 'A2 re-sent as itself until AA; nothing overtook it')
  assert.deepEqual(events, ['A1:AA', 'A2:AE', 'A2:no-answer', 'A2:AA', 'A3:AR', 'A3:rejected:refused by test (AR)', 'A4:AA'])
  assert.deepEqual(db.prepare('SELECT dest, control_id, from_seq, to_seq, reason FROM hl7_dead_letter').all(), [{ dest: 'alarms', control_id: 'A3', from_seq: 3, to_seq: 3, reason: 'refused by test (AR)' }])
  assert.equal(cursors.rejected('alarms'), 1)
  // bedside-hub queue: the destination's cursor, nothing waiting, one rejected.
  const report = hl7QueueReport(db)
  assert.deepEqual(report, [{ dest: 'alarms', cursor: 4, waiting: 0, oldestMs: null, rejected: 1 }])
  assert.match(formatHl7Queue(report, Date.now()), /alarms\s+0\s+none waiting, cursor hub_seq 4, rejected \(AR\) 1/)
  db.close()
  db = openDatabase(cfg.hub.data_dir)
  assert.equal(new Hl7Cursors(db).get('alarms'), 4, 'durable')
  db.close()
})

test('hl7 out: results per bed and period, one patient per message, nothing before the period closed; idle destinations pass over the ward\'s records', () => {
  const dir = tempDir('pcd-res')
  const cfg = parseConfig({ hub: { id: 'hub', site: 's', data_dir: join(dir, 'data') }, beds: [{ id: 'b1' }, { id: 'b2' }], hl7: { results: { target: '127.0.0.1:2575', period_s: 60 }, alarms: { target: '127.0.0.1:2575' } } })
  const db = openDatabase(cfg.hub.data_dir)
  try {
    const cursors = new Hl7Cursors(db)
    const admissions = new Admissions(db)
    assert.equal(cursors.get('results/b1'), 0)
    assert.equal(cursors.get('alarms'), 0)
    const a1 = admissions.admit('b1', 'GH1', 'Doe, Jane', '1970-01-31', 0)
    const obs = db.prepare('INSERT INTO records (hub_seq, kind, bed_id, device_id, admission_id, code, value, unit, device_time_ms, hub_time_ms, quality) VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
    const P = 60_000
    obs.run(1, 'b1', 'mon', null, 150456, 95, '%', P + 1_000, P + 1_000, 0) // no patient yet
    obs.run(2, 'b1', 'mon', a1.id, 150456, 97, '%', P + 2_000, P + 2_000, 0)
    obs.run(3, 'b1', 'mon', a1.id, 147842, 80, '/min', P + 3_000, P + 3_000, 1) // questionable: R
    obs.run(4, 'b1', 'mon', a1.id, 150456, 98, '%', P + 4_000, P + 4_000, 0) // newer SpO2 wins
    obs.run(5, 'b1', 'mon', a1.id, 150456, 50, '%', P + 5_000, P + 5_000, 1 << 1) // leads off: not charted
    const a2 = admissions.admit('b1', 'GH2', 'Roe, Rick', null, P + 6_000) // another patient, same period
    obs.run(6, 'b1', 'mon', a2.id, 150456, 93, '%', P + 7_000, P + 7_000, 0)
    obs.run(7, 'b1', 'mon', a2.id, 150456, 92, '%', 2 * P + 1_000, 2 * P + 1_000, 0) // next period
    const src = new ResultsSource(db, cfg, cursors, admissions)
    assert.equal(src.nextOf('b1', 2 * P + 1_000), null, 'period open (grace)')
    assert.deepEqual(src.nextOf('b1', 2 * P + 5_000), { dest: 'results/b1', skipTo: 1 }, 'no patient: passed over')
    cursors.advance('results/b1', 1)
    const m1 = src.nextOf('b1', 2 * P + 5_000)
    assert.ok(m1 && !('skipTo' in m1))
    assert.equal(m1.controlId, 'R5')
    assert.deepEqual([m1.fromSeq, m1.toSeq], [2, 5])
    const segs = m1.text.split('\r')
    assert.match(segs[1]!, /^PID\|1\|\|GH1\^\^\^\^MR\|\|Doe\^Jane\|\|19700131$/)
    assert.deepEqual(segs.filter((x) => x.startsWith('OBX')).map((x) => x.split('|').slice(3, 12).join('|')),
      ['147842^MDC_ECG_HEART_RATE^MDC|1.0.0.1|80|/min^/min^UCUM|||||R', '150456^MDC_PULS_OXIM_SAT_O2^MDC|1.0.0.2|98|%^%^UCUM|||||F'])
    assert.equal((src.nextOf('b1', 2 * P + 5_000) as { text: string }).text, m1.text, 'byte for byte')
    cursors.advance('results/b1', 5)
    const m2 = src.nextOf('b1', 2 * P + 5_000) as { controlId: string; text: string }
    assert.equal(m2.controlId, 'R6')
    assert.match(m2.text.split('\r')[1]!, /\|GH2\^/)
    cursors.advance('results/b1', 6)
    assert.equal(src.nextOf('b1', 2 * P + 5_000), null, 'the next period is still open')
    // On demand: a results-requested record ends the message at itself, before the period closes.
    db.prepare('INSERT INTO records (hub_seq, kind, bed_id, admission_id, hub_time_ms, body) VALUES (?, 4, ?, ?, ?, ?)').run(8, 'b1', a2.id, 2 * P + 2_000, auditBody('results-requested', 'nurse:ann', 2 * P + 2_000, 'now'))
    const od = src.nextOf('b1', 2 * P + 2_001) as { controlId: string; fromSeq: number; toSeq: number; text: string }
    assert.deepEqual([od.controlId, od.fromSeq, od.toSeq], ['R8', 7, 8])
    assert.match(od.text, /\|92\|%\^%\^UCUM/)
    cursors.advance('results/b1', 8)
    assert.equal(src.nextOf('b1', 10 * P), null, 'nothing after the request')
    // b2 has no records: its cursor stays until a thousand records lie behind it.
    assert.equal(src.nextOf('b2', 10 * P), null)
    const audit = db.prepare('INSERT INTO records (hub_seq, kind, hub_time_ms) VALUES (?, 4, ?)')
    for (let i = 9; i < 1_010; i++) audit.run(i, 3 * P)
    assert.deepEqual(src.nextOf('b2', 10 * P), { dest: 'results/b2', skipTo: 1_009 })
    assert.deepEqual(new AlarmsSource(db, cfg, cursors, admissions).next(), { dest: 'alarms', skipTo: 1_009 })
  } finally {
    db.close()
  }
})
