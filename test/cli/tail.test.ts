/**
 * `nvrelay tail` filters and its --count limit, run as a user runs it (the built CLI in a child
 * process; `npm run build` first) against a daemon in this process that takes any recipient
 * name: a name subscribes with its own --prefix and --severity-max.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { connect } from '../../src/client/client.js';
import { cliMain, startDaemon, type TestDaemon } from '../daemon/harness.js';
import { runCli, type CliRun } from './processes.js';

let daemon: TestDaemon;

beforeAll(async () => {
  if (!existsSync(cliMain)) throw new Error(`${cliMain} is missing: run 'npm run build' first`);
  daemon = await startDaemon();
});
afterAll(async () => {
  await daemon.remove();
});

type Run = CliRun;

const nvrelay = (args: string[], timeoutMs = 10_000): Promise<Run> => runCli(args, { timeoutMs });

/**
 * Registers `name` with the filters its tail will ask for (a new name takes only events emitted
 * after it exists), emits the events, and leaves them unconfirmed for the tail.
 */
async function registerThenEmit(
  name: string,
  filters: { prefixes: string[]; severityMax?: 'err' },
  events: readonly { type: string; severity: 'crit' | 'err' | 'warning' | 'info' }[],
): Promise<number[]> {
  const client = await connect(`unix:${daemon.socket}`);
  await client.subscribe(name, filters, () => {});
  const producer = client.producer('shelf-9');
  const seqs: number[] = [];
  for (const event of events) seqs.push(await producer.emit(event.type, event.severity, 'x'));
  client.close();
  return seqs;
}

describe('nvrelay tail', () => {
  test('--prefix and --severity-max deliver the matching events only, in seq order', async () => {
    const seqs = await registerThenEmit(
      'filtered',
      { prefixes: ['disk.', 'psu.'], severityMax: 'err' },
      [
        { type: 'disk.failed', severity: 'crit' },
        { type: 'disk.slow', severity: 'info' },
        { type: 'fan.slow', severity: 'crit' },
        { type: 'psu.lost', severity: 'err' },
        { type: 'disk.gone', severity: 'err' },
      ],
    );
    const run = await nvrelay([
      'tail',
      '--socket',
      daemon.socket,
      '--name',
      'filtered',
      '--prefix',
      'disk.',
      '--prefix',
      'psu.',
      '--severity-max',
      'err',
      '--count',
      '3',
    ]);
    expect(run.stderr).toBe('');
    expect(run.signal).toBe(null);
    expect(run.status).toBe(0);
    expect(run.stdout).toBe(
      `D filtered ${seqs[0]} disk.failed\nD filtered ${seqs[3]} psu.lost\n` +
        `D filtered ${seqs[4]} disk.gone\n`,
    );
  });

  test('--count N prints exactly N lines though more deliveries are in flight', async () => {
    const seqs = await registerThenEmit('burst', { prefixes: ['burst.'] }, [
      { type: 'burst.one', severity: 'info' },
      { type: 'burst.two', severity: 'info' },
      { type: 'burst.three', severity: 'info' },
      { type: 'burst.four', severity: 'info' },
    ]);
    const tail = (): Promise<Run> =>
      nvrelay([
        'tail',
        '--socket',
        daemon.socket,
        '--name',
        'burst',
        '--prefix',
        'burst.',
        '--count',
        '1',
      ]);
    const first = await tail();
    expect(first.status).toBe(0);
    expect(first.stdout).toBe(`D burst ${seqs[0]} burst.one\n`);
    // the deliveries past the count were not confirmed: the next run starts with the second
    const second = await tail();
    expect(second.status).toBe(0);
    expect(second.stdout).toBe(`D burst ${seqs[1]} burst.two\n`);
  });

  test('a reader gone from stdout stops tail with exit 1 before it confirms the delivery', async () => {
    const seqs = await registerThenEmit('gone', { prefixes: ['gone.'] }, [
      { type: 'gone.one', severity: 'info' },
    ]);
    const args = ['tail', '--socket', daemon.socket, '--name', 'gone', '--prefix', 'gone.'];
    const gone = await new Promise<Run>((resolve, reject) => {
      const child = spawn(process.execPath, [cliMain, ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout.destroy(); // the reader closes its end before the first line
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.on('error', reject);
      child.on('close', (status, signal) => {
        clearTimeout(timer);
        resolve({ status, signal, stdout: '', stderr });
      });
    });
    expect(gone.signal).toBe(null);
    expect(gone.status).toBe(1);
    expect(gone.stderr).toMatch(/^nvrelay: cannot write to stdout: .*EPIPE/);
    // the line was never written, so the event was never confirmed: the next tail gets it
    const next = await nvrelay([...args, '--count', '1']);
    expect(next.status).toBe(0);
    expect(next.stdout).toBe(`D gone ${seqs[0]} gone.one\n`);
  });
});
