/**
 * `bedside-hub codes [--json | --markdown]`: the code dictionary published with the wire schema
 * (agent/sync/code-dictionary.ts). `--json` is proto/bedside/v1/codes.json, `--markdown` docs/codes.md.
 * Exit 0, or 2 on a usage error.
 */
import { parseArgs } from 'node:util'
import { codeDictionaryJson, codeDictionaryMarkdown } from '../sync/code-dictionary.js'

export async function main(argv: string[]): Promise<number> {
  let values: { json?: boolean; markdown?: boolean }
  try {
    values = parseArgs({ args: argv, options: { json: { type: 'boolean' }, markdown: { type: 'boolean' } }, strict: true }).values
  } catch (err) {
    process.stderr.write(`codes: ${(err as Error).message}\nusage: bedside-hub codes [--json | --markdown]\n`)
    return 2
  }
  process.stdout.write(values.markdown && !values.json ? codeDictionaryMarkdown() : codeDictionaryJson())
  return 0
}
