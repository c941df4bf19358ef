/**
 * Across processes (docs/PROTOCOL.md): one `nvrelay serve`, two `emit` producers and three `tail`
 * recipients (everything; `disk.` only; `err` or worse only), each a process of its own. For a
 * while a process chosen by a seeded PRNG is killed with SIGKILL every few hundred ms and started
 * again: the daemon, a producer or a recipient. Then everything runs until quiet, and the lines
 * the processes printed are checked: every acknowledged event (`A <seq>`) was delivered
 * (`D <name> <seq> <type>`) to every recipient whose subscription matches it and to no other; a
 * recipient's first deliveries come in seq order; a seq delivered twice is counted (a duplicate,
 * only ever after a kill).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { killAll, killAtRandom, role, start, waitFor, type Role } from './processes.js';

const dir = mkdtempSync(join(tmpdir(), 'nvrelay-serve-'));
const socket = join(dir, 'd.sock');
const device = join(dir, 'dev.nvram');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const recipients = {
  all: { prefixes: [''], severityMax: 'debug' },
  disk: { prefixes: ['disk.'], severityMax: 'debug' },
  urgent: { prefixes: [''], severityMax: 'err' },
} as const;
const producers = {
  raid: { type: 'disk.failed', severity: 'err' },
  net: { type: 'net.down', severity: 'info' },
} as const;

function matches(recipient: keyof typeof recipients, type: string, severity: string): boolean {
  const r = recipients[recipient];
  const level = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'];
  return (
    r.prefixes.some((p) => type.startsWith(p)) &&
    level.indexOf(severity) <= level.indexOf(r.severityMax)
  );
}

afterAll(killAll);

describe('nvrelay serve with producers and recipients in other processes', () => {
  test('kill -9 of the daemon, a producer and a recipient at random moments: nothing acknowledged is lost', async () => {
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ recipients, heartbeatMs: 500 }));
    const daemon = role('daemon', [
      'serve',
      device,
      '--socket',
      socket,
      '--config',
      join(dir, 'config.json'),
      '--log-format',
      'json',
    ]);
    const emitters = Object.entries(producers).map(([name, p]) =>
      role(name, [
        'emit',
        '--socket',
        socket,
        '--type',
        p.type,
        '--severity',
        p.severity,
        '--count',
        '3000',
        '--window',
        '4',
      ]),
    );
    const tails = Object.keys(recipients).map((name) =>
      role(name, ['tail', '--socket', socket, '--name', name, '--window', '16']),
    );
    const roles = [daemon, ...emitters, ...tails];
    start(daemon);
    await waitFor(() => daemon.lines.some((line) => line.includes('listening')), 10_000);
    for (const role of [...tails, ...emitters]) start(role);

    const others = [...emitters, ...tails];
    // the daemon every fourth step; else a producer or a recipient
    await killAtRandom(roles, 24, 20261204, (step, random) =>
      step % 4 === 1 ? daemon : (others[Math.floor(random() * others.length)] as Role),
    );
    // quiet: the producers stop (killed: what they printed is what was acknowledged); the daemon
    // and the recipients stay up until every acknowledged event is delivered
    for (const role of emitters) {
      role.loop = false;
      role.child?.kill('SIGKILL');
    }
    for (const role of [daemon, ...tails]) if (role.child === null) start(role);
    await waitFor(() => emitters.every((role) => role.child === null), 5_000);

    const acked = new Map<number, { type: string; severity: string }>();
    for (const role of emitters) {
      const p = producers[role.name as keyof typeof producers];
      for (const line of role.lines) {
        const match = /^A (\d+)$/.exec(line);
        if (match !== null) acked.set(Number(match[1]), p);
      }
    }
    const delivered = (role: Role): number[] =>
      role.lines.flatMap((line) => {
        const match = new RegExp(`^D ${role.name} (\\d+) `).exec(line);
        return match === null ? [] : [Number(match[1])];
      });
    // computed once: the check below runs every 50 ms while the recipients' lines come in
    const owed = new Map(
      tails.map((role) => [
        role,
        [...acked]
          .filter(([, p]) => matches(role.name as keyof typeof recipients, p.type, p.severity))
          .map(([seq]) => seq),
      ]),
    );
    const drained = await waitFor(
      () => tails.every((role) => (owed.get(role) ?? []).every((seq) => role.seqs.has(seq))),
      30_000,
    );
    for (const role of roles) {
      role.loop = false;
      role.child?.kill('SIGTERM');
    }
    await waitFor(() => roles.every((role) => role.child === null), 5_000);

    const kills = Object.fromEntries(roles.map((role) => [role.name, role.kills]));
    const report = roles.map(
      (role) =>
        `${role.name}: ends ${role.exits.join(',')} stderr ${role.errors.join('').slice(0, 400)}`,
    );
    expect(
      acked.size,
      `acknowledged events (kills ${JSON.stringify(kills)})\n${report.join('\n')}`,
    ).toBeGreaterThan(50);
    const ends = Object.fromEntries(roles.map((role) => [role.name, role.exits.join(',')]));
    expect(daemon.errors.join(''), `daemon stderr; runs ended ${JSON.stringify(ends)}`).toBe('');
    expect(daemon.kills, 'the daemon was killed').toBeGreaterThan(0);
    expect(
      emitters.reduce((n, role) => n + role.kills, 0),
      'a producer was killed',
    ).toBeGreaterThan(0);
    expect(
      tails.reduce((n, role) => n + role.kills, 0),
      'a recipient was killed',
    ).toBeGreaterThan(0);
    const missing = tails.map(
      (role) =>
        `${role.name}: ${(owed.get(role) ?? []).filter((seq) => !role.seqs.has(seq)).join(' ')}`,
    );
    expect(
      drained,
      `every acknowledged event reached every matching recipient; missing\n${missing.join('\n')}\n${report.join('\n')}\ndaemon log:\n${daemon.lines.slice(-30).join('\n')}`,
    ).toBe(true);
    let duplicates = 0;
    for (const role of tails) {
      const seqs = delivered(role);
      const name = role.name as keyof typeof recipients;
      for (const seq of seqs) {
        const event = acked.get(seq);
        // an event whose ack was lost to a kill is not in `acked`; the types say it is no stranger
        if (event !== undefined)
          expect(matches(name, event.type, event.severity), `${name} got ${seq}`).toBe(true);
      }
      const first = [...new Set(seqs)];
      expect(first, `${name}: first deliveries in seq order`).toEqual(
        [...first].sort((a, b) => a - b),
      );
      duplicates += seqs.length - first.length;
      for (const line of role.lines.filter((l) => l.startsWith('D '))) {
        expect(line, 'no garbage').toMatch(/^D \w+ \d+ (disk\.failed|net\.down|nvrelay\.[a-z.]+)$/);
      }
    }
    console.log(
      `acknowledged ${acked.size}, kills ${JSON.stringify(kills)}, duplicates ${duplicates}`,
    );
  }, 180_000);
});
