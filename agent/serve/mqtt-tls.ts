/**
 * MQTT over TLS (issue 18): the transport and the device identity a client certificate proves.
 *
 * MQTT 3.1.1 leaves the privacy of packets (§5.4.5), the client's authentication of the server
 * (§5.4.3) and, if wanted, the server's of the client (§5.4.1: by the client's certificate) to
 * TLS; IANA registers 8883/tcp "secure-mqtt" (1883 for plain MQTT). The server certificate and its
 * reloading are tls.ts' (the same files and rules as HTTPS).
 *
 * The TCP listener stays a net.Server and the guard (mqtt-guard.ts) admits each TCP socket before
 * its handshake: a tls.Server listening itself would hand sockets over only after the handshake,
 * out of reach of the caps and the connect timeout. The socket is then injected into a tls.Server
 * made with the reloader's options (`emit('connection')`, as Node documents for net.Server), which
 * does the handshake, verifies client certificates and sets `authorized`, and gets a renewed
 * certificate from the reloader (`attach`) without a restart.
 *
 * Client certificates: with `client_certs: optional|require` and a CA, a device may prove its id
 * with a certificate that CA signed, its subject CN being the configured device id (RFC 5280
 * §4.1.2.6 subject; the CN attribute, not a SAN, because hospital CAs and device provisioning
 * tools fill CN by default and a device id is neither a host name nor a URI). `require` makes
 * OpenSSL refuse a client without a valid certificate during the handshake
 * (SSL_VERIFY_FAIL_IF_NO_PEER_CERT); `optional` lets it fall back to its password.
 *
 * Lifecycle: `MqttTls.open()` reads the files (throws TlsError on a bad set); `accept(socket)` per
 * admitted TCP socket, `onSecure` gets the TLS socket after its handshake, `onFailed` a failed
 * handshake; `deviceOf(stream)` once per CONNECT (never per publish); `close()` stops the file
 * polling and closes connections still in their handshake.
 */
import type { Socket } from 'node:net'
import type { Server as TlsServer, TLSSocket } from 'node:tls'
import type { Logger } from 'pino'
import { createTlsOptionsReloader, type TlsReloader } from './tls.js'

export type ClientCertMode = 'off' | 'optional' | 'require'

/** Config `mqtt.tls`, paths of PEM files. */
export interface MqttTlsConfig {
  readonly cert: string
  readonly key: string
  readonly ca?: string
  readonly client_certs: ClientCertMode
}

export interface TlsHandlers {
  /** The handshake of admitted TCP `socket` completed: `stream` is the TLS socket to serve. */
  onSecure(socket: Socket, stream: TLSSocket): void
  /** A handshake failed (the connection is closed). */
  onFailed(err: Error, source: string): void
}

/** "address:port" of a connection: the same for the TCP socket and the TLS socket on it. */
function peerKey(s: Socket): string {
  return `${s.remoteAddress}:${s.remotePort}`
}

export class MqttTls {
  /** TCP sockets in their handshake, by peer: how the TLS socket finds its TCP socket (Node exposes no public link). */
  private readonly handshaking = new Map<string, Socket>()

  private constructor(
    private readonly reloader: TlsReloader,
    private readonly server: TlsServer,
    private readonly mode: ClientCertMode,
  ) {}

  /** Loads the certificate set now (a misconfigured agent does not start) and polls it for renewals. */
  static open(cfg: MqttTlsConfig, log: Logger, handlers: TlsHandlers, opts: { pollMs?: number } = {}): MqttTls {
    // The reloader's `requestCert` means "refuse clients without one" (require); optional is set here.
    const reloader = createTlsOptionsReloader({ cert: cfg.cert, key: cfg.key, ...(cfg.ca ? { ca: cfg.ca } : {}), requestCert: cfg.client_certs === 'require' }, log, opts)
    // node:tls on first use only (serve/tls.ts says why)
    const server = process.getBuiltinModule('node:tls').createServer({ ...reloader.options, requestCert: cfg.client_certs !== 'off', rejectUnauthorized: cfg.client_certs === 'require' })
    reloader.attach(server)
    const tls = new MqttTls(reloader, server, cfg.client_certs)
    server.on('secureConnection', (stream: TLSSocket) => tls.secured(stream, handlers.onSecure))
    // A failed handshake: plaintext MQTT, an untrusted or missing certificate under require, TLS < 1.2.
    server.on('tlsClientError', (err: Error, stream: TLSSocket) => {
      handlers.onFailed(err, stream.remoteAddress ?? 'unknown')
      stream.destroy()
    })
    return tls
  }

  /** Starts the handshake on an admitted TCP socket. */
  accept(socket: Socket): void {
    const key = peerKey(socket)
    this.handshaking.set(key, socket)
    socket.once('close', () => {
      if (this.handshaking.get(key) === socket) this.handshaking.delete(key)
    })
    this.server.emit('connection', socket)
  }

  private secured(stream: TLSSocket, onSecure: TlsHandlers['onSecure']): void {
    const key = peerKey(stream)
    const socket = this.handshaking.get(key)
    this.handshaking.delete(key)
    if (socket) onSecure(socket, stream)
    else stream.destroy()
  }

  /**
   * The configured device id the connection's client certificate names, if the CA verified it;
   * null without a certificate, with one the CA did not sign, or one naming no device.
   */
  deviceOf(stream: Socket, isDevice: (id: string) => boolean): string | null {
    if (this.mode === 'off' || !(stream instanceof process.getBuiltinModule('node:tls').TLSSocket) || !stream.authorized) return null
    const cn = stream.getPeerCertificate().subject?.CN
    // A subject may carry several CNs (RFC 5280 allows repeated attributes): ambiguous, not a device.
    return typeof cn === 'string' && isDevice(cn) ? cn : null
  }

  /** Stops the file polling and closes connections still in their handshake (their timers stop with the guard). */
  close(): void {
    this.reloader.close()
    for (const socket of this.handshaking.values()) socket.destroy()
    this.handshaking.clear()
  }
}
