/**
 * The group commit's fsync on the libuv thread pool instead of the event loop (issue 23, "both
 * cores"; config `store.commit_fsync: background`).
 *
 * With synchronous=FULL, SQLite fsyncs the WAL inside COMMIT: 1.4–2.4 ms here (milliseconds more on
 * a gateway's eMMC) during which the one thread that parses MQTT, runs the alarm rules and encodes
 * for Kafka does nothing. Under issue 23's loads that was 11–20 % of the agent's time. Instead the
 * group commit's transaction runs with synchronous=NORMAL (its frames go to the WAL file, no fsync)
 * and this module fsyncs the WAL file on a pool thread; the event loop parses the next messages
 * meanwhile, and the next batch's frames are written while the previous fsync runs (one fsync in
 * flight at a time; each covers every frame written before it was issued).
 *
 * What "durable" means is unchanged: an acknowledgement waits for the fsync that covers its frames,
 * exactly what FULL's fsync inside COMMIT gave. SQLite's WAL recovery keeps a commit only with every
 * frame before it (checksums chain the frames), so a power cut keeps a prefix of the commits, and
 * every commit whose fsync completed is in that prefix. Records that are committed but not yet
 * fsynced must not leave the gateway (Kafka, HL7): after a power cut their hub_seqs would be given
 * to other records. So every reader that sends records out is bounded to `durableSeq` (outbox.ts,
 * pcd-sources.ts).
 *
 * One file descriptor for the WAL, opened once and kept: Linux reports a writeback error to the
 * descriptors open when it happened, so a descriptor opened per fsync could miss an error of a
 * write-back that ran before it. The WAL file keeps its inode while the store is open (SQLite
 * truncates it and rewrites it in place; it deletes it only when the last connection closes).
 *
 * At open the WAL is fsynced once before anything in it is trusted (`syncWalAtOpen`): a process
 * killed between a COMMIT and its fsync leaves frames that the next one reads as committed, but
 * that sit in the page cache only.
 *
 * A failed fsync is final: after it the kernel may have dropped the dirty pages (and marked them
 * clean), so no later fsync can say what reached the disk. The committer then refuses every batch
 * and the agent stops (agent.ts); SQLite's recovery on the next start decides what was kept, and
 * nothing after the last good fsync was acknowledged or sent.
 */
import { closeSync, fsync as fsFsync, fsyncSync, openSync } from 'node:fs'
import type { Db } from './db.js'

/**
 * The WAL file SQLite really uses: beside the main file as SQLite resolved it (a symlinked
 * `bedside.db` has its WAL beside the target), or null for an in-memory or non-WAL database.
 */
export function walPathOf(db: Db): string | null {
  if (db.memory || String(db.pragma('journal_mode', { simple: true })).toLowerCase() !== 'wal') return null
  const main = (db.pragma('database_list') as { name: string; file: string }[]).find((d) => d.name === 'main')?.file
  return main ? `${main}-wal` : null
}

/**
 * Fsyncs the WAL once, synchronously, before anything of the store is trusted as durable: a
 * process that died between a COMMIT and its background fsync left frames that are in the page
 * cache only; this process reads them back as committed and would otherwise send them on.
 * Throws when the fsync fails (the store must not open then).
 */
export function syncWalAtOpen(db: Db): void {
  const path = walPathOf(db)
  if (path === null) return
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch {
    return // no WAL file: nothing was committed past the main file
  }
  try {
    fsyncSync(fd)
  } catch (err) {
    throw new Error(`BEDSIDE_ERR_STORE_IO: fsync of ${path} at start failed: ${(err as Error).message}`, { cause: err })
  } finally {
    closeSync(fd)
  }
}

export type CommitFsyncMode = 'background' | 'inline'

/** `fs.fsync`'s shape, so tests can hold an fsync or fail it. */
export type FsyncFn = (fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => void

export class WalFsync {
  private inFlight = false
  /** Highest hub_seq written (or settled) that the next fsync must cover. */
  private wanted = 0
  private closing = false

  private constructor(
    readonly path: string,
    private readonly fd: number,
    private readonly done: (upTo: number, err: Error | null) => void,
    private readonly fsync: FsyncFn,
  ) {}

  /**
   * The WAL of `db`, or null when the database has none to sync (in memory, not in WAL mode): the
   * committer then keeps FULL's fsync inside COMMIT.
   */
  static open(db: Db, done: (upTo: number, err: Error | null) => void, fsync: FsyncFn = fsFsync): WalFsync | null {
    const path = walPathOf(db)
    if (path === null) return null
    let fd: number
    try {
      fd = openSync(path, 'r')
    } catch {
      return null // no WAL file yet (nothing written): FULL inside COMMIT is the safe choice
    }
    return new WalFsync(path, fd, done, fsync)
  }

  /** Frames up to `upTo` (a hub_seq) were written: fsync them, now or after the fsync in flight. */
  request(upTo: number): void {
    if (upTo > this.wanted) this.wanted = upTo
    if (!this.inFlight) this.start()
  }

  private start(): void {
    const upTo = this.wanted
    this.inFlight = true
    this.fsync(this.fd, (err) => {
      // Still in flight while the waiters run: a batch they commit only raises `wanted`, so no
      // second fsync ever runs beside this one (Linux reports a write-back error to one of them).
      try {
        this.done(upTo, err ? new Error(`fsync of ${this.path} failed: ${err.message}`) : null)
      } finally {
        // Even if a waiter threw: the next batches must still get their fsync.
        this.inFlight = false
        if (this.closing) closeSync(this.fd)
        else if (!err && this.wanted > upTo) this.start()
      }
    })
  }

  /** Closes the descriptor (after the fsync in flight, if any). A second call does nothing. */
  close(): void {
    if (this.closing) return
    this.closing = true
    if (!this.inFlight) closeSync(this.fd)
  }
}
