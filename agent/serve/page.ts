/**
 * The central-station page at GET / (issue 9): plain HTML, CSS and JS from `public/` next to this
 * module, read once at start-up. `npm run build` copies the folder into dist/ (scripts/copy-assets.mjs),
 * so the same code serves it from dist/ and, via tsx, from source. The page itself has no build step
 * and no bundler; the agent's bundle (scripts/bundle.mjs) reads it from dist/agent/serve/public/.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'

export interface StaticAsset {
  readonly contentType: string
  readonly body: Buffer
  /** Set on the stand-in page served when the dashboard files could not be read (logged by http.ts). */
  readonly error?: string
}

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
}

export class PageAssetsError extends Error {
  readonly code = 'BEDSIDE_ERR_PAGE_ASSETS'
}

/**
 * Reads every servable file of `dir` (default: `public/` beside this module), keyed by URL path.
 * Missing files do not stop the agent (alarms, ingest and the API matter more than the page): `/`
 * then answers with a stand-in that says what is wrong, and carries `error` for the log.
 */
export function loadPageAssets(dir = defaultPageDir()): ReadonlyMap<string, StaticAsset> {
  try {
    return readPageAssets(dir)
  } catch (err) {
    if (!(err instanceof PageAssetsError)) throw err
    const body = Buffer.from(`<!doctype html><meta charset="utf-8"><title>bedside-hub</title><h1>Central-station page unavailable</h1><p>${err.message.replace(/[<>&]/g, '')}</p><p>Alarms and the API at /api/alarms keep working.</p>`)
    return new Map([['/', { contentType: TYPES['.html']!, body, error: err.message }]])
  }
}

/** `public/` beside this module; in the bundle (scripts/bundle.mjs) this code sits in dist/agent/. */
function defaultPageDir(): string {
  const beside = fileURLToPath(new URL('./public/', import.meta.url))
  const bundled = fileURLToPath(new URL('./serve/public/', import.meta.url))
  return existsSync(beside) || !existsSync(bundled) ? beside : bundled
}

function readPageAssets(dir: string): ReadonlyMap<string, StaticAsset> {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch (err) {
    throw new PageAssetsError(`dashboard files not found in ${dir} (run npm run build): ${(err as Error).message}`)
  }
  const out = new Map<string, StaticAsset>()
  for (const name of names) {
    const type = TYPES[extname(name)]
    if (!type) continue
    const asset = { contentType: type, body: readFileSync(`${dir}/${name}`) }
    out.set(`/${name}`, asset)
    if (name === 'index.html') out.set('/', asset)
  }
  if (!out.has('/')) throw new PageAssetsError(`dashboard index.html missing in ${dir}`)
  return out
}
