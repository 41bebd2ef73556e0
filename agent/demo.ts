/**
 * The demo ward: what `bedside-hub run` starts without --config. Eight beds, no external service:
 * - beds 01 and 02 wear simulated Polar H10 ECG patches on the simulated BLE radio (real PMD
 *   control-point exchange and ECG frames); their HR and rhythm are derived by the agent's QRS
 *   detector and rhythm analysis: bed 01 develops atrial fibrillation 2 minutes into the stream
 *   (a low-priority AF advisory), bed 02 has a brief run of ventricular tachycardia 90 s in and
 *   every 10 minutes after (a high-priority, latching VT alarm to acknowledge);
 * - bed 03 drifts into tachycardia, bed 05 desaturates, bed 07 develops a fever (alarms fire);
 * - when socat is installed, bed 04 has a Datex S/5 monitor and bed 06 an HL7 (MLLP) monitor, each
 *   an emulator writing real frames into a pseudo-terminal that the agent reads as a serial port;
 *   without socat those beds get simulated monitors instead, and the agent says so.
 */
import { mkdirSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { openPtyLink, socatAvailable, type PtyLink } from '../drivers/serial/index.js'
import type { NobleLike } from '../drivers/ble/noble-like.js'
import { createSimBleWard, type SynthRhythm } from '../drivers/sim/ble/index.js'
import type { EmulatorVitals } from '../drivers/sim/datex-record.js'
import { startDatexEmulator } from '../drivers/sim/datex-emulator.js'
import { startHl7Emulator } from '../drivers/sim/hl7-emulator.js'
import { SimPatient } from '../drivers/sim/vitals.js'

const scenarios = ['stable', 'stable', 'tachycardia', 'stable', 'desaturation', 'stable', 'fever', 'stable'] as const
/** Seconds since the patch's stream started → its rhythm (drivers/sim/ble/ecg-synth.ts). */
export type EcgScript = (s: number) => { rhythm: SynthRhythm; heartRateBpm: number }
export const developsAf: EcgScript = (s) => (s < 120 ? { rhythm: 'sinus', heartRateBpm: 72 } : { rhythm: 'afib', heartRateBpm: 96 })
/** 4 s of VT at 170 /min (11 beats) at 90 s, then every 10 minutes. */
export const vtRuns: EcgScript = (s) => (s >= 90 && (s - 90) % 600 < 4 ? { rhythm: 'vt', heartRateBpm: 170 } : { rhythm: 'sinus', heartRateBpm: 64 })
const PATCHES: Readonly<Record<number, { address: string; hr: number; script: EcgScript }>> = {
  1: { address: 'a0:9e:1a:00:00:01', hr: 72, script: developsAf },
  2: { address: 'a0:9e:1a:00:00:02', hr: 64, script: vtRuns },
}
const SERIAL_BEDS = { datex: 4, hl7: 6 } as const
const DEMO_HTTP_PORT = 8080
const DEMO_MQTT_PORT = 1883

export interface DemoWard {
  /** The config document for parseConfig. */
  readonly config: Record<string, unknown>
  readonly simRadio: NobleLike
  /** Notes for the operator (e.g. socat missing). */
  readonly notes: string[]
  stop(): Promise<void>
}

const n2 = (i: number) => String(i).padStart(2, '0')

function emulatorVitals(patient: SimPatient): () => EmulatorVitals {
  const start = Date.now()
  return () => {
    const v = patient.sample((Date.now() - start) / 1000)
    return { hrPerMin: v.hr, pulsePerMin: v.hr, spo2Pct: v.spo2, rrPerMin: v.rr, tempCel: v.tempC, nibp: { sysMmHg: v.sys, diaMmHg: v.dia, meanMmHg: Math.round((v.sys + 2 * v.dia) / 3) } }
  }
}

/** Fails fast, before touching the demo's pseudo-terminals, when another demo holds its ports. */
async function assertFree(port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const s = createServer()
    s.once('error', () => reject(new Error(`127.0.0.1:${port} is in use: is the demo ward already running? Stop it first, or run with --config`)))
    s.listen(port, '127.0.0.1', () => s.close(() => resolve()))
  })
}

export async function prepareDemoWard(dataDir: string): Promise<DemoWard> {
  await assertFree(DEMO_HTTP_PORT)
  await assertFree(DEMO_MQTT_PORT)
  const notes: string[] = []
  const stops: (() => Promise<void>)[] = []
  const serialPorts: Partial<Record<'datex' | 'hl7', string>> = {}
  if (socatAvailable()) {
    const ptyDir = join(dataDir, 'pty')
    mkdirSync(ptyDir, { recursive: true })
    const links: Record<string, PtyLink> = {}
    for (const kind of ['datex', 'hl7'] as const) {
      const link = await openPtyLink(join(ptyDir, `${kind}-agent`), join(ptyDir, `${kind}-monitor`))
      links[kind] = link
      stops.push(() => link.close())
      serialPorts[kind] = link.a
    }
    const datex = await startDatexEmulator(links.datex!.b, emulatorVitals(new SimPatient('stable', 404)), { periodMs: 1000 })
    const hl7 = await startHl7Emulator(links.hl7!.b, emulatorVitals(new SimPatient('stable', 606)), { periodMs: 1000 })
    stops.unshift(() => datex.stop(), () => hl7.stop())
  } else {
    notes.push('socat is not installed: beds 04 and 06 use simulated monitors instead of the Datex and HL7 serial emulators (apt-get install socat)')
  }
  const ward = createSimBleWard(Object.entries(PATCHES).map(([i, p]) => ({ bed: `demo-${n2(Number(i))}`, patch: p.address, heartRateBpm: p.hr, ecgScript: p.script })))
  stops.push(async () => ward.stop())

  const beds = scenarios.map((scenario, k) => {
    const i = k + 1
    const devices: Record<string, unknown>[] = []
    const patch = PATCHES[i]
    if (patch) devices.push({ id: `patch-${n2(i)}`, type: 'polar-pmd', address: patch.address })
    if (i === SERIAL_BEDS.datex && serialPorts.datex) devices.push({ id: `datex-${n2(i)}`, type: 'datex', port: serialPorts.datex, interval_s: 1 })
    else if (i === SERIAL_BEDS.hl7 && serialPorts.hl7) devices.push({ id: `hl7-${n2(i)}`, type: 'hl7', port: serialPorts.hl7 })
    else devices.push({ id: `sim-${n2(i)}`, type: 'sim', scenario, ...(patch ? { parameters: ['spo2', 'rr', 'temp', 'nibp'] } : {}) })
    return { id: `demo-${n2(i)}`, devices }
  })
  const config = {
    hub: { id: 'demo-ward', site: 'demo-hospital', data_dir: dataDir },
    http: { listen: `127.0.0.1:${DEMO_HTTP_PORT}`, tokens: [{ token: 'demo-nurse-token', role: 'nurse', name: 'demo-nurse' }] },
    mqtt: { listen: `127.0.0.1:${DEMO_MQTT_PORT}` },
    ble: { radio: 'sim' },
    demo: true,
    beds,
  }
  return {
    config,
    simRadio: ward.radio,
    notes,
    async stop() {
      for (const s of stops) await s().catch(() => undefined)
    },
  }
}
