/**
 * `bedside-hub config check FILE`: validate a config without starting anything; every error with
 * its path, the `rules:` section's included even when the rest of the file is invalid too.
 * Exit 0 valid, 1 invalid, 2 usage. The packaged unit runs it as ExecStartPre.
 */
import { readFileSync } from 'node:fs'
import YAML from 'yaml'
import { ConfigError, loadConfigFile, type Config } from '../config.js'
import { rulesConfigSchema } from '../rules/index.js'

/** `rules.set[0].limit` from zod's path inside the rules section. */
function rulesPath(path: readonly (string | number)[]): string {
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : `${acc}.${p}`), 'rules')
}

function rulesProblems(rules: unknown): string[] {
  const r = rulesConfigSchema.safeParse(rules ?? {})
  return r.success ? [] : r.error.issues.map((i) => `${rulesPath(i.path)}: ${i.message}`)
}

/** The raw `rules:` section of a file the config schema refused (undefined when not even YAML). */
function rawRules(file: string): unknown {
  try {
    const doc = YAML.parse(readFileSync(file, 'utf8')) as { rules?: unknown } | null
    return doc?.rules
  } catch (err) {
    if (err instanceof Error) return undefined // unreadable or not YAML: loadConfigFile has said so
    throw err
  }
}

export async function main(argv: string[]): Promise<number> {
  const [sub, file] = argv
  if (sub !== 'check' || !file) {
    process.stderr.write('usage: bedside-hub config check FILE\n')
    return 2
  }
  let cfg: Readonly<Config> | null = null
  const problems: string[] = []
  try {
    cfg = loadConfigFile(file)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    problems.push(...err.problems)
  }
  problems.push(...rulesProblems(cfg ? cfg.rules : rawRules(file)))
  if (problems.length > 0 || !cfg) {
    process.stderr.write(`${new ConfigError(file, problems).message}\n`)
    return 1
  }
  process.stdout.write(`${file}: ok (${cfg.beds.length} beds, ${cfg.beds.reduce((n, b) => n + b.devices.length, 0)} devices, cloud ${cfg.cloud ? 'on' : 'off'})\n`)
  return 0
}
