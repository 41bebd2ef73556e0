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
import { AlarmsSource } from '../../agent/hl7/pcd-sources.js'
import { Admissions } from '../../agent/store/admissions.js'
import { alarmBody } from '../../agent/store/bodies.js'
import { openDatabase } from '../../agent/store/db.js'
import { Hl7Cursors } from '../../agent/store/hl7-cursor.js'
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
  db.close()
  db = openDatabase(cfg.hub.data_dir)
  assert.equal(new Hl7Cursors(db).get('alarms'), 4, 'durable')
  db.close()
})
