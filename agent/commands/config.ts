/**
 * `bedside-hub config check FILE`: validate a config without starting anything; every error with
 * its path, the `rules:` section's included even when the rest of the file is invalid too.
 * Exit 0 valid, 1 invalid, 2 usage or a secrets file readable by others (issue 18: the config
 * itself, a SASL password file, a TLS client key; the agent would refuse to start with it, so the
 * check says so too, with the chmod that fixes it, and still validates the content).
 * The packaged unit runs it as ExecStartPre.
 */
import { readFileSync } from 'node:fs'
import YAML from 'yaml'
import { ConfigError, loadConfigFile, type Config } from '../config.js'
import { rulesConfigSchema } from '../rules/index.js'
import { secretFileProblem } from '../secrets/permissions.js'

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

/** Files the config names that hold secrets (issue 18): refused by the agent when readable by others. */
function secretFiles(cfg: Readonly<Config>): [file: string, what: string][] {
  const k = cfg.cloud?.kafka
  const out: [string, string][] = []
  if (k?.sasl?.password_file) out.push([k.sasl.password_file, 'cloud.kafka.sasl.password_file'])
  if (k?.ssl?.key_file) out.push([k.ssl.key_file, 'cloud.kafka.ssl.key_file'])
  return out
}

export async function main(argv: string[]): Promise<number> {
  const [sub, file] = argv
  if (sub !== 'check' || !file) {
    process.stderr.write('usage: bedside-hub config check FILE\n')
    return 2
  }
  let cfg: Readonly<Config> | null = null
  const problems: string[] = []
  const exposed = [secretFileProblem(file, 'config')]
  try {
    cfg = loadConfigFile(file, { checkPermissions: false })
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    problems.push(...err.problems)
  }
  problems.push(...rulesProblems(cfg ? cfg.rules : rawRules(file)))
  if (cfg) exposed.push(...secretFiles(cfg).map(([f, what]) => secretFileProblem(f, what)))
  const refused = exposed.filter((e) => e !== null)
  if (refused.length > 0) {
    process.stderr.write(`${[...refused.map((e) => e.message), ...(problems.length ? [new ConfigError(file, problems).message] : [])].join('\n')}\n`)
    return 2
  }
  if (problems.length > 0 || !cfg) {
    process.stderr.write(`${new ConfigError(file, problems).message}\n`)
    return 1
  }
  process.stdout.write(`${file}: ok (${cfg.beds.length} beds, ${cfg.beds.reduce((n, b) => n + b.devices.length, 0)} devices, cloud ${cfg.cloud ? 'on' : 'off'})\n`)
  return 0
}
