/**
 * `bedside-hub config check FILE`: validate a config without starting anything; every error with
 * its path (the `rules:` section's among them: it is part of the one config schema).
 * Exit 0 valid, 1 invalid, 2 usage. The packaged unit runs it as ExecStartPre.
 */
import { ConfigError, loadConfigFile, type Config } from '../config.js'

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
  if (problems.length > 0 || !cfg) {
    process.stderr.write(`${new ConfigError(file, problems).message}\n`)
    return 1
  }
  process.stdout.write(`${file}: ok (${cfg.beds.length} beds, ${cfg.beds.reduce((n, b) => n + b.devices.length, 0)} devices, cloud ${cfg.cloud ? 'on' : 'off'})\n`)
  return 0
}
