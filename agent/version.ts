/**
 * The version from the nearest package.json above this module: `dist/agent/version.js` in a build
 * or the .deb (/usr/lib/bedside-hub/package.json), `agent/version.ts` when run from source with tsx.
 */
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

let cached: string | undefined

export function version(): string {
  if (cached) return cached
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const file = join(dir, 'package.json')
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string }
      if (pkg.name === 'bedside-hub' && pkg.version) return (cached = pkg.version)
    }
    const parent = dirname(dir)
    if (parent === dir) throw new Error('cannot find the package.json of bedside-hub above ' + fileURLToPath(import.meta.url))
    dir = parent
  }
}
