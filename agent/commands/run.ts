/**
 * `bedside-hub run [--config FILE]`: the agent. Without --config, the demo ward with embedded
 * defaults (no external service). Stops cleanly on SIGINT/SIGTERM. Under systemd it reports
 * readiness and feeds the watchdog (packaging/bedside-hub.service).
 */
import { execFile } from 'node:child_process'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { ConfigError, loadConfigFile, parseConfig } from '../config.js'
import { SecretFileError } from '../secrets/permissions.js'
import type { DemoWard } from '../demo.js'
import { startAgent } from '../agent.js'
import { urlOfListen } from './status.js'

/**
 * sd_notify(3) through systemd-notify(1): Node cannot write to the AF_UNIX datagram socket in
 * $NOTIFY_SOCKET and no binding is among our dependencies. The unit sets NotifyAccess=all so the
 * helper, a child in the service's cgroup, may speak for the agent; systemd-notify waits until
 * systemd has read the message (sd_notify_barrier, systemd >= 246; Debian 12 has 252), so a message
 * is not dropped when the helper exits before systemd looks up its cgroup. No-op outside systemd.
 */
function sdNotify(...assignments: string[]): void {
  if (!process.env.NOTIFY_SOCKET) return
  execFile('systemd-notify', assignments, { timeout: 5000 }, (err) => {
    if (err) process.stderr.write(`bedside-hub: systemd-notify ${assignments[0]} failed: ${err.message}\n`)
  })
}

/**
 * Feeds the systemd watchdog (WatchdogSec= in the unit) at half its period. The timer shares the
 * event loop with everything else, so a wedged loop stops the pings by itself; on top, each ping
 * needs the agent's own /healthz to answer 200 (store open) within the period. A connection-level
 * failure still pings: when the ward network goes down its address may leave the interface, and a
 * restart could then not bind it again, leaving the ward without alarms.
 */
function startWatchdog(healthUrl: string): NodeJS.Timeout | null {
  const usec = Number(process.env.WATCHDOG_USEC)
  const pid = process.env.WATCHDOG_PID
  if (!process.env.NOTIFY_SOCKET || !(usec > 0) || (pid && Number(pid) !== process.pid)) return null
  const periodMs = Math.max(1000, Math.floor(usec / 2000))
  const timer = setInterval(() => {
    probeHealth(healthUrl, periodMs).then(
      (status) => (status === 200 ? sdNotify('WATCHDOG=1') : process.stderr.write(`bedside-hub: watchdog: /healthz answered ${status}, not feeding the watchdog\n`)),
      (err: Error) => {
        const hung = err.name === 'TimeoutError' || err.name === 'AbortError'
        process.stderr.write(`bedside-hub: watchdog: /healthz ${hung ? `did not answer within ${periodMs} ms, not feeding the watchdog` : `unreachable (${(err.cause as Error | undefined)?.message ?? err.message}); feeding the watchdog anyway`}\n`)
        if (!hung) sdNotify('WATCHDOG=1')
      },
    )
  }, periodMs)
  timer.unref()
  return timer
}

/**
 * Status of GET `url`. Over HTTPS the certificate is not verified: this is the agent probing its own
 * liveness on its own address, with no token and no data, and a hospital CA the process does not
 * know (or a certificate that just expired) must not stop the watchdog from seeing a live agent.
 * node:http rather than fetch(): fetch loads undici, ~6 MB of resident memory for one request every
 * few seconds (BENCHMARKS.md, session 10); node:https is loaded only for an HTTPS listener. (The
 * schema registry client still uses fetch, where one is configured.)
 */
function probeHealth(url: string, timeoutMs: number): Promise<number> {
  const { get } = process.getBuiltinModule(url.startsWith('https:') ? 'node:https' : 'node:http')
  return new Promise((resolve, reject) => {
    const req = get(url, { rejectUnauthorized: false, agent: false, signal: AbortSignal.timeout(timeoutMs) }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('error', reject)
  })
}

/**
 * Start-up takes as long as the devices' first attempts (a BLE patch nobody wears holds it for its
 * 15-30 s connect timeout), so it grows with the ward. While it runs, ask systemd every 5 s for 20 s
 * more beyond TimeoutStartSec (EXTEND_TIMEOUT_USEC, systemd >= 236); after 10 minutes stop asking,
 * so a start-up that truly hangs still times out and is restarted.
 */
function extendStartWhile<T>(starting: Promise<T>): Promise<T> {
  if (!process.env.NOTIFY_SOCKET) return starting
  const sinceMs = Date.now()
  const timer = setInterval(() => {
    if (Date.now() - sinceMs < 600_000) sdNotify('EXTEND_TIMEOUT_USEC=20000000')
  }, 5000)
  return starting.finally(() => clearInterval(timer))
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' } }, strict: true })
  let cfg
  let demo: DemoWard | undefined
  try {
    if (values.config) cfg = loadConfigFile(values.config)
    else {
      // Imported only for the demo: its emulators and simulated radio are not part of a ward's agent.
      demo = await (await import('../demo.js')).prepareDemoWard(resolve('data/demo'))
      cfg = parseConfig(demo.config, '(embedded demo ward)')
    }
  } catch (err) {
    await demo?.stop()
    if (err instanceof ConfigError) {
      process.stderr.write(`bedside-hub: ${err.message}\n`)
      return 2
    }
    throw err
  }
  // A SIGTERM during a long start-up (absent patches) is remembered and honoured once the agent is up,
  // so the store is always closed cleanly.
  let early: string | null = null
  const onEarly = (signal: string) => () => (early = signal)
  const earlyInt = onEarly('SIGINT')
  const earlyTerm = onEarly('SIGTERM')
  process.once('SIGINT', earlyInt)
  process.once('SIGTERM', earlyTerm)
  const agent = await extendStartWhile(startAgent(cfg, { demo: demo !== undefined, simRadio: demo?.simRadio })).catch(async (err: unknown) => {
    await demo?.stop()
    throw err
  }).catch((err: unknown) => {
    // Issue 18: a key file readable by others is an operator's fix, like a bad config: exit 2.
    if (!(err instanceof SecretFileError)) throw err
    process.stderr.write(`bedside-hub: ${err.message}\n`)
    return null
  })
  if (!agent) return 2
  const base = urlOfListen(cfg.http.listen, cfg.http.tls !== undefined).replace(/:\d+$/, `:${agent.httpPort}`)
  const watchdog = startWatchdog(`${base}/healthz`)
  sdNotify('--ready', `--status=serving ${base}, MQTT port ${agent.mqttPort}`)
  if (demo) {
    for (const note of demo.notes) process.stderr.write(`demo: ${note}\n`)
    process.stderr.write(`demo ward running: open http://127.0.0.1:${agent.httpPort}/ (MQTT on 127.0.0.1:${agent.mqttPort}); Ctrl-C stops it\n`)
    // The demo keeps its zero set-up: the page asks for a token (issue 18), and this is the demo's own.
    for (const t of cfg.http.tokens) process.stderr.write(`demo ward: sign in on the page with the token "${t.token}" (role ${t.role})\n`)
  }
  let stopping = false
  let exitCode = 0
  const stop = (signal: string, code = 0) => {
    // A failure during a stop already under way (the last fsync) still makes the exit code 1.
    exitCode = Math.max(exitCode, code)
    if (stopping) return
    stopping = true
    process.stderr.write(`bedside-hub: ${signal}, stopping\n`)
    if (watchdog) clearInterval(watchdog)
    sdNotify('STOPPING=1')
    agent.stop().then(() => demo?.stop()).then(() => process.exit(exitCode), (err: Error) => {
      process.stderr.write(`bedside-hub: stop failed: ${err.message}\n`)
      process.exit(1)
    })
  }
  process.off('SIGINT', earlyInt)
  process.off('SIGTERM', earlyTerm)
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))
  // The store can no longer make records durable: exit 1, so that the service manager restarts us.
  agent.onFatal((err) => stop(`store failed (${err.message})`, 1))
  if (early) stop(early)
  return -1 // keep running
}
