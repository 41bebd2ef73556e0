/**
 * `bedside-hub run [--config FILE]`: the agent. Without --config, the demo ward with embedded
 * defaults (no external service). Stops cleanly on SIGINT/SIGTERM.
 */
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { ConfigError, loadConfigFile, parseConfig } from '../config.js'
import { demoConfigDocument } from '../demo.js'
import { startAgent } from '../agent.js'

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' } }, strict: true })
  let cfg
  try {
    cfg = values.config ? loadConfigFile(values.config) : parseConfig(demoConfigDocument(resolve('data/demo')), '(embedded demo ward)')
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`bedside-hub: ${err.message}\n`)
      return 2
    }
    throw err
  }
  const agent = await startAgent(cfg, { demo: !values.config })
  if (!values.config) process.stderr.write(`demo ward running: open http://127.0.0.1:${agent.httpPort}/ (MQTT on 127.0.0.1:${agent.mqttPort}); Ctrl-C stops it\n`)
  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    process.stderr.write(`bedside-hub: ${signal}, stopping\n`)
    agent.stop().then(() => process.exit(0), (err: Error) => {
      process.stderr.write(`bedside-hub: stop failed: ${err.message}\n`)
      process.exit(1)
    })
  }
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))
  return -1 // keep running
}
