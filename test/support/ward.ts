/**
 * A test ward: N beds with one MQTT monitor each (planted serial numbers), patients with planted
 * MRNs and names, and real MQTT clients publishing QoS 1 observations.
 */
import mqtt from 'mqtt'

export const planted = {
  mrn: (i: number) => `MRN-PLANT-4711-${i}`,
  name: (i: number) => `Zebulon Plantagenet ${i}`,
  birthDate: (i: number) => `1931-0${1 + (i % 9)}-1${i % 10}`,
  serial: (i: number) => `SN-PLANT-0099-${i}`,
}
export const deviceId = (i: number) => `mon-${i}`
export const bedId = (i: number) => `bed-${i}`
export const secret = (i: number) => `secret-of-mon-${i}`

export function wardBeds(n: number): unknown[] {
  return Array.from({ length: n }, (_, i) => ({ id: bedId(i), devices: [{ id: deviceId(i), type: 'mqtt', secret: secret(i), serial: planted.serial(i) }] }))
}

export async function admitAll(http: string, n: number, token = 'test-nurse-token'): Promise<void> {
  for (let i = 0; i < n; i++) {
    const r = await fetch(`${http}/api/admissions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ bed_id: bedId(i), mrn: planted.mrn(i), name: planted.name(i), birth_date: planted.birthDate(i) }),
    })
    if (r.status !== 201) throw new Error(`admission of bed ${i} failed: ${r.status} ${await r.text()}`)
  }
}

export async function connectDevice(url: string, i: number): Promise<mqtt.MqttClient> {
  return mqtt.connectAsync(url, { username: deviceId(i), password: secret(i), clientId: `${deviceId(i)}-${Math.random().toString(36).slice(2, 8)}`, reconnectPeriod: 0, protocolVersion: 4 })
}

const CODES = ['MDC_ECG_HEART_RATE', 'MDC_PULS_OXIM_SAT_O2', 'MDC_RESP_RATE', 'MDC_TEMP_BODY', 'MDC_PULS_OXIM_PULS_RATE'] as const
const UNITS = ['/min', '%', '/min', 'Cel', '/min'] as const
const NORMAL = [76, 97, 15, 36.8, 76] as const

/**
 * Publishes `count` observations from device i (QoS 1), `perMessage` per message, with message
 * seq numbers from `firstSeq`; resolves when every PUBACK arrived. Values stay in normal range.
 */
export async function publishObservations(client: mqtt.MqttClient, i: number, count: number, opts: { firstSeq: number; perMessage: number; startMs: number; window?: number }): Promise<number> {
  const topic = `bedside/v1/devices/${deviceId(i)}/obs`
  let sent = 0
  let seq = opts.firstSeq
  const window = opts.window ?? 32
  let inflight: Promise<unknown>[] = []
  while (sent < count) {
    const n = Math.min(opts.perMessage, count - sent)
    const obs = Array.from({ length: n }, (_, k) => {
      const c = (sent + k) % CODES.length
      return { code: CODES[c], value: NORMAL[c], unit: UNITS[c] }
    })
    const ts = opts.startMs + seq * 1000
    inflight.push(client.publishAsync(topic, JSON.stringify({ ts, seq, obs }), { qos: 1 }))
    seq++
    sent += n
    if (inflight.length >= window) {
      await Promise.all(inflight)
      inflight = []
    }
  }
  await Promise.all(inflight)
  return seq
}
