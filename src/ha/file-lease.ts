/**
 * Stream leases in one JSON file (./lease.ts): the embedded coordinator of a pair on one
 * machine without etcd. Every user is on this machine, so expiry is in wall-clock ms
 * (`Date.now()`); a wall clock stepped forward by more than a keeper's margin can end a lease
 * early, which is why a pair on two machines uses etcd.
 *
 * The file: `{"token": "<last token issued>", "streams": {"<stream>": {"current": {"holder",
 * "token", "expiresAt"} | null, "last": {"holder", "token"}}}}`, tokens as decimal strings.
 * Tokens come from the one counter of the file, so they strictly increase per stream and per
 * file. A missing file is a file without grants; any other content that is not this shape is a
 * LEASE_CORRUPT error naming the path, never reset (a reset would reissue tokens).
 *
 * Each mutation is read-modify-write under an exclusive lock, `<path>.lock`, holding the pid of
 * its owner: made whole in a temp file then linked into place (link fails if the lock exists, so
 * a lock file is never seen empty). A lock whose pid no longer runs is stale (its owner died
 * holding it) and is broken. The new content goes to a temp file, fsynced, renamed over the
 * file, and the directory fsynced: a crash leaves the old file or the new one, never half.
 * A lock held longer than `timeoutMs` (a hung owner) is LEASE_UNAVAILABLE, as a coordinator
 * that does not answer.
 */
import { randomBytes } from 'node:crypto';
import { link, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { LeaseError, type LeaseGrant, type LeaseRecord, type StreamLeases } from './lease.js';

export interface FileLeaseOptions {
  ttlMs: number;
  /** How long a call waits for the lock before LEASE_UNAVAILABLE; 1000 ms by default. */
  timeoutMs?: number;
  /** Wall-clock ms; Date.now by default. */
  now?: () => number;
}

interface CurrentGrant extends LeaseRecord {
  expiresAt: number;
}

interface StreamState {
  current: CurrentGrant | null;
  last: LeaseRecord;
}

interface LeaseFileState {
  token: bigint;
  streams: Map<string, StreamState>;
}

/** How often a call waiting for the lock tries again. */
const lockRetryMs = 5;

export class FileLeases implements StreamLeases {
  readonly path: string;
  readonly ttlMs: number;
  readonly timeoutMs: number;
  protected readonly now: () => number;
  protected closed = false;

  constructor(path: string, options: FileLeaseOptions) {
    if (!(options.ttlMs > 0)) throw new LeaseError('BAD_ARGUMENT', 'nvrelay: ttlMs must be > 0');
    this.path = path;
    this.ttlMs = options.ttlMs;
    this.timeoutMs = options.timeoutMs ?? 1000;
    this.now = options.now ?? Date.now;
  }

  async acquire(stream: string, holder: string): Promise<LeaseGrant | null> {
    return this.mutate('acquire', (state) => {
      const entry = state.streams.get(stream);
      if (entry?.current && entry.current.expiresAt > this.now()) return null;
      const token = state.token + 1n;
      state.token = token;
      state.streams.set(stream, {
        current: { holder, token, expiresAt: this.now() + this.ttlMs },
        last: { holder, token },
      });
      return { stream, holder, token };
    });
  }

  async renew(grant: LeaseGrant): Promise<boolean> {
    return this.mutate('renew', (state) => {
      const current = this.live(state, grant.stream);
      if (current === null || !sameGrant(current, grant)) return null;
      current.expiresAt = this.now() + this.ttlMs;
      return true;
    }).then((renewed) => renewed === true);
  }

  async release(grant: LeaseGrant): Promise<void> {
    await this.mutate('release', (state) => {
      const entry = state.streams.get(grant.stream);
      if (!entry?.current || !sameGrant(entry.current, grant)) return null;
      entry.current = null;
      return true;
    });
  }

  async current(stream: string): Promise<LeaseRecord | null> {
    this.checkOpen();
    const current = this.live(await this.read(), stream);
    return current && { holder: current.holder, token: current.token };
  }

  async last(stream: string): Promise<LeaseRecord | null> {
    this.checkOpen();
    const entry = (await this.read()).streams.get(stream);
    return entry ? { ...entry.last } : null;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  protected live(state: LeaseFileState, stream: string): CurrentGrant | null {
    const current = state.streams.get(stream)?.current ?? null;
    return current && current.expiresAt > this.now() ? current : null;
  }

  protected checkOpen(): void {
    if (this.closed)
      throw new LeaseError('LEASE_CLOSED', `nvrelay: lease file ${this.path} closed`);
  }

  /**
   * Runs `change` on the file's state under the lock and writes the state back unless it
   * returned null (nothing changed).
   */
  protected async mutate<T>(
    what: string,
    change: (state: LeaseFileState) => T | null,
  ): Promise<T | null> {
    this.checkOpen();
    const deadline = performance.now() + this.timeoutMs;
    await this.lock(what, deadline);
    try {
      const state = await this.read();
      const result = change(state);
      if (result !== null) {
        await this.write(state); // not timed out: a late write after the unlock would clobber
      }
      return result;
    } finally {
      await unlink(this.lockPath()).catch(() => undefined);
    }
  }

  protected lockPath(): string {
    return `${this.path}.lock`;
  }

  protected async lock(what: string, deadline: number): Promise<void> {
    const made = `${this.path}.${process.pid}.${randomBytes(6).toString('hex')}.lock`;
    await writeDurably(made, `${process.pid}\n`, false);
    try {
      for (;;) {
        try {
          await link(made, this.lockPath());
          return;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw unavailable(what, error);
        }
        if (await this.breakStaleLock()) continue;
        if (performance.now() >= deadline) {
          throw new LeaseError(
            'LEASE_UNAVAILABLE',
            `nvrelay: ${what}: lease file ${this.path} locked by another process for ${this.timeoutMs} ms`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, lockRetryMs));
      }
    } finally {
      await unlink(made).catch(() => undefined);
    }
  }

  /** Removes the lock if its owner no longer runs; true if it did (or the lock went away). */
  protected async breakStaleLock(): Promise<boolean> {
    let text: string;
    let inode: number;
    try {
      inode = (await stat(this.lockPath())).ino;
      text = await readFile(this.lockPath(), 'utf8');
    } catch {
      return true; // released meanwhile
    }
    const pid = Number(text.trim());
    if (!Number.isInteger(pid) || pid <= 0 || running(pid)) return false;
    // Only the lock read above: another process may have broken it and locked since.
    const again = await stat(this.lockPath()).catch(() => null);
    if (again?.ino === inode) await unlink(this.lockPath()).catch(() => undefined);
    return true;
  }

  protected async read(): Promise<LeaseFileState> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT')
        return { token: 0n, streams: new Map() };
      throw unavailable(`reading lease file ${this.path}`, error);
    }
    return parseLeaseFile(this.path, text);
  }

  protected async write(state: LeaseFileState): Promise<void> {
    // fromEntries: a stream named __proto__ is a key like any other
    const streams = Object.fromEntries(
      [...state.streams].map(([stream, entry]) => [
        stream,
        {
          current: entry.current && {
            holder: entry.current.holder,
            token: String(entry.current.token),
            expiresAt: entry.current.expiresAt,
          },
          last: { holder: entry.last.holder, token: String(entry.last.token) },
        },
      ]),
    );
    const text = `${JSON.stringify({ token: String(state.token), streams }, null, 2)}\n`;
    const temp = `${this.path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await writeDurably(temp, text, true);
      await rename(temp, this.path);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw unavailable(`writing lease file ${this.path}`, error);
    }
    const directory = await open(dirname(this.path), 'r');
    try {
      await directory.sync();
    } finally {
      await directory.close();
    }
  }
}

function sameGrant(record: LeaseRecord, grant: LeaseGrant): boolean {
  return record.holder === grant.holder && record.token === grant.token;
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // runs, as another user
  }
}

function unavailable(what: string, error: unknown): LeaseError {
  return new LeaseError('LEASE_UNAVAILABLE', `nvrelay: ${what}: ${String(error)}`, {
    cause: error,
  });
}

async function writeDurably(path: string, text: string, sync: boolean): Promise<void> {
  const file = await open(path, 'wx', 0o644);
  try {
    await file.writeFile(text);
    if (sync) await file.sync();
  } finally {
    await file.close();
  }
}

/** The state in `text`, or LEASE_CORRUPT naming `path`. */
function parseLeaseFile(path: string, text: string): LeaseFileState {
  const corrupt = (why: string): never => {
    throw new LeaseError('LEASE_CORRUPT', `nvrelay: lease file ${path} is corrupt: ${why}`);
  };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return corrupt(`not JSON (${String(error)})`);
  }
  if (!isObject(json) || !isObject(json['streams'])) return corrupt('no "streams" object');
  const token = tokenOf(json['token']) ?? corrupt('no "token"');
  const streams = new Map<string, StreamState>();
  for (const [stream, value] of Object.entries(json['streams'])) {
    if (!isObject(value)) return corrupt(`stream ${stream} is not an object`);
    const last = recordOf(value['last']) ?? corrupt(`stream ${stream} has no valid "last"`);
    let current: CurrentGrant | null = null;
    if (value['current'] !== null) {
      const record = recordOf(value['current']);
      const expiresAt = isObject(value['current']) ? value['current']['expiresAt'] : undefined;
      if (record === null || typeof expiresAt !== 'number' || !Number.isFinite(expiresAt))
        return corrupt(`stream ${stream} has no valid "current"`);
      current = { ...record, expiresAt };
    }
    if (last.token > token || (current !== null && current.token > token))
      return corrupt(`stream ${stream} has a token above the file's`);
    streams.set(stream, { current, last });
  }
  return { token, streams };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function tokenOf(value: unknown): bigint | null {
  return typeof value === 'string' && /^(0|[1-9]\d*)$/.test(value) ? BigInt(value) : null;
}

function recordOf(value: unknown): LeaseRecord | null {
  if (!isObject(value) || typeof value['holder'] !== 'string') return null;
  const token = tokenOf(value['token']);
  return token === null ? null : { holder: value['holder'], token };
}
