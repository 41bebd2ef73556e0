/**
 * `bedside-hub decode PROTOCOL HEX`: decode one device payload and print one JSON object.
 * Exit 0 on success; exit 2 with one line on stderr naming what is wrong (DESIGN.md, CLI).
 */
import { payloadDecoders } from '../../drivers/decoders.js'
import '../../drivers/register.js'

export function parseHex(text: string): Buffer {
  const clean = text.replace(/[\s:]/g, '').replace(/^0x/i, '')
  if (clean.length === 0) throw new Error('empty payload')
  if (clean.length % 2 !== 0) throw new Error(`odd number of hex digits (${clean.length})`)
  if (!/^[0-9a-fA-F]*$/.test(clean)) throw new Error('payload is not hexadecimal')
  return Buffer.from(clean, 'hex')
}

export async function main(argv: string[]): Promise<number> {
  const [protocol, ...hexParts] = argv
  const known = Object.keys(payloadDecoders).sort().join(', ')
  if (!protocol || hexParts.length === 0) {
    process.stderr.write(`usage: bedside-hub decode PROTOCOL HEX (PROTOCOL: ${known})\n`)
    return 2
  }
  const decode = payloadDecoders[protocol]
  if (!decode) {
    process.stderr.write(`decode: unknown protocol "${protocol}" (known: ${known})\n`)
    return 2
  }
  try {
    const out = decode(parseHex(hexParts.join('')))
    process.stdout.write(JSON.stringify(out) + '\n')
    return 0
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err)
    process.stderr.write(`decode ${protocol}: ${msg.split('\n')[0]}\n`)
    return 2
  }
}
