/**
 * One connection to one peripheral: discovered characteristics, subscriptions, GATT operations
 * with a timeout, and the path from a notification to `DriverContext.emit`. A Link lives from
 * connect to disconnect; the driver makes a new one for every reconnect (device-driver.ts).
 *
 * Hot path: one 'data' listener per subscribed characteristic (set up once per connection), one
 * reused DecodeContext, no per-notification closures.
 */
import { isDecodeError } from '../errors.js'
import type { DeviceRecord } from '../records.js'
import type { DeviceCondition, DeviceSequence, DriverContext } from '../types.js'
import { BleError, BONDING_UNSUPPORTED_TEXT } from './ble-errors.js'
import type { DecodeContext } from './decode-context.js'
import type { CharacteristicLike, PeripheralLike } from './noble-like.js'

/** The per-device state that outlives a connection (the device's association). */
export interface DeviceState {
  readonly deviceId: string
  /** The device's sequence numbers (the agent's, shared with the ECG analysis; continues across reconnects). */
  seq: DeviceSequence
  lastDataMs: number
}

type DataHandler = (data: Buffer) => void

const HCI_REASONS: Record<number, string> = {
  0x08: 'link supervision timeout (device out of range or switched off)',
  0x13: 'device closed the connection',
  0x16: 'hub closed the connection',
  0x3e: 'connection failed to be established',
}

export function disconnectCause(reason: unknown): string {
  if (typeof reason === 'number') return HCI_REASONS[reason] ?? `HCI status 0x${reason.toString(16).padStart(2, '0')}`
  return typeof reason === 'string' && reason.length > 0 ? reason : 'link lost'
}

export class Link {
  /** Resolves with the cause when the link goes down, for whatever reason. */
  readonly closed: Promise<string>
  private readonly chars = new Map<string, CharacteristicLike>()
  private readonly subscriptions: Array<{ c: CharacteristicLike; listener: (data: Buffer) => void }> = []
  private readonly decodeCtx: { deviceId: string; hubTimeMs: number; deviceSeq: number }
  private up = true
  private onDisconnect!: (reason: unknown) => void

  constructor(
    readonly peripheral: PeripheralLike,
    readonly ctx: DriverContext,
    readonly device: DeviceState,
    readonly gattTimeoutMs: number,
    readonly nowMs: () => number,
  ) {
    this.decodeCtx = { deviceId: device.deviceId, hubTimeMs: 0, deviceSeq: 0 }
    this.closed = new Promise((resolve) => {
      this.onDisconnect = (reason: unknown) => {
        this.up = false
        this.detach()
        resolve(disconnectCause(reason))
      }
    })
    peripheral.on('disconnect', this.onDisconnect)
  }

  get isUp(): boolean {
    return this.up
  }

  async discover(serviceUuids: readonly string[], characteristicUuids: readonly string[]): Promise<void> {
    const found = await this.gatt('service discovery', this.peripheral.discoverSomeServicesAndCharacteristicsAsync([...serviceUuids], [...characteristicUuids]))
    for (const c of found.characteristics) this.chars.set(c.uuid, c)
  }

  characteristic(uuid: string): CharacteristicLike | undefined {
    return this.chars.get(uuid)
  }

  require(uuid: string, what: string): CharacteristicLike {
    const c = this.chars.get(uuid)
    if (!c) throw new BleError('BEDSIDE_ERR_BLE_MISSING_CHARACTERISTIC', `${this.device.deviceId}: device has no ${what} characteristic (${uuid}); is the configured device type right?`)
    return c
  }

  /**
   * Runs one GATT operation with the link's timeout. A timeout on an attribute read or subscribe is
   * how a device that demands bonding shows itself on noble's hci-socket binding (it never answers),
   * so that message names the bonding limit too.
   */
  async gatt<T>(what: string, op: Promise<T>, mayNeedBonding = false): Promise<T> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const hint = mayNeedBonding ? `; if the device requires bonding: ${BONDING_UNSUPPORTED_TEXT}` : ''
        reject(new BleError('BEDSIDE_ERR_BLE_TIMEOUT', `${this.device.deviceId}: ${what} did not complete within ${this.gattTimeoutMs} ms${hint}`))
      }, this.gattTimeoutMs)
    })
    try {
      return await Promise.race([op, timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  /** Subscribes (CCCD notify/indicate) and routes every 'data' event to `handler`; close() undoes it. */
  async subscribe(c: CharacteristicLike, what: string, handler: DataHandler): Promise<void> {
    const listener = (data: Buffer) => this.handle(handler, data)
    c.on('data', listener)
    this.subscriptions.push({ c, listener })
    await this.gatt(`subscribe to ${what}`, c.subscribeAsync(), true)
  }

  /** Decode context for the payload being handled now (one reused object). */
  context(): DecodeContext {
    this.decodeCtx.hubTimeMs = this.nowMs()
    this.decodeCtx.deviceSeq = this.device.seq.nextSeq
    return this.decodeCtx
  }

  emit(record: DeviceRecord): void {
    this.device.seq.nextSeq++
    this.ctx.emit(record)
  }

  emitAll(records: readonly DeviceRecord[]): void {
    for (let i = 0; i < records.length; i++) this.emit(records[i])
  }

  condition(c: DeviceCondition | null): void {
    if (c) this.ctx.condition?.(c)
  }

  /** A battery level reading, 0–100 % (Battery Level 0x2A19). */
  battery(pct: number): void {
    this.ctx.battery?.(pct)
  }

  /** Unsubscribes everything (CCCD back to 0: the device as it was) and disconnects. Best effort: the link may already be gone. */
  async close(): Promise<void> {
    if (this.up) {
      for (const { c } of this.subscriptions) await this.gatt('unsubscribe', c.unsubscribeAsync()).catch((err) => this.ctx.reject('ble-teardown', errorText(err)))
      await this.gatt('disconnect', this.peripheral.disconnectAsync()).catch((err) => this.ctx.reject('ble-teardown', errorText(err)))
    }
    this.detach()
  }

  /** Gives up on this connection (the driver will reconnect): counted, then disconnected. */
  fail(reason: string, err: unknown): void {
    this.ctx.reject(reason, errorText(err))
    this.peripheral.disconnectAsync().catch((e) => this.ctx.reject('ble-teardown', errorText(e)))
  }

  /** Runs `handler` on one payload; a malformed payload is counted, never thrown (also for plain reads). */
  handle(handler: DataHandler, data: Buffer): void {
    this.device.lastDataMs = this.nowMs()
    try {
      handler(data)
    } catch (err) {
      // Malformed payloads never stop the stream (DESIGN.md): counted with their stable reason.
      if (isDecodeError(err)) this.ctx.reject(`${err.protocol}:${err.reason}`, err.message)
      else this.ctx.reject('ble-handler-error', errorText(err))
    }
  }

  private detach(): void {
    for (const { c, listener } of this.subscriptions) c.removeListener('data', listener)
    this.subscriptions.length = 0
    this.peripheral.removeListener('disconnect', this.onDisconnect)
  }
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
