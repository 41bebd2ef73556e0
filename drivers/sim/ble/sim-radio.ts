/**
 * A simulated BLE radio behind the same interface noble exposes (drivers/ble/noble-like.ts):
 * adapter state, scanning and 'discover' events, and peripherals with connect, discovery,
 * characteristic read/write/subscribe, 'data' notifications and 'disconnect'. The machine has no
 * Bluetooth, so the central's lifecycle (reconnect, allowlist, stop) is tested through this layer,
 * and the demo ward runs its patches on it.
 *
 * What it copies from noble on Linux (hci-socket binding), because the central must cope with it:
 * - a connect to a device that is not advertising fails (HCI status 0x3E, "connection failed to be established");
 * - link loss arrives as 'disconnect' with a numeric HCI reason (0x08 supervision timeout) and drops every subscription;
 * - a GATT operation on an attribute that needs an encrypted, bonded link never completes: noble's
 *   hci-socket binding tries "Just Works" encryption and ignores its failure (gatt.js onAclStreamEncryptFail).
 */
import { EventEmitter } from 'node:events'
import type { CharacteristicLike, NobleLike, PeripheralLike } from '../../ble/noble-like.js'

export const HCI_CONNECTION_TIMEOUT = 0x08
export const HCI_REMOTE_USER_TERMINATED = 0x13
export const HCI_LOCAL_HOST_TERMINATED = 0x16

export interface SimCharacteristicSpec {
  uuid: string
  properties: string[]
  /** Value returned by reads (a function is called on every read). */
  read?: Buffer | (() => Buffer)
  /** GATT server logic for writes (e.g. the PMD control point). */
  onWrite?: (data: Buffer, characteristic: SimCharacteristic) => void
  /** The attribute needs a bonded, encrypted link: subscribe/read never complete (see header). */
  requiresBonding?: boolean
}

export class SimCharacteristic extends EventEmitter implements CharacteristicLike {
  readonly uuid: string
  readonly properties: readonly string[]
  subscribed = false
  /** Every write the central made, in order (tests assert the control-point exchange). */
  readonly writes: Buffer[] = []

  constructor(private readonly spec: SimCharacteristicSpec, private readonly owner: SimPeripheral) {
    super()
    this.uuid = spec.uuid
    this.properties = spec.properties
  }

  async readAsync(): Promise<Buffer> {
    await this.gatt()
    const r = this.spec.read
    return typeof r === 'function' ? r() : (r ?? Buffer.alloc(0))
  }
  async writeAsync(data: Buffer, _withoutResponse: boolean): Promise<void> {
    await this.gatt()
    this.writes.push(Buffer.from(data))
    // The server reacts after the write response, as a real device's indication follows the ATT Write Response.
    queueMicrotask(() => this.spec.onWrite?.(data, this))
  }
  async subscribeAsync(): Promise<void> {
    await this.gatt()
    this.subscribed = true
  }
  async unsubscribeAsync(): Promise<void> {
    await this.gatt()
    this.subscribed = false
  }

  /** Sends a notification/indication if the central subscribed and the link is up. Returns whether it was sent. */
  notify(data: Buffer): boolean {
    if (!this.subscribed || this.owner.state !== 'connected') return false
    this.emit('data', data, true)
    return true
  }

  private async gatt(): Promise<void> {
    if (this.owner.state !== 'connected') throw new Error('peripheral not connected')
    if (this.spec.requiresBonding) await new Promise<never>(() => {}) // hangs, like noble hci-socket
  }
}

export interface SimPeripheralSpec {
  address: string
  localName: string
  services: Array<{ uuid: string; characteristics: SimCharacteristicSpec[] }>
}

export class SimPeripheral extends EventEmitter implements PeripheralLike {
  readonly id: string
  readonly address: string
  readonly advertisement: { localName: string; serviceUuids: string[] }
  state: 'disconnected' | 'connected' = 'disconnected'
  /** Advertised signal strength, dBm: a patch on a bed a few metres from the gateway. */
  rssi = -62
  /** Out of range: not advertising, connects fail. */
  inRange = true
  connectCount = 0
  private readonly chars = new Map<string, { service: string; c: SimCharacteristic }>()

  constructor(spec: SimPeripheralSpec) {
    super()
    this.address = spec.address.toLowerCase()
    this.id = this.address.replace(/:/g, '')
    this.advertisement = { localName: spec.localName, serviceUuids: spec.services.map((s) => s.uuid) }
    for (const s of spec.services) for (const c of s.characteristics) this.chars.set(c.uuid, { service: s.uuid, c: new SimCharacteristic(c, this) })
  }

  characteristic(uuid: string): SimCharacteristic {
    const hit = this.chars.get(uuid)
    if (!hit) throw new RangeError(`sim peripheral ${this.address} has no characteristic ${uuid}`)
    return hit.c
  }

  async connectAsync(): Promise<void> {
    if (!this.inRange) throw new Error('Connection Failed to be Established (0x3e)')
    this.state = 'connected'
    this.connectCount++
    this.emit('connect')
  }

  async disconnectAsync(): Promise<void> {
    this.dropLink(HCI_LOCAL_HOST_TERMINATED)
  }

  async discoverSomeServicesAndCharacteristicsAsync(serviceUuids: string[], characteristicUuids: string[]): Promise<{ characteristics: SimCharacteristic[] }> {
    if (this.state !== 'connected') throw new Error('peripheral not connected')
    const characteristics: SimCharacteristic[] = []
    for (const [uuid, { service, c }] of this.chars) {
      if ((serviceUuids.length === 0 || serviceUuids.includes(service)) && (characteristicUuids.length === 0 || characteristicUuids.includes(uuid))) characteristics.push(c)
    }
    return { characteristics }
  }

  /** Ends the link from the device side (out of range, battery pulled): subscriptions are lost, as on a real link. */
  dropLink(reason: number = HCI_CONNECTION_TIMEOUT): void {
    if (this.state !== 'connected') return
    this.state = 'disconnected'
    for (const { c } of this.chars.values()) c.subscribed = false
    this.emit('disconnect', reason)
  }

  /** Moves the device out of (false) or back into (true) range; leaving range drops the link. */
  setInRange(inRange: boolean): void {
    this.inRange = inRange
    if (!inRange) this.dropLink(HCI_CONNECTION_TIMEOUT)
  }
}

/** The adapter: scanning emits 'discover' for every advertising peripheral every `advertisingIntervalMs`. */
export class SimRadio extends EventEmitter implements NobleLike {
  state: string = 'poweredOn'
  scanning = false
  private readonly peripherals = new Map<string, SimPeripheral>()
  private timer: NodeJS.Timeout | null = null

  constructor(private readonly advertisingIntervalMs = 20) {
    super()
  }

  add(p: SimPeripheral): SimPeripheral {
    this.peripherals.set(p.address, p)
    return p
  }

  async startScanningAsync(_serviceUuids?: string[], _allowDuplicates?: boolean): Promise<void> {
    if (this.state !== 'poweredOn') throw new Error(`Could not start scanning, state is ${this.state} (not poweredOn)`)
    if (this.scanning) return
    this.scanning = true
    this.emit('scanStart')
    this.timer = setInterval(() => this.advertise(), this.advertisingIntervalMs)
    this.timer.unref()
    queueMicrotask(() => this.advertise())
  }

  async stopScanningAsync(): Promise<void> {
    if (!this.scanning) return
    this.scanning = false
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    this.emit('scanStop')
  }

  /** Adapter power (e.g. rfkill): powering off drops every link. */
  setPowered(on: boolean): void {
    this.state = on ? 'poweredOn' : 'poweredOff'
    if (!on) {
      void this.stopScanningAsync()
      for (const p of this.peripherals.values()) p.dropLink(HCI_CONNECTION_TIMEOUT)
    }
    this.emit('stateChange', this.state)
  }

  private advertise(): void {
    if (!this.scanning) return
    for (const p of this.peripherals.values()) if (p.inRange && p.state === 'disconnected') this.emit('discover', p)
  }
}
