/**
 * HL7 v2/MLLP drivers end to end: a serial monitor through socat ptys, and a PCD-01 gateway over
 * TCP, each getting one ACK per message.
 */
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { join } from 'node:path'
import { test } from 'node:test'
import { MDC } from '../../drivers/codes.js'
import { Hl7SerialDriver } from '../../drivers/serial/hl7/driver.js'
import { mllpFrame } from '../../drivers/serial/hl7/mllp.js'
import { Hl7TcpDriver } from '../../drivers/serial/hl7/tcp.js'
import { openPtyLink } from '../../drivers/serial/pty-link.js'
import { startHl7Emulator } from '../../drivers/sim/hl7-emulator.js'
import { buildOru } from '../../drivers/sim/hl7-message.js'
import { cleanupStack, lastStatus, recordingContext, sleep, tempDir, waitFor } from './helpers.js'

const vitals = () => ({ hrPerMin: 81, spo2Pct: 96, pulsePerMin: 80, rrPerMin: 18, tempCel: 37.1 })

test('hl7: serial driver acknowledges every message, survives garbage and split frames, unplug and replug', async (t) => {
  const cleanup = cleanupStack(t)
  const dir = tempDir('hl7-pty-')
  cleanup(dir.remove)
  const hub = join(dir.path, 'hub')
  const mon = join(dir.path, 'mon')
  let link = await openPtyLink(hub, mon)
  cleanup(() => link.close())
  let emu = await startHl7Emulator(mon, vitals, { periodMs: 100 })
  cleanup(() => emu.stop())
  const ctx = recordingContext()
  const driver = new Hl7SerialDriver({ deviceId: 'hl7-1', port: hub, silenceMs: 400, reopenInitialMs: 100, reopenMaxMs: 400 })
  cleanup(() => driver.stop())
  await driver.start(ctx)

  await waitFor('three ACKs', () => emu.acks.length >= 3)
  assert.ok(emu.acks.every((a) => a.code === 'AA'), `first acks ${JSON.stringify(emu.acks)}`)
  assert.deepEqual(emu.acks.slice(0, 3).map((a) => a.controlId), ['SIM000001', 'SIM000002', 'SIM000003'])
  const hr = ctx.records.filter((r) => r.code === MDC.MDC_ECG_HEART_RATE)
  assert.equal(hr[0]!.value, 81)
  assert.ok(hr[1]!.deviceSeq > hr[0]!.deviceSeq, 'deviceSeq increases')

  emu.hold(true)
  await sleep(150)
  const acks0 = emu.acks.length
  const frame = mllpFrame(buildOru({ hrPerMin: 55 }, { controlId: 'SPLIT1', timeMs: Date.now() }))
  await emu.sendRaw(Buffer.from('line noise'))
  await emu.sendRaw(frame.subarray(0, 40))
  await sleep(60)
  await emu.sendRaw(Buffer.concat([frame.subarray(40), mllpFrame('MSH|^~\\&|X|Y|||20240101||ADT^A01|BAD1|P|2.6\r')]))
  await waitFor('two more ACKs', () => emu.acks.length >= acks0 + 2)
  assert.deepEqual(emu.acks.slice(acks0).map((a) => [a.code, a.controlId]), [['AA', 'SPLIT1'], ['AR', 'BAD1']])
  assert.match(emu.acks[acks0 + 1]!.error, /ADT\^A01/)
  assert.equal(driver.counters.acks.AR, 1)
  assert.ok(driver.counters.resyncs >= 1, `resyncs ${driver.counters.resyncs}`)
  assert.ok(ctx.records.some((r) => r.code === MDC.MDC_ECG_HEART_RATE && r.value === 55), 'the split message was emitted')

  await waitFor('silent', () => lastStatus(ctx)?.state === 'silent', 3000)
  emu.hold(false)
  await waitFor('connected again', () => lastStatus(ctx)?.state === 'connected')

  await emu.stop()
  await link.close()
  await waitFor('unplugged', () => lastStatus(ctx)?.state === 'disconnected')
  link = await openPtyLink(hub, mon)
  emu = await startHl7Emulator(mon, () => ({ hrPerMin: 66 }), { periodMs: 100 })
  await waitFor('data after the replug', () => ctx.records.some((r) => r.code === MDC.MDC_ECG_HEART_RATE && r.value === 66))
  assert.equal(driver.counters.opens, 2)
  await waitFor('an ACK after the replug', () => emu.acks.length > 0)
  assert.ok(emu.acks.every((a) => a.code === 'AA'), `acks after replug ${JSON.stringify(emu.acks)}`)
})

test('hl7: TCP listener serves several gateways, each frame split or batched, one ACK each', async (t) => {
  const cleanup = cleanupStack(t)
  const ctx = recordingContext()
  const driver = new Hl7TcpDriver({ deviceId: 'gw-1', port: 0 })
  cleanup(() => driver.stop())
  await driver.start(ctx)
  const port = driver.address()!.port
  const gw = await startHl7Emulator({ host: '127.0.0.1', port }, vitals, { periodMs: 50 })
  cleanup(() => gw.stop())
  await waitFor('ACKs from the gateway', () => gw.acks.length >= 3)
  assert.ok(gw.acks.every((a) => a.code === 'AA'))
  assert.equal(lastStatus(ctx)?.state, 'connected')

  // A second peer writes two messages in one packet and then one byte at a time.
  const acks: Buffer[] = []
  const sock = connect(port, '127.0.0.1')
  cleanup(() => sock.destroy())
  sock.on('data', (d: Buffer) => acks.push(d))
  await new Promise((r) => sock.once('connect', r))
  const m = (id: string) => mllpFrame(buildOru({ hrPerMin: 101 }, { controlId: id, timeMs: Date.now() }))
  sock.write(Buffer.concat([m('T1'), m('T2')]))
  for (const b of m('T3')) sock.write(Buffer.from([b]))
  await waitFor('three ACKs on the second connection', () => Buffer.concat(acks).toString().split('MSA|AA|').length - 1 === 3)
  assert.match(Buffer.concat(acks).toString(), /MSA\|AA\|T1\r[\s\S]*MSA\|AA\|T2\r[\s\S]*MSA\|AA\|T3\r/)
  assert.equal(ctx.records.filter((r) => r.code === MDC.MDC_ECG_HEART_RATE && r.value === 101).length, 3)
  assert.equal(driver.counters.opens, 2)

  await gw.stop()
  sock.destroy()
  await waitFor('no peer left', () => lastStatus(ctx)?.state === 'disconnected')
  assert.deepEqual(lastStatus(ctx), { state: 'disconnected', cause: 'no-peer' })
})

test('hl7: TCP listener bounds what a sender without a login can hold: allow_from, max_connections, one frame, silence', async (t) => {
  const cleanup = cleanupStack(t)
  const ctx = recordingContext()
  const driver = new Hl7TcpDriver({ deviceId: 'gw-b', port: 0, allowFrom: ['127.0.0.2', '10.0.0.0/8'], maxConnections: 2, idleTimeoutMs: 400, maxMessageBytes: 4096 })
  cleanup(() => driver.stop())
  await driver.start(ctx)
  const port = driver.address()!.port
  const open = async (localAddress: string) => {
    const sock = connect({ port, host: '127.0.0.1', localAddress })
    cleanup(() => sock.destroy())
    const data: Buffer[] = []
    let closedAt = 0
    sock.on('data', (d: Buffer) => data.push(d)).on('close', () => (closedAt = Date.now())).on('error', () => {})
    await new Promise((r) => sock.once('connect', r))
    return { sock, text: () => Buffer.concat(data).toString(), closed: () => closedAt > 0 }
  }
  const m = (id: string) => mllpFrame(buildOru({ hrPerMin: 77 }, { controlId: id, timeMs: Date.now() }))

  // an address outside allow_from: closed on accept, its message never read
  const stranger = await open('127.0.0.1')
  stranger.sock.write(m('X1'))
  await waitFor('the stranger closed', () => stranger.closed(), 2000)
  assert.ok(ctx.rejects.some((r) => r.reason === 'source-refused' && /127\.0\.0\.1 is not in allow_from/.test(r.detail ?? '')))
  assert.equal(stranger.text(), '')

  // two connections at once; a third is closed on accept
  const a = await open('127.0.0.2')
  const b = await open('127.0.0.2')
  a.sock.write(m('A1'))
  await waitFor('A1 acknowledged', () => /MSA\|AA\|A1\r/.test(a.text()))
  const c = await open('127.0.0.2')
  await waitFor('the third connection closed', () => c.closed(), 2000)
  assert.ok(ctx.rejects.some((r) => r.reason === 'too-many-connections'))

  // a frame that never ends holds at most max_message_bytes; the connection goes on
  b.sock.write(Buffer.concat([Buffer.from([0x0b]), Buffer.alloc(20_000, 0x41)]))
  b.sock.write(m('B1'))
  await waitFor('B1 acknowledged after the endless frame', () => /MSA\|AA\|B1\r/.test(b.text()))
  assert.ok((driver.counters.rejected['too-long'] ?? 0) >= 1, `rejected ${JSON.stringify(driver.counters.rejected)}`)

  // silence: both are closed after idle_timeout (400 ms here)
  await waitFor('silent connections closed', () => a.closed() && b.closed(), 3000)
  assert.ok(ctx.rejects.some((r) => r.reason === 'idle-timeout'))
  assert.equal(ctx.records.filter((r) => r.code === MDC.MDC_ECG_HEART_RATE && r.value === 77).length, 2, 'A1 and B1 only')
})

test('hl7: TCP listener stops reading a sender that leaves its ACKs unread, so they cannot pile up', async (t) => {
  const cleanup = cleanupStack(t)
  const ctx = recordingContext()
  const driver = new Hl7TcpDriver({ deviceId: 'gw-r', port: 0 })
  cleanup(() => driver.stop())
  await driver.start(ctx)
  const sock = connect(driver.address()!.port, '127.0.0.1')
  cleanup(() => sock.destroy())
  sock.on('error', () => {})
  await new Promise((r) => sock.once('connect', r))
  sock.pause() // never reads
  // tiny frames, each answered (AR: not an ORU): 2,000 per write
  const one = mllpFrame(`MSH|^~\\&|X|X|X|X|20250101000000||ADT^A01|${'C'.repeat(180)}|P|2.6\r`)
  const burst = Buffer.concat(Array<Buffer>(2000).fill(one))
  const deadline = Date.now() + 3000
  let offered = 0
  while (Date.now() < deadline) {
    if (sock.writableLength < 8 << 20) {
      sock.write(burst)
      offered += burst.length
    }
    await sleep(5)
  }
  const read = driver.counters.bytesIn
  console.log(`  offered ${(offered / 2 ** 20).toFixed(0)} MiB of frames; the listener read ${(read / 2 ** 20).toFixed(1)} MiB while its ACKs went unread`)
  assert.ok(offered > 4 * read, `read ${read} of ${offered} bytes`)
  assert.ok(read < 8 << 20, `read ${read} bytes`)
})

test('hl7: TCP listener start rejects when the port is taken (a configuration error)', async (t) => {
  const cleanup = cleanupStack(t)
  const first = new Hl7TcpDriver({ deviceId: 'gw-a', port: 0 })
  cleanup(() => first.stop())
  await first.start(recordingContext())
  const second = new Hl7TcpDriver({ deviceId: 'gw-b', port: first.address()!.port })
  await assert.rejects(second.start(recordingContext()), /EADDRINUSE/)
})

test('hl7: gateway mode maps each sender (MSH-3 EUI-64) to its configured device and refuses unknown senders', async (t) => {
  const cleanup = cleanupStack(t)
  const ctx = recordingContext()
  const driver = new Hl7TcpDriver({ deviceId: 'gw-ward', port: 0, sources: { '00000000000000B1': 'mon-bed-1', '00000000000000B2': 'mon-bed-2' } })
  cleanup(() => driver.stop())
  await driver.start(ctx)
  const replies: Buffer[] = []
  const sock = connect(driver.address()!.port, '127.0.0.1')
  cleanup(() => sock.destroy())
  sock.on('data', (d: Buffer) => replies.push(d))
  await new Promise((r) => sock.once('connect', r))
  const m = (eui64: string, id: string, hr: number) => mllpFrame(buildOru({ hrPerMin: hr }, { controlId: id, timeMs: Date.now(), eui64 }))
  sock.write(Buffer.concat([m('00000000000000B1', 'G1', 61), m('00000000000000B2', 'G2', 62), m('00000000000000B9', 'G3', 63), m('00000000000000B1', 'G4', 64)]))
  await waitFor('four ACKs', () => Buffer.concat(replies).toString().split('MSA|').length - 1 === 4)
  const text = Buffer.concat(replies).toString()
  assert.match(text, /MSA\|AA\|G1\r[\s\S]*MSA\|AA\|G2\r[\s\S]*MSA\|AR\|G3\rERR\|\|\|204\^[^\r]*00000000000000B9[\s\S]*MSA\|AA\|G4\r/)
  const hr = ctx.records.filter((r) => r.code === MDC.MDC_ECG_HEART_RATE).map((r) => [r.deviceId, r.value, r.deviceSeq])
  assert.deepEqual(hr, [['mon-bed-1', 61, 1], ['mon-bed-2', 62, 1], ['mon-bed-1', 64, 2]])
  assert.equal(driver.counters.rejected['unknown-source'], 1)
})
