/**
 * Who may connect to an HL7 listener: MLLP has no login, so the sender's address is the check
 * (the allow_from of an hl7-tcp device). Addresses and CIDR ranges, IPv4 and IPv6; an IPv4
 * client on a dual-stack socket (::ffff:10.0.0.5) is checked as its IPv4 address.
 */
import { BlockList, isIP } from 'node:net'
import { z } from 'zod'

/** "10.20.0.15", "10.20.4.0/24", "fd00::/8". */
export function isAddressOrCidr(s: string): boolean {
  const slash = s.indexOf('/')
  const address = slash < 0 ? s : s.slice(0, slash)
  const family = isIP(address)
  if (family === 0) return false
  if (slash < 0) return true
  const bits = s.slice(slash + 1)
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128)
}

/** One allow_from entry of the config; a /0 range allows everyone, which is `insecure: true` said plainly. */
export const allowFromEntry = z.string()
  .refine(isAddressOrCidr, 'must be an IP address or a CIDR range, e.g. "10.20.4.0/24"')
  .refine((s) => !/\/0+$/.test(s), 'a /0 range allows every address: set insecure: true instead, knowingly')

/** The address as written in config: an IPv4 client of a dual-stack listener (::ffff:10.0.0.5) as its IPv4 address. */
export function plainAddress(remoteAddress: string | undefined): string {
  const a = remoteAddress ?? ''
  return a.startsWith('::ffff:') && isIP(a.slice(7)) === 4 ? a.slice(7) : a
}

export class SourceAllowlist {
  private readonly list = new BlockList()

  constructor(entries: readonly string[]) {
    for (const e of entries) {
      const slash = e.indexOf('/')
      const address = slash < 0 ? e : e.slice(0, slash)
      const type = isIP(address) === 6 ? 'ipv6' : 'ipv4'
      if (slash < 0) this.list.addAddress(address, type)
      else this.list.addSubnet(address, Number(e.slice(slash + 1)), type)
    }
  }

  allows(remoteAddress: string | undefined): boolean {
    if (!remoteAddress) return false
    const a = plainAddress(remoteAddress)
    return this.list.check(a, isIP(a) === 6 ? 'ipv6' : 'ipv4')
  }
}
