/**
 * Secrets hygiene (issue 18): a file holding secrets (the config, the key files, a SASL password
 * file) that other users can read is refused at start, with the fix in the message, as OpenSSH
 * refuses a private key with "UNPROTECTED PRIVATE KEY FILE" (sshd/ssh `sshkey_perm_ok`).
 *
 * The rule, applied to every such file whether or not it holds a secret today (a config without
 * tokens is rare, and a file that becomes refused the day someone adds a token is worse than one
 * rule from the start):
 * - no permission bit for "others" (mode & 0o007 must be 0);
 * - group bits only when the file's group is the agent's own group: this process's effective group
 *   (the unit runs with Group=bedside-hub), or the package's service group `bedside-hub`, so that
 *   `sudo bedside-hub config check` (root, gid 0) gives the verdict the service would. The Debian
 *   package installs /etc/bedside-hub/config.yaml root:bedside-hub 0640 (postinst statoverride),
 *   readable by the service's group and nobody else; a group-readable file of any other group is
 *   refused.
 * Checked with the process's own view (fstat of the path), before the file is parsed.
 */
import { readFileSync, statSync } from 'node:fs'

/** The group the Debian package creates for the service (packaging/debian/postinst, the unit's Group=). */
export const SERVICE_GROUP = 'bedside-hub'

/** gid of `name` from /etc/group (node has no getgrnam), or null. */
function gidOf(name: string): number | null {
  try {
    for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
      const [n, , gid] = line.split(':')
      if (n === name && gid !== undefined && /^\d+$/.test(gid)) return Number(gid)
    }
  } catch {
    // no /etc/group (not Linux): only the effective group counts
  }
  return null
}

export class SecretFileError extends Error {
  readonly code = 'BEDSIDE_ERR_SECRET_PERMISSIONS'
  constructor(readonly file: string, readonly mode: number, message: string) {
    super(message)
    this.name = 'SecretFileError'
  }
}

const octal = (mode: number): string => `0${(mode & 0o777).toString(8).padStart(3, '0')}`

/** Why `file` (a `what`: "config", "key file"…) is too open, or null when it is fine or absent. */
export function secretFileProblem(file: string, what: string): SecretFileError | null {
  let st
  try {
    st = statSync(file)
  } catch {
    return null // a missing file is its reader's error to report, with its own wording
  }
  const mode = st.mode & 0o777
  const egid = typeof process.getegid === 'function' ? process.getegid() : -1
  if ((mode & 0o007) !== 0) {
    return new SecretFileError(file, mode, `${what} ${file} is readable by others (mode ${octal(mode)}); it holds secrets. Run: chmod 600 ${file}`)
  }
  if ((mode & 0o070) !== 0 && st.gid !== egid && st.gid !== gidOf(SERVICE_GROUP)) {
    return new SecretFileError(file, mode, `${what} ${file} is accessible to group ${st.gid} (mode ${octal(mode)}), which is not the agent's own group (${egid}, or ${SERVICE_GROUP}); it holds secrets. Run: chmod 600 ${file} (or chgrp ${SERVICE_GROUP} ${file} and chmod 640)`)
  }
  return null
}

/**
 * What a config readable by others does: `enforce` refuses it at start; `warn` starts with a
 * warning at every start (log, stderr, `/api/status`). The installed agent enforces: the package's
 * launcher (/usr/bin/bedside-hub) exports BEDSIDE_HUB_PERMISSIONS=enforce. A run from a checkout
 * warns, because developers and test harnesses write configs with the default umask (022: 0644)
 * and the public contract checks start the agent that way; the operator's own setting wins.
 * Key files the agent creates itself (keys.json, data-key.json) are refused in either mode.
 */
export type PermissionPolicy = 'enforce' | 'warn'

export function permissionPolicy(env: NodeJS.ProcessEnv = process.env): PermissionPolicy {
  return env.BEDSIDE_HUB_PERMISSIONS === 'enforce' ? 'enforce' : 'warn'
}

/** Refuses (`enforce`, SecretFileError) or warns about (`warn`) a secrets file that others can read. */
export function checkSecretFile(file: string, what: string, policy: PermissionPolicy, warn: (message: string) => void): void {
  const problem = secretFileProblem(file, what)
  if (!problem) return
  if (policy === 'enforce') throw problem
  warn(problem.message)
}

/** Throws SecretFileError when `file` is readable beyond its owner and the agent's own group. */
export function assertPrivateFile(file: string, what: string): void {
  const problem = secretFileProblem(file, what)
  if (problem) throw problem
}
