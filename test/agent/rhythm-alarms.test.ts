/**
 * Rhythm alarms through the running agent (issue 20): simulated Polar H10 patches on the simulated
 * radio (real PMD bytes through the real BLE central and driver), the ECG analysed per patch, the
 * alarms read from GET /api/alarms.
 *  - bed rh-1: sinus, 10 s of asystole, sinus, then VF: a high-priority latching asystole alarm
 *    raised within 1 s (device time) of 4 s without a QRS, then a high-priority VF alarm within 1 s
 *    of its condition (a 4 s window of VF, held 1.5 s: vf-detector.ts);
 *  - bed rh-2: the leads come off (a flat line) for 60 s: leads-off, never a lethal rhythm;
 *  - bed rh-3: heavy noise on a normal ECG: ECG noise, never a lethal rhythm.
 * The patches stream 4× faster than real time (frames every 140 ms), so device time runs ahead of
 * the hub clock; latencies are judged on device time, and on the wall clock from the frame that
 * completed the condition to the alarm's appearance.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { pino } from 'pino'
import { startAgent, type RunningAgent } from '../../agent/agent.js'
import { parseConfig } from '../../agent/config.js'
import { POLAR_EPOCH_OFFSET_NS } from '../../drivers/ble/pmd/ecg-frame.js'
import { VF_PERSIST_MS, VF_WINDOW_MS } from '../../agent/signal/vf-detector.js'
import { SimPolarH10, SimRadio, type SynthRhythm } from '../../drivers/sim/ble/index.js'
import { TEST_VIEWER, VIEWER_AUTH, tempDir, waitFor } from '../support/agent-process.js'

const SPEEDUP = 4
/**
 * Wall time from the frame that completes a condition to the alarm on the WebSocket: the issue's
 * 1 s. (It was 1000 / SPEEDUP + 500 = 750 ms, which a loaded CI machine missed once at 954 ms;
 * the device-time bound below stays 1 s.)
 */
const WALL_LIMIT_MS = 1000
const FRAME_MS = (73 / 130) * 1000
const ASYS_FROM_S = 25
const ASYS_TO_S = 35
const VF_FROM_S = 45

type Alarm = { alarmId: string; bedId: string; ruleId: string; priority: string; category: string; latching: boolean; state: string; conditionSinceMs: number; atMs: number }

let agent: RunningAgent
let http: string
const patches: SimPolarH10[] = []
const startMs = Date.now()
/** Wall time at which each alarm id was first seen. */
const seenAt = new Map<string, number>()
let polling: NodeJS.Timeout | undefined
let alarms: Alarm[] = []

function patch(radio: SimRadio, address: string, script: (s: number) => { rhythm: SynthRhythm; heartRateBpm: number }, noiseUv = 15): SimPolarH10 {
  const p = new SimPolarH10({ address, heartRateBpm: 72, noiseUv, frameIntervalMs: FRAME_MS / SPEEDUP, sensorStartNs: BigInt(startMs) * 1_000_000n - POLAR_EPOCH_OFFSET_NS, script })
  radio.add(p.peripheral)
  patches.push(p)
  return p
}

before(async () => {
  const radio = new SimRadio()
  patch(radio, 'a0:9e:1a:00:00:31', (s) => ({ rhythm: s >= ASYS_FROM_S && s < ASYS_TO_S ? 'asystole' : s >= VF_FROM_S ? 'vf' : 'sinus', heartRateBpm: 72 }))
  // a noiseless patch: "asystole" is then a perfectly flat line, what an unplugged lead gives
  patch(radio, 'a0:9e:1a:00:00:32', (s) => ({ rhythm: s >= 15 && s < 75 ? 'asystole' : 'sinus', heartRateBpm: 72 }), 0)
  patch(radio, 'a0:9e:1a:00:00:33', () => ({ rhythm: 'sinus', heartRateBpm: 72 }), 700)
  agent = await startAgent(parseConfig({
    hub: { id: 'rhythm-hub', site: 's', data_dir: join(tempDir('rhythm'), 'data') },
    http: { listen: '127.0.0.1:0', tokens: [TEST_VIEWER] },
    mqtt: { listen: '127.0.0.1:0' },
    ble: { radio: 'sim' },
    beds: [
      { id: 'rh-1', devices: [{ id: 'patch-31', type: 'polar-pmd', address: 'a0:9e:1a:00:00:31' }] },
      { id: 'rh-2', devices: [{ id: 'patch-32', type: 'polar-pmd', address: 'a0:9e:1a:00:00:32' }] },
      { id: 'rh-3', devices: [{ id: 'patch-33', type: 'polar-pmd', address: 'a0:9e:1a:00:00:33' }] },
    ],
  }), { log: pino({ level: 'silent' }), simRadio: radio })
  http = `http://127.0.0.1:${agent.httpPort}`
  const poll = async () => {
    const list = ((await (await fetch(`${http}/api/alarms?state=active`, VIEWER_AUTH)).json()) as { alarms: Alarm[] }).alarms
    for (const a of list) if (!seenAt.has(a.alarmId)) seenAt.set(a.alarmId, Date.now())
    alarms = list
    polling = setTimeout(() => void poll().catch(() => undefined), 50)
  }
  await poll()
})

after(async () => {
  if (polling) clearTimeout(polling)
  await agent?.stop()
  for (const p of patches) p.stop()
})

/** Wall time at which the patch sent the frame holding device time `deviceMs` (frames are paced from the stream start). */
function frameWallMs(p: SimPolarH10, deviceMs: number): number {
  const framesIn = Math.ceil((deviceMs - startMs) / FRAME_MS)
  return p.streamWallStartMs + (framesIn * FRAME_MS) / SPEEDUP
}

test('agent: a patch in asystole, then VF, raises high-priority latching alarms within 1 s of their condition', async () => {
  const asys = await waitFor('the asystole alarm', async () => alarms.find((a) => a.bedId === 'rh-1' && a.ruleId === 'rhythm-asystole'), 60_000, 100)
  assert.equal(asys.priority, 'high')
  assert.equal(asys.category, 'physiological')
  assert.equal(asys.latching, true)
  const conditionMetMs = asys.conditionSinceMs + 4000 // 4 s after the last beat
  const deviceLateMs = asys.atMs - conditionMetMs
  const wallLateMs = seenAt.get(asys.alarmId)! - frameWallMs(patches[0]!, conditionMetMs)
  console.log(`asystole: device time from the last beat ${((asys.conditionSinceMs - startMs) / 1000).toFixed(2)} s, raised ${deviceLateMs.toFixed(0)} ms (device time) after 4 s without a QRS; seen ${wallLateMs.toFixed(0)} ms (wall) after the frame that completed the 4 s`)
  assert.ok(deviceLateMs <= 1000, `raised ${deviceLateMs} ms after the condition`)
  assert.ok(wallLateMs <= WALL_LIMIT_MS, `seen ${wallLateMs} ms after the frame`)

  const vf = await waitFor('the VF alarm', async () => alarms.find((a) => a.bedId === 'rh-1' && a.ruleId === 'rhythm-vf'), 60_000, 100)
  assert.equal(vf.priority, 'high')
  assert.equal(vf.latching, true)
  // VF's condition: a 4 s window of VF (the sinus beats must have left it), VF-like for 1.5 s
  const vfOnsetMs = startMs + VF_FROM_S * 1000
  const vfConditionMs = vfOnsetMs + VF_WINDOW_MS + VF_PERSIST_MS
  const vfLateMs = vf.atMs - vfConditionMs
  const vfWallMs = seenAt.get(vf.alarmId)! - frameWallMs(patches[0]!, vf.atMs)
  console.log(`VF: raised ${(vf.atMs - vfOnsetMs).toFixed(0)} ms (device time) after its onset, ${vfLateMs.toFixed(0)} ms after its condition (onset + ${VF_WINDOW_MS + VF_PERSIST_MS} ms); seen ${vfWallMs.toFixed(0)} ms (wall) after the frame that completed it`)
  assert.ok(vfLateMs <= 1000, `VF raised ${vfLateMs} ms after its condition`)
  assert.ok(vfWallMs <= WALL_LIMIT_MS, `VF seen ${vfWallMs} ms after the frame`)
  // latching: the asystole ended 10 s (device) ago, its alarm is still there
  assert.ok(alarms.some((a) => a.alarmId === asys.alarmId), 'the asystole alarm stays until acknowledged')
})

test('agent: leads off and noise raise their technical alarms and never a lethal-rhythm alarm', async () => {
  await waitFor('leads-off on rh-2', async () => alarms.some((a) => a.bedId === 'rh-2' && a.ruleId === 'tech-leads-off'), 60_000, 100)
  await waitFor('ECG noise on rh-3', async () => alarms.some((a) => a.bedId === 'rh-3' && a.ruleId === 'tech-ecg-noise'), 60_000, 100)
  // let both run past their bad stretch (device time 75 s)
  await waitFor('80 s of device time', async () => Date.now() - startMs >= 80_000 / SPEEDUP, 60_000, 100)
  const all = ((await (await fetch(`${http}/api/alarms?state=all`, VIEWER_AUTH)).json()) as { alarms: Alarm[] }).alarms
  const lethal = all.filter((a) => a.bedId !== 'rh-1' && a.ruleId.startsWith('rhythm-') && a.priority === 'high')
  assert.deepEqual(lethal.map((a) => `${a.bedId} ${a.ruleId}`), [])
})
