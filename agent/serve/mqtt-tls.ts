/**
 * MQTT over TLS (issue 18): the transport and the device identity a client certificate proves.
 *
 * MQTT 3.1.1 leaves the privacy of packets (§5.4.5), the client's authentication of the server
 * (§5.4.3) and, if wanted, the server's of the client (§5.4.1, "the Client's TLS certificate") to
 * TLS; IANA registers 8883/tcp "secure-mqtt" (1883 for plain MQTT). The server certificate and its
 * reloading are tls.ts' (the same files and rules as HTTPS).
 *
 * Why not tls.createServer: it hands a socket over only after the handshake, so the listener
 * limits (mqtt-guard.ts: total and per-source caps, connect timeout) would not see sockets that
 * stall or flood the handshake. The listener stays a net.Server; the guard admits the TCP socket,
 * and `wrap` below puts the TLS layer on it with the context current at accept (a renewed
 * certificate is served to every connection after the reload, without a restart).
 *
 * Client certificates: with `client_certs: optional|require` and a CA, a device may prove its id
 * with a certificate that CA signed, its subject CN being the configured device id (RFC 5280
 * §4.1.2.6 subject; the CN attribute, not a SAN, because hospital CAs and device provisioning
 * tools fill CN by default and a device id is neither a host name nor a URI). `require` makes
 * OpenSSL refuse a client without a valid certificate during the handshake
 * (SSL_VERIFY_FAIL_IF_NO_PEER_CERT); `optional` lets it fall back to its password.
 *
 * Lifecycle: `MqttTls.open()` reads the files (throws TlsError on a bad set), `wrap(socket)` per
 * accepted socket, `deviceOf(stream)` once per CONNECT (never per publish), `close()` stops the
 * file polling.
 */
import type { Socket } from 'node:net'
import { TLSSocket } from 'node:tls'
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

export const MQTT_TLS_PORT = 8883
export const MQTT_PLAIN_PORT = 1883

export class MqttTls {
  private constructor(
    private readonly reloader: TlsReloader,
    private readonly mode: ClientCertMode,
  ) {}

  /** Loads the certificate set now (a misconfigured agent does not start) and polls it for renewals. */
  static open(cfg: MqttTlsConfig, log: Logger, opts: { pollMs?: number } = {}): MqttTls {
    const requestCert = cfg.client_certs !== 'off'
    const reloader = createTlsOptionsReloader({ cert: cfg.cert, key: cfg.key, ...(cfg.ca ? { ca: cfg.ca } : {}), requestCert }, log, opts)
    return new MqttTls(reloader, cfg.client_certs)
  }

  /** The server side of TLS on an accepted TCP socket; handshake errors are passed to `onError` once. */
  wrap(socket: Socket, onError: (err: Error) => void): TLSSocket {
    const tls = new TLSSocket(socket, {
      isServer: true,
      secureContext: this.reloader.current(),
      requestCert: this.mode !== 'off',
      rejectUnauthorized: this.mode === 'require',
    })
    // Before 'secure': a failed handshake (plaintext MQTT, an untrusted or missing client
    // certificate under `require`, TLS < 1.2). Later errors are aedes' (it listens as well).
    const failed = (err: Error) => onError(err)
    tls.once('error', failed)
    tls.once('secure', () => tls.off('error', failed))
    return tls
  }

  /**
   * The configured device id the connection's client certificate names, if the CA verified it;
   * null without a certificate, with one the CA did not sign, or one naming no device.
   */
  deviceOf(stream: Socket, isDevice: (id: string) => boolean): string | null {
    if (this.mode === 'off' || !(stream instanceof TLSSocket) || !stream.authorized) return null
    const cn = stream.getPeerCertificate().subject?.CN
    // A subject may carry several CNs (RFC 5280 allows repeated attributes): ambiguous, not a device.
    return typeof cn === 'string' && isDevice(cn) ? cn : null
  }

  /** Renewed files are checked now (the poll does the same); true when a new certificate was loaded. */
  check(): boolean {
    return this.reloader.check()
  }

  close(): void {
    this.reloader.close()
  }
}
