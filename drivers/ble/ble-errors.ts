/**
 * Typed BLE lifecycle errors with stable codes (STYLE.md §6). Decoding errors are DecodeError
 * (drivers/errors.ts); these are about the link, the allowlist and the device's answers.
 */
export type BleErrorCode =
  /** The configured address is not on the pairing allowlist: the hub never connects to it. */
  | 'BEDSIDE_ERR_BLE_NOT_ALLOWLISTED'
  /** The device needs a bonded (encrypted, authenticated) link that the noble HCI binding cannot make on Linux. */
  | 'BEDSIDE_ERR_BLE_BONDING_UNSUPPORTED'
  /** A GATT operation or the connection did not complete in time. */
  | 'BEDSIDE_ERR_BLE_TIMEOUT'
  /** The device lacks a characteristic its profile needs (wrong device type in the config?). */
  | 'BEDSIDE_ERR_BLE_MISSING_CHARACTERISTIC'
  /** The Polar PMD control point refused a command or answered something we cannot use. */
  | 'BEDSIDE_ERR_BLE_PMD'
  /** No Bluetooth adapter / noble could not be loaded. */
  | 'BEDSIDE_ERR_BLE_UNAVAILABLE'
  /** The configured device type has no BLE profile. */
  | 'BEDSIDE_ERR_BLE_CONFIG'

export class BleError extends Error {
  constructor(
    readonly code: BleErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
    this.name = 'BleError'
  }
}

/**
 * What an operator reads when a device needs bonding (also the README's text).
 * noble's hci-socket binding talks to the controller directly, bypassing BlueZ, so keys bonded
 * with bluetoothctl are not used, and its own SMP does only unauthenticated "Just Works"
 * encryption; peripheral.pair() reports "Pairing is not supported on this platform" off Windows.
 */
export const BONDING_UNSUPPORTED_TEXT =
  'this device requires a bonded (encrypted, authenticated) BLE link; the noble HCI binding used on Linux ' +
  'cannot bond (no LE Secure Connections pairing, and keys bonded through BlueZ/bluetoothctl are not shared with it). ' +
  'Use a device that streams without bonding, or disable bonding on the device if its maker allows it.'
