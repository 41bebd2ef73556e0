/**
 * Raw MQTT over TCP for tests of hostile clients: any source address on loopback (127.0.0.0/8 all
 * reach the agent on Linux), hand-made fixed headers, CONNECT without a client library's manners.
 */
import { connect, type Socket } from 'node:net'
import mqttPacket from 'mqtt-packet'

/** A fixed header [MQTT-2.2]: type/flags byte, then the remaining length, 7 bits per byte [MQTT-2.2.3]. */
export function fixedHeader(typeAndFlags: number, remainingLength: number): Buffer {
  const bytes = [typeAndFlags]
  let x = remainingLength
  do {
    let b = x % 128
    x = Math.floor(x / 128)
    if (x > 0) b |= 0x80
    bytes.push(b)
  } while (x > 0)
  return Buffer.from(bytes)
}

export function openSocket(port: number, localAddress = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', localAddress })
    s.once('connect', () => resolve(s))
    s.once('error', reject)
  })
}

/** Resolves with the ms until the peer closed `s` (or rejects after `timeoutMs`). */
export function closedWithin(s: Socket, timeoutMs: number): Promise<number> {
  const t0 = performance.now()
  return new Promise((resolve, reject) => {
    if (s.destroyed || s.readableEnded) return resolve(0)
    const timer = setTimeout(() => reject(new Error(`socket still open after ${timeoutMs} ms`)), timeoutMs)
    s.on('error', () => {})
    s.once('close', () => {
      clearTimeout(timer)
      resolve(performance.now() - t0)
    })
  })
}

export function connectPacket(o: { clientId: string; username?: string; password?: string }): Buffer {
  return mqttPacket.generate({
    cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 30,
    clientId: o.clientId, ...(o.username ? { username: o.username } : {}), ...(o.password ? { password: Buffer.from(o.password) } : {}),
  })
}

/**
 * CONNECT from `localAddress`; resolves with the CONNACK return code (0 accepted, 2 identifier
 * rejected, 4 bad username or password, 5 not authorized) or 'closed', and the socket (left open
 * when accepted).
 */
export async function rawConnect(port: number, o: { clientId: string; username?: string; password?: string; localAddress?: string }, timeoutMs = 3000): Promise<{ code: number | 'closed'; socket: Socket }> {
  const socket = await openSocket(port, o.localAddress)
  socket.on('error', () => {})
  const parser = mqttPacket.parser({ protocolVersion: 4 })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no CONNACK in ${timeoutMs} ms`)), timeoutMs)
    parser.on('packet', (p) => {
      if (p.cmd !== 'connack') return
      clearTimeout(timer)
      resolve({ code: p.returnCode ?? 0, socket })
    })
    socket.on('data', (b) => parser.parse(b))
    socket.once('close', () => {
      clearTimeout(timer)
      resolve({ code: 'closed', socket })
    })
    socket.write(connectPacket(o))
  })
}
