/**
 * The subset of @stoprocent/noble that the central uses, as structural types. The real noble
 * instance satisfies them (see noble-binding.ts), and so does the simulated radio in
 * drivers/sim/ble, which is how the central is tested on a machine without Bluetooth.
 *
 * Conventions follow noble: UUIDs are lowercase hex without dashes ('180d',
 * 'fb005c8102e7f3871cad8acd2d8df0c8'); addresses are lowercase 'aa:bb:cc:dd:ee:ff'.
 */

type Listener = (...args: any[]) => void

export interface EmitterLike {
  on(event: string, listener: Listener): unknown
  removeListener(event: string, listener: Listener): unknown
}

export interface CharacteristicLike extends EmitterLike {
  readonly uuid: string
  readonly properties: readonly string[]
  readAsync(): Promise<Buffer>
  writeAsync(data: Buffer, withoutResponse: boolean): Promise<void>
  /** Enables notifications or indications (CCCD `01 00` / `02 00`, protocols.md §1.1). */
  subscribeAsync(): Promise<void>
  unsubscribeAsync(): Promise<void>
  // 'data' (data: Buffer, isNotification: boolean)
}

export interface PeripheralLike extends EmitterLike {
  readonly id: string
  readonly address: string
  readonly state: string
  readonly advertisement: { readonly localName?: string; readonly serviceUuids?: readonly string[] }
  /** Signal strength of the last advertisement, dBm (noble: Peripheral.rssi). */
  readonly rssi?: number
  connectAsync(): Promise<void>
  /** Abandons a pending connect (noble: Peripheral.cancelConnect). */
  cancelConnect?(): void
  disconnectAsync(): Promise<void>
  discoverSomeServicesAndCharacteristicsAsync(
    serviceUuids: string[],
    characteristicUuids: string[],
  ): Promise<{ characteristics: readonly CharacteristicLike[] }>
  // 'disconnect' (reason: number | string)
}

export interface NobleLike extends EmitterLike {
  /** 'poweredOn' when the adapter can scan and connect. */
  readonly state: string
  startScanningAsync(serviceUuids?: string[], allowDuplicates?: boolean): Promise<void>
  stopScanningAsync(): Promise<void>
  // 'stateChange' (state: string), 'discover' (peripheral: PeripheralLike)
}

/** Normalises a configured address to noble's form. */
export function normalizeAddress(address: string): string {
  return address.trim().toLowerCase().replace(/-/g, ':')
}

/** 16-bit SIG UUID or 128-bit vendor UUID → noble's form (lowercase, no dashes). */
export function nobleUuid(uuid: string): string {
  return uuid.toLowerCase().replace(/-/g, '')
}
