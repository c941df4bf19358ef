/**
 * Multiplexing recipients across processes (src/mux; steps 250-280): an origin daemon, a mux
 * daemon whose config names it as upstream, with three recipients (everything; `disk.` only;
 * `err` or worse), and a second mux of the first (a tree of depth 2) with one recipient, all
 * `nvrelay serve`, `emit` and `tail` processes. A process chosen by a seeded PRNG is killed with
 * SIGKILL every few hundred ms and started again: any daemon, a producer or a recipient. Then
 * everything runs until every acknowledged event arrived, in custody and in end-to-end mode:
 *
 * - no loss: every event the origin acknowledged reached every recipient it matches;
 * - filters exact: no recipient got an event it does not match;
 * - recorded once: all deliveries of one origin event to one recipient carry the same seq and
 *   the same path (` via ...`), so no mux recorded it twice.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { killAll, killAtRandom, role, start, waitFor, type Role } from './processes.js';

const dir = mkdtempSync(join(tmpdir(), 'nvrelay-mux-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterAll(killAll);

const levels = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'];
const leaves = {
  all: { prefixes: [''], severityMax: 'debug', at: 'mux1' },
  disk: { prefixes: ['disk.'], severityMax: 'debug', at: 'mux1' },
  urgent: { prefixes: [''], severityMax: 'err', at: 'mux1' },
  deep: { prefixes: [''], severityMax: 'debug', at: 'mux2' },
} as const;
const producers = {
  raid: { type: 'disk.failed', severity: 'err' },
  net: { type: 'net.down', severity: 'info' },
} as const;

function matches(leaf: keyof typeof leaves, type: string, severity: string): boolean {
  const r = leaves[leaf];
  return (
    r.prefixes.some((p) => type.startsWith(p)) &&
    levels.indexOf(severity) <= levels.indexOf(r.severityMax)
  );
}

interface Delivery {
  seq: number;
  type: string;
  /** `node:seq>node:seq`, first hop first. */
  path: string;
  originSeq: number;
}

function deliveries(tail: Role): Delivery[] {
  return tail.lines.flatMap((line) => {
    const match = /^D \S+ (\d+) (\S+)(?: via (\S+))?$/.exec(line);
    if (match === null) return [];
    const path = match[3] ?? '';
    const first = /^[0-9a-f]{16}:(\d+)/.exec(path);
    return [
      { seq: Number(match[1]), type: match[2] as string, path, originSeq: Number(first?.[1] ?? 0) },
    ];
  });
}

describe.each(['custody', 'end-to-end'] as const)(
  'a tree of multiplexing recipients, %s',
  (mode) => {
    test('kill -9 of any process at random moments: no loss, exact filters, nothing recorded twice', async () => {
      const at = (name: string): string => join(dir, `${mode}-${name}`);
      const serve = (name: string, config: unknown): Role => {
        writeFileSync(
          at(`${name}.json`),
          JSON.stringify({ heartbeatMs: 500, ...(config as object) }),
        );
        return role(name, [
          'serve',
          at(`${name}.nvram`),
          '--socket',
          at(`${name}.sock`),
          '--config',
          at(`${name}.json`),
        ]);
      };
      // an upstream declares its mux as a recipient with a retry policy that never gives up on it
      const patient = { retry: { timeoutMs: 5_000, attemptsMax: 1_000 } };
      const upstream = (name: string): unknown => ({
        address: `unix:${at(`${name}.sock`)}`,
        recipient: 'mux',
        mode,
        window: 64,
      });
      const origin = serve('origin', { recipients: { mux: patient } });
      const leafConfig = (node: string): Record<string, unknown> =>
        Object.fromEntries(
          Object.entries(leaves)
            .filter(([, leaf]) => leaf.at === node)
            .map(([name, leaf]) => [
              name,
              { prefixes: leaf.prefixes, severityMax: leaf.severityMax },
            ]),
        );
      const mux1 = serve('mux1', {
        upstreams: { origin: upstream('origin') },
        recipients: { ...leafConfig('mux1'), mux: patient },
      });
      const mux2 = serve('mux2', {
        upstreams: { mux1: upstream('mux1') },
        recipients: leafConfig('mux2'),
      });
      const daemons = [origin, mux1, mux2];
      const emitters = Object.entries(producers).map(([name, p]) =>
        role(name, [
          'emit',
          '--socket',
          at('origin.sock'),
          '--source',
          name,
          '--type',
          p.type,
          '--severity',
          p.severity,
          '--count',
          '2000',
          '--window',
          '4',
        ]),
      );
      const tails = Object.entries(leaves).map(([name, leaf]) =>
        role(name, ['tail', '--socket', at(`${leaf.at}.sock`), '--name', name, '--window', '16']),
      );
      const roles = [...daemons, ...emitters, ...tails];
      for (const daemon of daemons) start(daemon);
      await waitFor(
        () => daemons.every((d) => d.lines.some((line) => line.includes('listening'))),
        10_000,
      );
      for (const r of [...tails, ...emitters]) start(r);

      const seed = mode === 'custody' ? 20261204 : 20261205;
      await killAtRandom(roles, 24, seed, (step, random) =>
        step % 3 === 1
          ? (daemons[Math.floor(random() * daemons.length)] as Role)
          : ([...emitters, ...tails][Math.floor(random() * 6)] as Role),
      );
      for (const r of emitters) {
        r.loop = false;
        r.child?.kill('SIGKILL');
      }
      for (const r of [...daemons, ...tails]) if (r.child === null) start(r);

      const acked = new Map<number, { type: string; severity: string }>();
      for (const r of emitters) {
        const p = producers[r.name as keyof typeof producers];
        for (const line of r.lines) {
          const match = /^A (\d+)$/.exec(line);
          if (match !== null) acked.set(Number(match[1]), p);
        }
      }
      const owed = new Map(
        tails.map((r) => [
          r,
          [...acked]
            .filter(([, p]) => matches(r.name as keyof typeof leaves, p.type, p.severity))
            .map(([seq]) => seq),
        ]),
      );
      const arrived = (r: Role): Set<number> => new Set(deliveries(r).map((d) => d.originSeq));
      const drained = await waitFor(
        () =>
          tails.every((r) => {
            const seen = arrived(r);
            return (owed.get(r) ?? []).every((seq) => seen.has(seq));
          }),
        60_000,
      );
      for (const r of roles) {
        r.loop = false;
        r.child?.kill('SIGTERM');
      }
      await waitFor(() => roles.every((r) => r.child === null), 5_000);

      const kills = Object.fromEntries(roles.map((r) => [r.name, r.kills]));
      const report = roles.map(
        (r) => `${r.name}: ends ${r.exits.join(',')} stderr ${r.errors.join('').slice(0, 300)}`,
      );
      expect(
        acked.size,
        `acknowledged (kills ${JSON.stringify(kills)})\n${report.join('\n')}`,
      ).toBeGreaterThan(50);
      for (const daemon of daemons)
        expect(daemon.errors.join(''), `${daemon.name} stderr`).toBe('');
      expect(
        daemons.reduce((n, d) => n + d.kills, 0),
        'a daemon was killed',
      ).toBeGreaterThan(2);
      const missing = tails.map((r) => {
        const seen = arrived(r);
        return `${r.name}: ${(owed.get(r) ?? [])
          .filter((seq) => !seen.has(seq))
          .slice(0, 20)
          .join(' ')}`;
      });
      expect(
        drained,
        `every acknowledged event reached every matching recipient; missing\n${missing.join('\n')}\n${report.join('\n')}`,
      ).toBe(true);
      let duplicates = 0;
      for (const r of tails) {
        const name = r.name as keyof typeof leaves;
        const identity = new Map<number, string>();
        for (const d of deliveries(r)) {
          if (d.type.startsWith('nvrelay.')) continue; // a node's own report
          const event = acked.get(d.originSeq);
          if (event !== undefined)
            expect(
              matches(name, event.type, event.severity),
              `${name} got origin seq ${d.originSeq}`,
            ).toBe(true);
          expect(d.type, 'no garbage').toMatch(/^(disk\.failed|net\.down)$/);
          const hops = d.path.split('>').length;
          expect(hops, `${name}: the path ${d.path}`).toBe(leaves[name].at === 'mux1' ? 1 : 2);
          const seen = identity.get(d.originSeq);
          if (seen === undefined) identity.set(d.originSeq, `${d.seq} via ${d.path}`);
          else {
            expect(
              `${d.seq} via ${d.path}`,
              `${name}: origin seq ${d.originSeq} recorded once`,
            ).toBe(seen);
            duplicates++;
          }
        }
      }
      console.log(
        `${mode}: acknowledged ${acked.size}, kills ${JSON.stringify(kills)}, duplicate deliveries ${duplicates}`,
      );
    }, 240_000);
  },
);
