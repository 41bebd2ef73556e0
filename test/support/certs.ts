/**
 * Certificates made by openssl at test time into a temp dir (nothing committed), for the HTTPS and
 * MQTT-over-TLS tests (issue 18): P-256 keys, a CA, server leaves for 127.0.0.1/localhost, client
 * leaves whose subject CN is a device id, self-signed ones.
 */
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

export interface CertFiles { readonly cert: string; readonly key: string }

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' })
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']

/** A CA: `<name>.key`, `<name>.crt`; returns the certificate's path. */
export function makeCa(dir: string, name: string): string {
  openssl(['req', '-x509', ...EC, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`], dir)
  return join(dir, `${name}.crt`)
}

/** A leaf signed by CA `ca` (its name in `dir`) with subject CN `name`; negative `days` makes it expired. */
function signLeaf(dir: string, name: string, ca: string, days: number, ext: string): CertFiles {
  writeFileSync(join(dir, `${name}.ext`), ext)
  openssl(['req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir)
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', String(days), '-extfile', `${name}.ext`, '-out', `${name}.crt`], dir)
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) }
}

/** A server certificate for 127.0.0.1 and localhost signed by `ca`; negative `days` makes it expired. */
export function makeLeaf(dir: string, name: string, ca: string, days = 2): CertFiles {
  return signLeaf(dir, name, ca, days, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n')
}

/** A device (client) certificate signed by `ca` whose subject CN is `deviceId`. */
export function makeClientCert(dir: string, deviceId: string, ca: string, days = 2): CertFiles {
  return signLeaf(dir, deviceId, ca, days, 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n')
}

export function makeSelfSigned(dir: string, name: string): CertFiles {
  openssl(['req', '-x509', ...EC, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`, '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], dir)
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) }
}
