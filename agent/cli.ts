#!/usr/bin/env node
/**
 * `bedside-hub`: the agent and its operator commands (DESIGN.md, CLI).
 * Each command lives in its own module under commands/ and is loaded on demand, so that
 * `bedside-hub decode` does not pay for loading Kafka, SQLite or the MQTT broker.
 */
import { onSupportedRuntime } from './runtime.js'
import { version } from './version.js'

type CommandModule = { main(argv: string[]): Promise<number> }

const commands: Record<string, { summary: string; load: () => Promise<CommandModule> }> = {
  run: { summary: 'run the agent (demo ward without --config)', load: () => import('./commands/run.js') },
  decode: { summary: 'decode one device payload: decode PROTOCOL HEX', load: () => import('./commands/decode.js') },
  qrs: { summary: 'detect R peaks in a WFDB record: qrs RECORD', load: () => import('./commands/qrs.js') },
  rhythm: { summary: 'rhythm episodes in a WFDB record: rhythm RECORD', load: () => import('./commands/rhythm.js') },
  config: { summary: 'config check FILE: validate a config file', load: () => import('./commands/config.js') },
  status: { summary: 'status [--config FILE | --url URL] [--json]: ask the running agent', load: () => import('./commands/status.js') },
  cloud: { summary: 'the cloud writer: cloud run|migrate [--config FILE]', load: () => import('../cloud/cli.js') },
  queue: { summary: 'queue [--config FILE] [--json]: unsynced records per topic, shed counts, last sync error', load: () => import('./commands/queue.js') },
  pair: { summary: 'pair scan|add|remove|list: BLE pairing (the allowlist beyond the config)', load: () => import('./commands/pair.js') },
  devices: { summary: 'devices [--config FILE] [--json]: configured and paired devices with their link state', load: () => import('./commands/devices.js') },
  keys: { summary: 'keys status|create|export|import|rekey: the site\'s pseudonym keys (one pseudonym per patient per hospital)', load: () => import('./commands/keys.js') },
  codes: { summary: 'codes [--json | --markdown]: the code dictionary of the wire schema (MDC and private codes, audit actions)', load: () => import('./commands/codes.js') },
  relink: { summary: 'relink PSEUDONYM [--config FILE]: which admission or device a pseudonym stands for', load: () => import('./commands/relink.js') },
}

function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`)
  return `usage: bedside-hub <command> [options]\n\ncommands:\n${lines.join('\n')}\n`
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === '--version' || name === '-v') {
    process.stdout.write(`bedside-hub ${version()}\n`)
    return 0
  }
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage())
    return name ? 0 : 2
  }
  const command = commands[name]
  if (!command) {
    process.stderr.write(`bedside-hub: unknown command "${name}"\n${usage()}`)
    return 2
  }
  return (await command.load()).main(rest)
}

if (onSupportedRuntime(process.argv.slice(2))) {
  main(process.argv.slice(2)).then(
    (code) => {
      // `run` keeps the process alive through its servers; other commands exit with their code.
      if (code >= 0) process.exitCode = code
    },
    (err: unknown) => {
      process.stderr.write(`bedside-hub: ${err instanceof Error ? err.message : String(err)}\n`)
      process.exitCode = 1
      // A command that failed half-way (e.g. `run` whose port is taken after the demo's emulators
      // started) may leave handles open: exit rather than hang, once stderr had time to drain.
      setTimeout(() => process.exit(1), 200)
    },
  )
}
