/**
 * The demo ward's simulated BLE radio on its own, for `bedside-hub pair scan --radio sim`: the same
 * patches as the demo ward plus an unpaired oximeter and thermometer, so pairing can be tried and
 * tested without Bluetooth hardware.
 */
import { createSimBleWard, type SimBleWard } from '../drivers/sim/ble/index.js'

export function demoRadio(): SimBleWard {
  return createSimBleWard([
    { bed: 'demo-01', patch: 'a0:9e:1a:00:00:01', heartRateBpm: 72 },
    { bed: 'demo-02', patch: 'a0:9e:1a:00:00:02', heartRateBpm: 64, oximeter: 'c0:ff:ee:00:00:02' },
    { bed: 'demo-03', thermometer: 'c0:ff:ee:00:00:03' },
  ])
}
