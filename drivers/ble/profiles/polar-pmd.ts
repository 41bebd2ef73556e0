/**
 * Polar H10 ECG over PMD (protocols.md §5): enable data notifications and control-point
 * indications, ask for the ECG settings, start the 130 Hz stream, turn frames into WaveformChunks;
 * on close, stop the stream (`03 00`) so the strap is left as it was.
 */
import { BleError } from '../ble-errors.js'
import { GATT } from '../gatt-uuids.js'
import type { Link } from '../link.js'
import { ControlPointAssembler, getSettingsCommand, H10_ECG_SETTINGS, PmdMeasurement, settingsOfResponse, startCommand, stopCommand, type PmdIndication } from '../pmd/control-point.js'
import { ecgChunk, H10_ECG_RATE_HZ, parseEcgFrame } from '../pmd/ecg-frame.js'
import type { BleProfile } from './profile.js'

type Response = PmdIndication & { kind: 'response' }

const STATUS_SUCCESS = 0
const STATUS_ALREADY_IN_STATE = 6

export class PolarPmdProfile implements BleProfile {
  readonly type = 'polar-pmd' as const
  readonly serviceUuids = [GATT.PMD_SERVICE]
  readonly characteristicUuids = [GATT.PMD_CONTROL_POINT, GATT.PMD_DATA]
  /** Frames come every 73/130 s ≈ 0.56 s; five seconds without one is a stalled stream. */
  readonly silenceMs = 5000

  private assembler = new ControlPointAssembler()
  private pending: { op: number; resolve: (r: Response) => void } | null = null
  private prevTimestampNs: bigint | null = null
  /** True once the sensor accepted the start request on this connection; close() stops only what it started. */
  private streaming = false

  async open(link: Link): Promise<void> {
    this.assembler = new ControlPointAssembler()
    this.pending = null
    this.prevTimestampNs = null // a new stream: no previous frame to measure Δ against (§5.4)
    this.streaming = false
    const data = link.require(GATT.PMD_DATA, 'PMD data')
    const cp = link.require(GATT.PMD_CONTROL_POINT, 'PMD control point')
    // The SDK sends no command before both are enabled (§5.1, clientReady).
    await link.subscribe(data, 'PMD data', (payload) => this.onFrame(link, payload))
    await link.subscribe(cp, 'PMD control point', (payload) => this.onControlPoint(link, payload))
    const settings = settingsOfResponse(this.expectOk(await this.request(link, getSettingsCommand()), 'get ECG settings').parameters)
    if (!settings.sampleRate?.includes(H10_ECG_RATE_HZ)) {
      throw new BleError('BEDSIDE_ERR_BLE_PMD', `${link.device.deviceId}: sensor offers ECG at ${settings.sampleRate?.join(', ') ?? 'no'} Hz, not ${H10_ECG_RATE_HZ} Hz; not an H10?`)
    }
    await this.startStream(link)
  }

  async close(link: Link): Promise<void> {
    if (!link.isUp || !this.streaming) return
    this.streaming = false
    this.expectOk(await this.request(link, stopCommand()), 'stop ECG stream')
  }

  private async startStream(link: Link): Promise<void> {
    const r = await this.request(link, startCommand(H10_ECG_SETTINGS))
    if (r.status !== STATUS_ALREADY_IN_STATE) this.expectOk(r, 'start ECG stream')
    this.streaming = true
  }

  /** Writes one command and waits for the response with the same op code (§5.3). */
  private async request(link: Link, command: Buffer): Promise<Response> {
    const cp = link.require(GATT.PMD_CONTROL_POINT, 'PMD control point')
    const answer = new Promise<Response>((resolve) => (this.pending = { op: command[0], resolve }))
    await link.gatt(`write PMD command ${command.toString('hex')}`, cp.writeAsync(command, false))
    return link.gatt(`PMD response to ${command.toString('hex')}`, answer)
  }

  private expectOk(r: Response, what: string): Response {
    if (r.status !== STATUS_SUCCESS) throw new BleError('BEDSIDE_ERR_BLE_PMD', `${what}: sensor answered ${r.statusName} (${r.status})`)
    return r
  }

  private onControlPoint(link: Link, payload: Buffer): void {
    const ind = this.assembler.feed(payload)
    if (ind === null) return
    if (ind.kind === 'stopped') {
      // The sensor stopped the stream on its own (§5.3): ask again rather than sit silent.
      if (ind.measurementTypes.includes(PmdMeasurement.ECG)) {
        this.startStream(link).catch((err) => link.fail('ble-pmd-restart', err))
      }
      return
    }
    if (this.pending && this.pending.op === ind.op) {
      const { resolve } = this.pending
      this.pending = null
      resolve(ind)
    }
  }

  private onFrame(link: Link, payload: Buffer): void {
    const frame = parseEcgFrame(payload)
    link.emit(ecgChunk(frame, link.context(), this.prevTimestampNs))
    this.prevTimestampNs = frame.timestampNs
  }
}
