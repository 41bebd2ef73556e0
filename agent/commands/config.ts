/** `bedside-hub config check FILE`: validate a config without starting anything; every error with its path. */
import { ConfigError, loadConfigFile } from '../config.js'
import { rulesConfigSchema } from '../rules/index.js'

export async function main(argv: string[]): Promise<number> {
  const [sub, file] = argv
  if (sub !== 'check' || !file) {
    process.stderr.write('usage: bedside-hub config check FILE\n')
    return 2
  }
  try {
    const cfg = loadConfigFile(file)
    const rules = rulesConfigSchema.safeParse(cfg.rules ?? {})
    if (!rules.success) throw new ConfigError(file, rules.error.issues.map((i) => `rules.${i.path.join('.')}: ${i.message}`))
    process.stdout.write(`${file}: ok (${cfg.beds.length} beds, ${cfg.beds.reduce((n, b) => n + b.devices.length, 0)} devices, cloud ${cfg.cloud ? 'on' : 'off'})\n`)
    return 0
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`)
      return 1
    }
    throw err
  }
}
