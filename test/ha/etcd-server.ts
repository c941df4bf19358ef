/**
 * A real etcd for the lease tests: one member on loopback ports that were free, its data in a
 * temp dir, killed and removed by `stop`. A heartbeat of 10 ms and an election timeout of 50 ms
 * bring etcd's minimum lease TTL (1.5 election timeouts' worth of ticks, rounded up to seconds)
 * down to 1 s. `pause` and `resume` (SIGSTOP, SIGCONT) make it a coordinator that hangs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../loopback.js';

export const etcdBinary = '/usr/bin/etcd';
export const etcdInstalled = existsSync(etcdBinary);

export const etcdFlags = ['--heartbeat-interval=10', '--election-timeout=50'];

export interface EtcdServer {
  /** The client URL. */
  url: string;
  /** SIGSTOP; resolves once the process is stopped (a signal is delivered asynchronously). */
  pause(): Promise<void>;
  resume(): void;
  stop(): Promise<void>;
}

/** Starts etcd; resolves once its /health answers true (within 10 s, else rejects). */
export async function startEtcd(): Promise<EtcdServer> {
  const dir = mkdtempSync(join(tmpdir(), 'nvrelay-etcd-'));
  const url = `http://127.0.0.1:${await freePort()}`;
  const peer = `http://127.0.0.1:${await freePort()}`;
  const child = spawn(
    etcdBinary,
    [
      '--name=lease-test',
      `--data-dir=${join(dir, 'data')}`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=lease-test=${peer}`,
      '--initial-cluster-state=new',
      ...etcdFlags,
      '--logger=zap',
      '--log-level=error',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let output = '';
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await untilHealthy(url, child);
  } catch (error) {
    await stop();
    throw new Error(`etcd did not start: ${String(error)}\n${output}`);
  }
  return {
    url,
    pause: async () => {
      signal(child, 'SIGSTOP');
      await untilStopped(child.pid as number);
    },
    resume: () => signal(child, 'SIGCONT'),
    stop,
  };
}

/** Waits (at most 2 s) until /proc says the process is stopped (state T). */
async function untilStopped(pid: number): Promise<void> {
  for (let k = 0; k < 200; k++) {
    const state = /\) ([A-Za-z]) /.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1];
    if (state === 'T' || state === 't') return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`etcd (pid ${pid}) did not stop`);
}

function signal(child: ChildProcess, name: NodeJS.Signals): void {
  if (!child.kill(name)) throw new Error(`etcd: ${name} not delivered`);
}

async function untilHealthy(url: string, child: ChildProcess): Promise<void> {
  const give = Date.now() + 10_000;
  while (Date.now() < give) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}`);
    try {
      const answer = await fetch(`${url}/health`, { signal: AbortSignal.timeout(500) });
      if (answer.ok && /"health":\s*"true"/.test(await answer.text())) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('no healthy answer in 10 s');
}
