/**
 * The real radio: @stoprocent/noble, loaded only when a BLE device is configured, so that the agent
 * (and `bedside-hub decode`, and the demo ward) runs on a machine without Bluetooth or without the
 * native HCI socket module.
 */
import { BleError } from './ble-errors.js'
import type { NobleLike } from './noble-like.js'

export async function loadNoble(): Promise<NobleLike> {
  try {
    const mod = (await import('@stoprocent/noble')) as unknown as { default: NobleLike }
    return mod.default
  } catch (err) {
    throw new BleError('BEDSIDE_ERR_BLE_UNAVAILABLE', `cannot load the Bluetooth stack (@stoprocent/noble): ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  }
}
