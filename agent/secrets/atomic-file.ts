/**
 * Writes a small secret file so that a power cut leaves the old or the new content, never a torn
 * one: write a temporary file created 0600, fsync it, rename it over the target, fsync the
 * directory (the rename is durable only once the directory entry is; POSIX rename(2), ext4 docs).
 */
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'

export function writeFileAtomic0600(file: string, content: string): void {
  const tmp = `${file}.tmp`
  const fd = openSync(tmp, 'w', 0o600)
  try {
    writeSync(fd, content)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, file)
  const dirFd = openSync(dirname(file), 'r')
  try {
    fsyncSync(dirFd)
  } finally {
    closeSync(dirFd)
  }
}
