/**
 * A real MQTT client process for the ingest benchmark: DEVICES clients publish MESSAGES QoS 1
 * messages of OBS observations each, with up to WINDOW unacknowledged per client, and print the
 * elapsed milliseconds once every PUBACK has arrived, then the wall-clock ms of the start (for a
 * bench that times the same load further down the line, bench/e2e.bench.ts) and the CPU ms this
 * process used (user + system: whether the load generator itself was the bound).
 * usage: node --import tsx bench/mqtt-publisher.ts URL DEVICES MESSAGES OBS WINDOW [MESSAGES_PER_S_PER_DEVICE]
 * With the last argument, each client paces itself to that message rate (background load).
 */
import mqtt from 'mqtt'

const [url, devices, messages, obsPer, window, ratePerS] = [process.argv[2]!, ...process.argv.slice(3, 8).map(Number)] as [string, number, number, number, number, number | undefined]

const OBS_JSON = JSON.stringify(Array.from({ length: obsPer }, (_, k) => ({ code: k % 2 ? 'MDC_PULS_OXIM_SAT_O2' : 'MDC_ECG_HEART_RATE', value: k % 2 ? 97 : 76, unit: k % 2 ? '%' : '/min' })))

async function device(i: number): Promise<void> {
  const c = await mqtt.connectAsync(url, { username: `mon-${i}`, password: `secret-of-mon-${i}`, clientId: `bench-${i}`, reconnectPeriod: 0 })
  const topic = `bedside/v1/devices/mon-${i}/obs`
  // Device time advances 100 ms per message and ends about now: within the agent's 10-minute
  // clock-drift bound, so the figure is that of ordinary records, not of re-timed ones.
  const stepMs = Math.min(100, 500_000 / messages)
  const t0 = Date.now() - messages * stepMs
  let inflight: Promise<unknown>[] = []
  for (let m = 0; m < messages; m++) {
    // The same bytes as JSON.stringify({ ts, seq, obs }), without serializing the 100 observations
    // again per message: the publisher must not be what bounds the raw limit.
    inflight.push(c.publishAsync(topic, `{"ts":${Math.round(t0 + m * stepMs)},"seq":${m + 1},"obs":${OBS_JSON}}`, { qos: 1 }))
    if (inflight.length >= window) {
      await Promise.all(inflight)
      inflight = []
    }
    if (ratePerS) {
      const due = start + ((m + 1) * 1000) / ratePerS
      const wait = due - Date.now()
      if (wait > 0) await new Promise((r) => setTimeout(r, wait))
    }
  }
  await Promise.all(inflight)
  await c.endAsync()
}

const start = Date.now()
await Promise.all(Array.from({ length: devices }, (_, i) => device(i)))
const cpu = process.cpuUsage()
console.log(`${Date.now() - start} ${start} ${Math.round((cpu.user + cpu.system) / 1000)}`)
