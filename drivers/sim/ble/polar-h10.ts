/**
 * A simulated Polar H10 chest strap: the PMD service with the control-point exchange the real
 * sensor answers (protocols.md §5.2–5.3) and raw ECG frames of 73 samples at 130 Hz (§5.4), plus
 * Battery and Device Information. The ECG is the sum-of-Gaussians PQRST of ecg-synth.ts.
 *
 *   const radio = new SimRadio()
 *   const h10 = new SimPolarH10({ address: 'a0:9e:1a:00:00:01', heartRateBpm: 72 })
 *   radio.add(h10.peripheral)     // the central finds it by scanning, starts the stream itself
 *
 * Frames are sent every 73/130 s of wall time by default (`frameIntervalMs` speeds tests up); the
 * sensor clock always advances by exactly 73 samples per frame, as a real H10's does.
 */
import { GATT } from '../../ble/gatt-uuids.js'
import { PmdOp } from '../../ble/pmd/control-point.js'
import { POLAR_EPOCH_OFFSET_NS } from '../../ble/pmd/ecg-frame.js'
import { parsePmdSettings } from '../../ble/pmd/settings.js'
import { EcgSynth, type SynthRhythm } from './ecg-synth.js'
import { encodeEcgFrame } from './encode.js'
import { commonServices, SimBleDevice, type SimDeviceOptions } from './sim-device.js'
import { SimPeripheral, type SimCharacteristic } from './sim-radio.js'

export const H10_SAMPLES_PER_FRAME = 73
const RATE_HZ = 130
/** Expected H10 answer to GET_MEASUREMENT_SETTINGS for ECG: {rate 130} {resolution 14} (§5.3). */
const ECG_SETTINGS = Buffer.from([0x00, 0x01, 0x82, 0x00, 0x01, 0x01, 0x0e, 0x00])

export interface SimPolarH10Options extends SimDeviceOptions {
  heartRateBpm?: number
  noiseUv?: number
  /** Wall-clock ms between frames; default 73/130 s. */
  frameIntervalMs?: number
  /** Sensor time (ns since 2000-01-01) at the first sample of the stream; default: now. */
  sensorStartNs?: bigint
  /** The patient's rhythm at `seconds` since the stream started (demo arrhythmias, tests); default sinus at heartRateBpm. */
  script?: (seconds: number) => { rhythm: SynthRhythm; heartRateBpm: number }
}

export class SimPolarH10 extends SimBleDevice {
  readonly peripheral: SimPeripheral
  readonly synth: EcgSynth
  streaming = false
  framesSent = 0
  /** Wall clock (ms) when the current stream started: frames go out every frameIntervalMs from here. */
  streamWallStartMs = 0
  private sampleIndex = 0
  private streamStartNs = 0n
  private frameTimer: NodeJS.Timeout | null = null

  constructor(private readonly o: SimPolarH10Options) {
    super(o)
    this.synth = new EcgSynth(RATE_HZ, o.heartRateBpm ?? 72, o.noiseUv ?? 0)
    this.peripheral = new SimPeripheral({
      address: o.address,
      localName: o.localName ?? `Polar H10 ${o.address.replace(/:/g, '').slice(-8).toUpperCase()}`,
      services: [
        {
          uuid: GATT.PMD_SERVICE,
          characteristics: [
            { uuid: GATT.PMD_CONTROL_POINT, properties: ['read', 'write', 'indicate'], read: Buffer.from([0x0f, 0x05, 0x00]), onWrite: (d, c) => this.onControlPoint(d, c) },
            { uuid: GATT.PMD_DATA, properties: ['notify'] },
          ],
        },
        ...commonServices({ manufacturer: 'Polar Electro Oy', model: 'H10', ...o }, () => this.batteryPct),
      ],
    })
    // A real H10 stops streaming when the link drops; the central must restart it on reconnect.
    this.peripheral.on('disconnect', () => this.stopStream())
  }

  setHeartRate(bpm: number): void {
    this.synth.heartRateBpm = bpm
  }

  /** Sends one ECG frame now (tests drive the stream frame by frame with this). */
  emitFrame(): Buffer {
    const scripted = this.o.script?.(this.sampleIndex / RATE_HZ)
    if (scripted) {
      this.synth.rhythm = scripted.rhythm
      this.synth.heartRateBpm = scripted.heartRateBpm
    }
    const samples = this.synth.next(new Int32Array(H10_SAMPLES_PER_FRAME))
    const lastIndex = this.sampleIndex + H10_SAMPLES_PER_FRAME - 1
    const tsNs = this.streamStartNs + (BigInt(lastIndex) * 1_000_000_000n) / BigInt(RATE_HZ)
    this.sampleIndex += H10_SAMPLES_PER_FRAME
    const frame = encodeEcgFrame(tsNs, samples)
    if (this.peripheral.characteristic(GATT.PMD_DATA).notify(frame)) this.framesSent++
    return frame
  }

  /** The sensor ends the stream on its own and says so on the control point (`01` + stopped types, §5.3). */
  stopStreamFromSensor(): void {
    this.stopStream()
    this.peripheral.characteristic(GATT.PMD_CONTROL_POINT).notify(Buffer.from([0x01, 0x00]))
  }

  override stop(): void {
    this.stopStream()
    super.stop()
  }

  private onControlPoint(cmd: Buffer, cp: SimCharacteristic): void {
    const op = cmd[0]
    const type = cmd[1] ?? 0
    const respond = (status: number, params: Buffer = Buffer.alloc(0)) =>
      cp.notify(Buffer.concat([Buffer.from([0xf0, op, type, status, 0x00]), params]))
    if ((type & 0x3f) !== 0) return void respond(3) // only ECG is simulated: "not supported"
    if (op === PmdOp.GET_MEASUREMENT_SETTINGS) return void respond(0, ECG_SETTINGS)
    if (op === PmdOp.STOP_MEASUREMENT) {
      this.stopStream()
      return void respond(0)
    }
    if (op !== PmdOp.REQUEST_MEASUREMENT_START) return void respond(1) // invalid op code
    if (this.streaming) return void respond(6) // already in state
    const settings = parsePmdSettings('sim-h10', cmd, 2)
    if (settings.sampleRate?.[0] !== RATE_HZ) return void respond(8) // invalid sample rate
    respond(0)
    this.startStream()
  }

  private startStream(): void {
    this.streaming = true
    this.sampleIndex = 0
    this.streamWallStartMs = Date.now()
    this.streamStartNs = this.o.sensorStartNs ?? BigInt(Date.now()) * 1_000_000n - POLAR_EPOCH_OFFSET_NS
    this.frameTimer = setInterval(() => this.emitFrame(), this.o.frameIntervalMs ?? (H10_SAMPLES_PER_FRAME / RATE_HZ) * 1000)
    this.frameTimer.unref()
  }

  private stopStream(): void {
    this.streaming = false
    if (this.frameTimer) clearInterval(this.frameTimer)
    this.frameTimer = null
  }
}
