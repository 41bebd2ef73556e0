/**
 * Limits on the MQTT listener that act before aedes and mqtt-packet see a byte (issue 16).
 *
 * aedes 1.2 reads a connection with `conn.read()` on 'readable' and hands every chunk to
 * mqtt-packet, which buffers a packet until all of its announced remaining length has arrived: up
 * to 256 MB [MQTT-2.2.3], whether or not the client has sent a CONNECT. The guard sits in that read
 * call: it follows the packet boundaries in the byte stream (fixed header only: type byte, then the
 * remaining length in 1 to 4 bytes) and destroys the connection as soon as one announces more than
 * the maximum, so at most one socket read (≤ 64 KiB) of such a packet is ever held.
 *
 * Connections: a total cap (descriptors), and connections that have not yet authenticated
 * ("pending") are counted apart: at most `maxPendingPerSource` from one address (more are refused),
 * at most `maxPending` in all (the oldest pending one is dropped for a new one, so a flood of
 * anonymous sockets from many addresses cannot keep a device that logs in within milliseconds
 * out), each for at most `connectTimeoutMs`, and each may send at most `maxPacketBytes` before it
 * has authenticated. An authenticated connection leaves the pending pool: configured devices are
 * bounded by the total cap only.
 *
 * Lifecycle: `admit(socket)` on every accepted socket (false: already closed and counted),
 * `authenticated(stream)` once its CONNECT was accepted, `stop()` clears the timers. No per-message
 * allocation: the state of a connection is allocated once, at accept.
 *
 * TLS (issue 18): `admit(socket, { tls: true })` puts the caps and the timer on the TCP socket at
 * accept, before any handshake, so sockets that stall or flood the handshake are bounded like
 * plain ones; `adopt(socket, tlsSocket)` after the handshake puts the size guard on the decrypted
 * stream aedes reads (the TLS layer reads the TCP handle itself, not through `socket.read`).
 */
import type { Socket } from 'node:net'

/** Reasons of `bedside_mqtt_refused_total{reason}` (names may grow, never change). */
export type RefusalReason =
  | 'packet-too-large' | 'malformed-header' | 'unauthenticated-bytes'
  | 'connections-total' | 'connections-per-source' | 'connections-pending' | 'connect-timeout'
  | 'client-id-taken' | 'login-throttled' | 'bad-login' | 'retained' | 'subscribe-denied' | 'publish-denied'
  | 'tls-handshake' | 'cert-mismatch' // issue 18
  | 'connections-per-identity'

export interface GuardLimits {
  readonly maxPacketBytes: number
  readonly maxConnections: number
  readonly maxPending: number
  readonly maxPendingPerSource: number
  readonly connectTimeoutMs: number
}

/**
 * Follows MQTT packet boundaries through a byte stream from the fixed header alone [MQTT-2.2]:
 * one type/flags byte, then the remaining length, 7 bits per byte, least significant group first,
 * continuation in bit 7, at most 4 bytes [MQTT-2.2.3]. Pure; no allocation per chunk.
 */
export class PacketBoundaries {
  /** Body bytes of the current packet still to skip. */
  private skip = 0
  /** 0: expecting a type byte; 1..4: reading remaining-length byte n. */
  private state = 0
  private length = 0
  private multiplier = 1

  constructor(private readonly maxPacketBytes: number) {}

  /** 0 when every header in `buf` is within the maximum; else the refusal (announced length too large, or malformed). */
  feed(buf: Uint8Array): 0 | 'packet-too-large' | 'malformed-header' {
    let i = 0
    const n = buf.length
    while (i < n) {
      if (this.skip > 0) {
        const take = Math.min(this.skip, n - i)
        this.skip -= take
        i += take
        continue
      }
      const b = buf[i++]!
      if (this.state === 0) {
        this.state = 1
        this.length = 0
        this.multiplier = 1
        continue
      }
      this.length += (b & 0x7f) * this.multiplier
      if (this.length > this.maxPacketBytes) return 'packet-too-large'
      if ((b & 0x80) === 0) {
        this.skip = this.length
        this.state = 0
      } else if (++this.state > 4) return 'malformed-header' // [MQTT-2.2.3]: at most four length bytes
      else this.multiplier *= 128
    }
    return 0
  }
}

interface Conn {
  /** The accepted TCP socket. */
  readonly socket: Socket
  /** What aedes reads: the socket itself, or the TLS socket on it once adopted. */
  stream: Socket
  readonly source: string
  readonly boundaries: PacketBoundaries
  pending: boolean
  /** Bytes read while pending. */
  preAuthBytes: number
  timer: NodeJS.Timeout | null
}

export class ConnectionGuard {
  private total = 0
  /** Insertion order = age: the first is the oldest pending connection. */
  private readonly pending = new Set<Conn>()
  private readonly pendingBySource = new Map<string, number>()
  private readonly conns = new WeakMap<Socket, Conn>()

  constructor(
    private readonly limits: GuardLimits,
    private readonly refused: (reason: RefusalReason, source: string) => void,
  ) {}

  get connections(): number {
    return this.total
  }

  get pendingConnections(): number {
    return this.pending.size
  }

  /** Takes a newly accepted socket under the limits; false when it was refused (destroyed, counted). With `tls`, reads are guarded once `adopt` names the TLS socket. */
  admit(socket: Socket, opts: { tls?: boolean } = {}): boolean {
    const source = socket.remoteAddress ?? 'unknown'
    if (this.total >= this.limits.maxConnections) return this.refuse(socket, 'connections-total', source)
    if ((this.pendingBySource.get(source) ?? 0) >= this.limits.maxPendingPerSource) return this.refuse(socket, 'connections-per-source', source)
    if (this.pending.size >= this.limits.maxPending) {
      const oldest = this.pending.values().next().value!
      this.drop(oldest, 'connections-pending')
    }
    const conn: Conn = { socket, stream: socket, source, boundaries: new PacketBoundaries(this.limits.maxPacketBytes), pending: true, preAuthBytes: 0, timer: null }
    this.conns.set(socket, conn)
    this.total++
    this.pending.add(conn)
    this.pendingBySource.set(source, (this.pendingBySource.get(source) ?? 0) + 1)
    // A socket that has not logged in within the timeout is closed: aedes' own timer (30 s by
    // default) would hold a descriptor per silent socket that long.
    conn.timer = setTimeout(() => this.drop(conn, 'connect-timeout'), this.limits.connectTimeoutMs)
    conn.timer.unref()
    // The TCP socket emits 'close' also under TLS, whichever side ends it (checked on Node 24).
    socket.once('close', () => this.closed(conn))
    if (!opts.tls) this.guardReads(conn)
    return true
  }

  /** The handshake on admitted `socket` completed: `tlsSocket` is what aedes reads from now on; false when the connection is gone already. */
  adopt(socket: Socket, tlsSocket: Socket): boolean {
    const conn = this.conns.get(socket)
    if (!conn || socket.destroyed) return tlsSocket.destroy(), false
    conn.stream = tlsSocket
    this.conns.set(tlsSocket, conn)
    this.guardReads(conn)
    return true
  }

  /** The connection of `stream` (the admitted socket, or the TLS socket adopted for it) had its CONNECT accepted: it leaves the pending pool and its timer. */
  authenticated(stream: Socket): void {
    const conn = this.conns.get(stream)
    if (conn?.pending) this.unpend(conn)
  }

  /** The source address of an admitted socket or an adopted TLS socket. */
  sourceOf(socket: Socket): string {
    return this.conns.get(socket)?.source ?? socket.remoteAddress ?? 'unknown'
  }

  stop(): void {
    for (const c of this.pending) if (c.timer) clearTimeout(c.timer)
  }

  /**
   * Checks every chunk aedes reads before mqtt-packet buffers it. aedes only ever takes data with
   * `conn.read()` (no 'data' listener), so wrapping that one call of this socket sees every byte.
   */
  private guardReads(conn: Conn): void {
    const socket = conn.stream
    const read = socket.read
    socket.read = (size?: number): unknown => {
      const buf: unknown = read.call(socket, size)
      if (buf === null || !(buf instanceof Uint8Array)) return buf
      if (conn.pending) {
        conn.preAuthBytes += buf.length
        if (conn.preAuthBytes > this.limits.maxPacketBytes) return this.drop(conn, 'unauthenticated-bytes'), null
      }
      const verdict = conn.boundaries.feed(buf)
      if (verdict !== 0) return this.drop(conn, verdict), null
      return buf
    }
  }

  private refuse(socket: Socket, reason: RefusalReason, source: string): false {
    this.refused(reason, source)
    socket.destroy()
    return false
  }

  private drop(conn: Conn, reason: RefusalReason): void {
    if (conn.socket.destroyed || conn.stream.destroyed) return // already going away
    if (conn.pending) this.unpend(conn) // its slot is free now, not when 'close' comes
    this.refused(reason, conn.source)
    conn.stream.destroy()
    conn.socket.destroy()
  }

  private unpend(conn: Conn): void {
    conn.pending = false
    if (conn.timer) clearTimeout(conn.timer)
    conn.timer = null
    this.pending.delete(conn)
    const n = (this.pendingBySource.get(conn.source) ?? 1) - 1
    if (n <= 0) this.pendingBySource.delete(conn.source)
    else this.pendingBySource.set(conn.source, n)
  }

  private closed(conn: Conn): void {
    if (conn.pending) this.unpend(conn)
    this.total--
  }
}
