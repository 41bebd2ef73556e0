/**
 * BLE decode throughput per protocol, in records/s (one payload at a time, as notifications
 * arrive), and the whole notification path of a connected driver (sim radio → Link → emit).
 * Run: npm run bench -- ble
 */
import { BleCentral, createBleDriver, StaticAllowlist } from '../drivers/ble/index.js'
import { GATT } from '../drivers/ble/gatt-uuids.js'
import { decodeHeartRateMeasurement } from '../drivers/ble/hrs.js'
import { decodeTemperatureMeasurement } from '../drivers/ble/hts.js'
import { decodeEcgFrame } from '../drivers/ble/pmd/ecg-frame.js'
import { decodePlxContinuous, decodePlxSpotCheck } from '../drivers/ble/plx.js'
import type { DeviceRecord } from '../drivers/records.js'
import type { DriverContext } from '../drivers/types.js'
import { encodeEcgFrame, SimPolarH10, SimRadio } from '../drivers/sim/ble/index.js'
import { opsPerSecond, type Bench, type BenchFigure } from './harness.js'

const hex = (s: string) => Buffer.from(s, 'hex')
const ctx = { deviceId: 'bench', hubTimeMs: 1_700_000_000_000, deviceSeq: 0 }

// Representative payloads: the worked examples with the most optional fields.
const ECG_FRAME = encodeEcgFrame(800_000_000_000_000_000n, Int32Array.from({ length: 73 }, (_, i) => (i * 37) % 2000 - 1000))
const HRS = hex('19960034120003')
const PLX_CONT = hex('1c62004800400000200020f0')
const PLX_SPOT = hex('0161004b00e807030f0e1e00')
const HTS = hex('06720100ffe807030f0e1e0002')
const CASES: Array<{ name: string; recordsPerPayload: number; decode: () => unknown }> = [
  { name: 'hrs', recordsPerPayload: 1, decode: () => decodeHeartRateMeasurement(HRS, ctx) },
  { name: 'plx-cont', recordsPerPayload: 2, decode: () => decodePlxContinuous(PLX_CONT, ctx) },
  { name: 'plx-spot', recordsPerPayload: 2, decode: () => decodePlxSpotCheck(PLX_SPOT, ctx) },
  { name: 'hts', recordsPerPayload: 1, decode: () => decodeTemperatureMeasurement(HTS, ctx) },
  { name: 'pmd-ecg', recordsPerPayload: 1, decode: () => decodeEcgFrame(ECG_FRAME, ctx, 799_999_999_438_461_540n) },
]

async function centralPath(): Promise<BenchFigure> {
  const radio = new SimRadio(5)
  const h10 = new SimPolarH10({ address: 'a0:9e:1a:00:00:01', frameIntervalMs: 3_600_000 })
  radio.add(h10.peripheral)
  const allow = new StaticAllowlist(['a0:9e:1a:00:00:01'])
  const central = new BleCentral(radio, allow)
  const driver = createBleDriver({ deviceId: 'bench', type: 'polar-pmd', address: 'a0:9e:1a:00:00:01' }, central, allow)
  let emitted = 0
  const sink: DriverContext = {
    signal: new AbortController().signal,
    emit: (_r: DeviceRecord) => void emitted++,
    status: () => undefined,
    reject: (reason) => { throw new Error(`bench payload rejected: ${reason}`) },
  }
  await driver.start(sink)
  const data = h10.peripheral.characteristic(GATT.PMD_DATA)
  const rate = opsPerSecond(() => data.notify(ECG_FRAME), 1)
  await driver.stop()
  h10.stop()
  await central.close()
  if (emitted === 0) throw new Error('central path emitted nothing')
  return { name: 'ble.central.pmd-ecg', value: rate, unit: 'records/s', note: `sim notification → Link → emit, 73-sample chunks (${Math.round(rate * 73).toLocaleString('en-US')} samples/s)` }
}

const bench: Bench = async () => {
  const figures: BenchFigure[] = CASES.map((c) => ({
    name: `ble.decode.${c.name}`,
    value: opsPerSecond(c.decode, c.recordsPerPayload),
    unit: 'records/s',
    note: `${c.recordsPerPayload} record(s) per payload`,
  }))
  figures.push(await centralPath())
  return figures
}
export default bench
