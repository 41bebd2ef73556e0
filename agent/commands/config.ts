/**
 * `bedside-hub config check FILE`: validate a config without starting anything; every error with
 * its path (the `rules:` section's among them: it is part of the one config schema).
 * Exit 0 valid, 1 invalid, 2 usage or a secrets file readable by others (issue 18: the config
 * itself, a SASL password file, a TLS client key; the agent would refuse to start with it, so the
 * check says so too, with the chmod that fixes it, and still validates the content).
 * The packaged unit runs it as ExecStartPre.
 */
import { ConfigError, loadConfigFile, type Config } from '../config.js'
import { secretFileProblem } from '../secrets/permissions.js'

/** Files the config names that hold secrets (issue 18): refused by the agent when readable by others. */
function secretFiles(cfg: Readonly<Config>): [file: string, what: string][] {
  const k = cfg.cloud?.kafka
  const out: [string, string][] = []
  if (k?.sasl?.password_file) out.push([k.sasl.password_file, 'cloud.kafka.sasl.password_file'])
  if (k?.ssl?.key_file) out.push([k.ssl.key_file, 'cloud.kafka.ssl.key_file'])
  if (cfg.http.tls) out.push([cfg.http.tls.key, 'http.tls.key'])
  if (cfg.mqtt.tls) out.push([cfg.mqtt.tls.key, 'mqtt.tls.key'])
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
