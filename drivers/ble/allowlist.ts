/**
 * Pairing allowlist: the hub connects only to addresses on it (issue 3, "Pairing"). The agent's
 * store implements this interface for paired devices; StaticAllowlist serves configs and tests.
 */
import { normalizeAddress } from './noble-like.js'

export interface Allowlist {
  /** True when the hub may connect to `address` (noble form, lowercase `aa:bb:…`). Called before every connect. */
  has(address: string): boolean
}

export class StaticAllowlist implements Allowlist {
  private readonly addresses = new Set<string>()
  constructor(addresses: Iterable<string> = []) {
    for (const a of addresses) this.add(a)
  }
  has(address: string): boolean {
    return this.addresses.has(normalizeAddress(address))
  }
  add(address: string): void {
    this.addresses.add(normalizeAddress(address))
  }
  remove(address: string): void {
    this.addresses.delete(normalizeAddress(address))
  }
}
