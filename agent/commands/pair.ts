/**
 * `bedside-hub pair`: BLE pairing for hospital IT (issue 3).
 *   pair scan [--seconds N] [--radio hci|sim]      nearby devices: address, name, RSSI, services, type
 *   pair add ADDRESS --bed BED [--type T] [--id ID] [--by NAME]
 *   pair remove ADDRESS
 *   pair list
 * Every form takes --config FILE (default /etc/bedside-hub/config.yaml). Pairings live in the
 * agent's store; the running agent picks them up within seconds and audits them. Devices that are on
 * neither the config nor the pairing list are never connected.
 */
import { parseArgs } from 'node:util'
import { ConfigError, loadConfigFile, type Config } from '../config.js'
import { openDatabase } from '../store/db.js'
import { BLE_TYPES, normalizeBleAddress, Pairings, type BleType } from '../store/pairings.js'
import { PACKAGED_CONFIG } from './status.js'

const USAGE = `usage: bedside-hub pair scan [--seconds N] [--radio hci|sim] [--config FILE]
       bedside-hub pair add ADDRESS --bed BED [--type ${BLE_TYPES.join('|')}] [--id ID] [--by NAME] [--config FILE]
       bedside-hub pair remove ADDRESS [--config FILE]
       bedside-hub pair list [--config FILE]
`

class UsageError extends Error {}

function fail(message: string): never {
  throw new UsageError(message)
}

async function scan(seconds: number, radio: string, cfg: Readonly<Config>, pairings: Pairings): Promise<string> {
  const ble = await import('../../drivers/ble/index.js')
  const sim = radio === 'sim' ? (await import('../demo-radio.js')).demoRadio() : null
  const binding = sim ? sim.radio : await ble.loadNoble()
  const paired = new Set(pairings.list().map((p) => p.address))
  const configured = new Set(cfg.beds.flatMap((b) => b.devices.flatMap((d) => ('address' in d ? [d.address.toLowerCase()] : []))))
  const central = new ble.BleCentral(binding, { has: (a) => paired.has(a) || configured.has(a) })
  try {
    const found = await central.scan(seconds * 1000, AbortSignal.timeout(seconds * 1000 + 15_000))
    const rows = found.sort((a, b) => (b.rssi ?? -999) - (a.rssi ?? -999)).map((r) =>
      [r.address, r.localName ?? '-', r.rssi === null ? '-' : `${r.rssi} dBm`, r.supportedType ?? 'unsupported', r.allowlisted ? 'paired' : '-', r.serviceUuids.join(',')].join('\t'))
    return ['address\tname\trssi\ttype\tstate\tservices', ...rows].join('\n') + `\n${found.length} device(s) seen in ${seconds} s\n`
  } finally {
    await central.close()
    sim?.stop()
  }
}

export async function main(argv: string[]): Promise<number> {
  let values, positionals
  try {
    ;({ values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { config: { type: 'string' }, seconds: { type: 'string' }, radio: { type: 'string' }, bed: { type: 'string' }, type: { type: 'string' }, id: { type: 'string' }, by: { type: 'string' } } }))
  } catch (err) {
    process.stderr.write(`pair: ${(err as Error).message}\n${USAGE}`)
    return 2
  }
  const [sub, address] = positionals
  let db
  try {
    const cfg = loadConfigFile(values.config ?? PACKAGED_CONFIG)
    db = openDatabase(cfg.hub.data_dir)
    const pairings = new Pairings(db)
    switch (sub) {
      case 'scan': {
        const seconds = Number(values.seconds ?? 10)
        if (!(seconds > 0 && seconds <= 120)) fail('--seconds must be between 1 and 120')
        process.stdout.write(await scan(seconds, values.radio ?? 'hci', cfg, pairings))
        return 0
      }
      case 'add': {
        if (!address) fail('pair add needs an ADDRESS')
        const addr = normalizeBleAddress(address)
        const bed = values.bed ?? fail('pair add needs --bed BED')
        if (!cfg.beds.some((b) => b.id === bed)) fail(`--bed: unknown bed "${bed}" (beds: ${cfg.beds.map((b) => b.id).join(', ')})`)
        const type = (values.type ?? 'polar-pmd') as BleType
        if (!BLE_TYPES.includes(type)) fail(`--type must be one of ${BLE_TYPES.join(', ')}`)
        const id = values.id ?? `${type}-${addr.slice(-5).replace(':', '')}`
        if (cfg.beds.some((b) => b.devices.some((d) => d.id === id))) fail(`--id: "${id}" is already a configured device`)
        pairings.add({ address: addr, deviceId: id, deviceType: type, bedId: bed, addedMs: Date.now(), addedBy: values.by ?? process.env.SUDO_USER ?? process.env.USER ?? 'operator' })
        process.stdout.write(`paired ${addr} as ${id} (${type}) to bed ${bed}; the running agent connects it within 5 s\n`)
        return 0
      }
      case 'remove': {
        if (!address) fail('pair remove needs an ADDRESS')
        if (!pairings.remove(address)) fail(`${address} is not paired`)
        process.stdout.write(`removed ${normalizeBleAddress(address)}; the running agent disconnects it within 5 s\n`)
        return 0
      }
      case 'list': {
        const rows = pairings.list().map((p) => [p.address, p.deviceId, p.deviceType, p.bedId, new Date(p.addedMs).toISOString(), p.addedBy].join('\t'))
        process.stdout.write(['address\tdevice\ttype\tbed\tadded\tby', ...rows].join('\n') + '\n')
        return 0
      }
      default:
        process.stderr.write(USAGE)
        return 2
    }
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError || err instanceof RangeError) {
      process.stderr.write(`pair: ${err.message}\n`)
      return 2
    }
    process.stderr.write(`pair: ${(err as Error).message}\n`)
    return 1
  } finally {
    db?.close()
  }
}
