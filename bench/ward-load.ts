/**
 * Load of a simulated 64-bed ward over MQTT for the memory benchmark: per bed, ECG at 250 Hz in
 * 10 chunks/s and 5 numerics once a second, for DURATION_S seconds.
 * usage: node --import tsx bench/ward-load.ts URL BEDS DURATION_S
 */
import mqtt from 'mqtt'

const [url, beds, durationS] = [process.argv[2]!, Number(process.argv[3]), Number(process.argv[4])]
const RATE_HZ = 250
const CHUNKS_PER_S = 10
const PER_CHUNK = RATE_HZ / CHUNKS_PER_S

/** A plausible ECG-like wave in µV: a sharp R peak once a second on a small baseline wander. */
function ecgUv(t: number): number {
  const phase = t % 1
  return Math.round(1200 * Math.exp(-((phase - 0.3) ** 2) / 0.0002) + 80 * Math.sin(2 * Math.PI * 0.3 * t))
}

const clients = await Promise.all(Array.from({ length: beds }, (_, i) => mqtt.connectAsync(url, { username: `mon-${i}`, password: `secret-of-mon-${i}`, reconnectPeriod: 0 })))
const start = Date.now()
let tick = 0
const timer = setInterval(() => {
  const nowMs = start + tick * (1000 / CHUNKS_PER_S)
  for (let i = 0; i < beds; i++) {
    const samples = Array.from({ length: PER_CHUNK }, (_, k) => ecgUv((tick * PER_CHUNK + k) / RATE_HZ + i * 0.07))
    clients[i]!.publish(`bedside/v1/devices/mon-${i}/wave`, JSON.stringify({ code: 'MDC_ECG_ELEC_POTL_II', rate: RATE_HZ, t0: nowMs, seq: tick, samples }), { qos: 1 })
    if (tick % CHUNKS_PER_S === 0) {
      const obs = [['MDC_PULS_OXIM_SAT_O2', 97, '%'], ['MDC_RESP_RATE', 15, '/min'], ['MDC_TEMP_BODY', 36.8, 'Cel'], ['MDC_PRESS_BLD_NONINV_SYS', 120, 'mm[Hg]'], ['MDC_PRESS_BLD_NONINV_DIA', 80, 'mm[Hg]']].map(([code, value, unit]) => ({ code, value, unit }))
      clients[i]!.publish(`bedside/v1/devices/mon-${i}/obs`, JSON.stringify({ ts: nowMs, seq: tick, obs }), { qos: 1 })
    }
  }
  tick++
  if (Date.now() - start > durationS * 1000) {
    clearInterval(timer)
    for (const c of clients) c.end()
  }
}, 1000 / CHUNKS_PER_S)
