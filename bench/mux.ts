/**
 * The multiplexing recipient's figures (src/mux): emit-deliver-confirm through node -> mux ->
 * recipient, and through a tree of depth 2 (node -> mux -> mux -> recipient), every daemon an
 * `nvrelay serve` child process on its own device, over Unix sockets, `process` and `power`
 * durability, 64 producers on one connection to the origin and one recipient at the last mux
 * confirming everything, beside one hop (producers -> daemon -> recipient) measured the same
 * way in the same run: the ratio to one hop is the cost of each level.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type Client } from '../src/client/client.js';
import {
  Counter,
  cpuText,
  detailsBytes,
  eventType,
  mainScript,
  measure,
  producersMany,
  rateText,
  recipientWindow,
  startServer,
  stopServer,
  windowEventsMany,
  type Figure,
  type Server,
  type System,
} from './daemon.js';
import type { BenchContext, BenchResult, BenchSuite } from './run.js';

type Durability = 'process' | 'power';

/** One `nvrelay serve` on `<dir>/<name>.nvram`, listening on `<dir>/<name>.sock`. */
async function serve(
  dir: string,
  name: string,
  durability: Durability,
  config: unknown,
): Promise<Server> {
  const path = join(dir, `${name}.json`);
  writeFileSync(path, JSON.stringify(config));
  return startServer(
    process.execPath,
    [
      mainScript,
      'serve',
      join(dir, `${name}.nvram`),
      '--socket',
      join(dir, `${name}.sock`),
      '--durability',
      durability,
      '--config',
      path,
      '--log-format',
      'json',
    ],
    /"msg":"listening"/,
  );
}

/**
 * A chain of `levels` muxes after the origin (0: the origin alone); producers at the origin,
 * the recipient at the last node.
 */
async function chainSystem(dir: string, durability: Durability, levels: number): Promise<System> {
  const servers: Server[] = [];
  const clients: Client[] = [];
  const names = Array.from({ length: levels + 1 }, (_, k) => `${durability}-${levels}-n${k}`);
  try {
    for (let k = 0; k <= levels; k++) {
      const downstream = k < levels ? { mux: { retry: { timeoutMs: 30_000 } } } : {};
      const upstreams =
        k === 0
          ? {}
          : {
              up: {
                address: `unix:${join(dir, `${names[k - 1]}.sock`)}`,
                recipient: 'mux',
                window: recipientWindow,
              },
            };
      servers.push(
        await serve(dir, names[k] as string, durability, {
          inFlightMax: recipientWindow,
          recipients: downstream,
          upstreams,
        }),
      );
    }
    const delivered = new Counter();
    const last = await connect(`unix:${join(dir, `${names[levels]}.sock`)}`, {
      client: 'bench-recipient',
    });
    clients.push(last);
    await last.subscribe(
      'r0',
      { prefixes: ['bench.'], window: recipientWindow },
      (event, confirmer) => {
        if (event.attempt === 1) delivered.add(1);
        confirmer.confirm(event.seq);
      },
    );
    const producers = await connect(`unix:${join(dir, `${names[0]}.sock`)}`, {
      client: 'bench-producers',
    });
    clients.push(producers);
    const details = new Uint8Array(detailsBytes).fill(0x5a);
    return {
      name: levels === 0 ? `one hop (${durability})` : `${levels}-level tree (${durability})`,
      emitter: (index) => {
        const producer = producers.producer(`p${index}`);
        return () => producer.emit(eventType, 'info', details);
      },
      delivered,
      serverPid: servers[levels]?.child.pid,
      close: async () => {
        for (const client of clients) client.close();
        for (const server of servers.reverse()) await stopServer(server);
      },
    };
  } catch (error) {
    for (const client of clients) client.close();
    for (const server of servers.reverse()) await stopServer(server);
    throw error;
  }
}

async function measureChain(
  dir: string,
  durability: Durability,
  levels: number,
  maxMs: number,
): Promise<Figure> {
  const system = await chainSystem(dir, durability, levels);
  try {
    return await measure(system, producersMany, windowEventsMany, maxMs);
  } finally {
    await system.close();
  }
}

async function run(context: BenchContext): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(context.dir, 'nvrelay-mux-'));
  const maxMs = context.seconds * 400;
  const results: BenchResult[] = [];
  try {
    for (const durability of ['process', 'power'] as const) {
      const figures: Figure[] = [];
      for (const levels of [0, 1, 2]) {
        console.error(`  ${levels} mux levels, ${durability}`);
        figures.push(await measureChain(dir, durability, levels, maxMs));
      }
      const [hop, mux, tree] = figures as [Figure, Figure, Figure];
      results.push({
        measure: `mux ${durability}: node -> recipient (one hop)`,
        value: hop.rate,
        display: rateText(hop.rate),
        note: `${producersMany} producers at the origin, one recipient confirming; ${cpuText(hop)}`,
      });
      for (const [label, figure] of [
        ['node -> mux -> recipient', mux],
        ['node -> mux -> mux -> recipient', tree],
      ] as const)
        results.push({
          measure: `mux ${durability}: ${label}`,
          value: figure.rate,
          display: `${rateText(figure.rate)}; ${(figure.rate / hop.rate).toFixed(2)}x one hop`,
          note: `custody mode; CPU of the last daemon per event ${figure.serverCpu.toFixed(1)} us; emit p50 ${figure.latency.p50.toFixed(0)} us`,
        });
    }
    return results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const suite: BenchSuite = {
  name: 'mux',
  description:
    'node -> mux -> recipient and a depth-2 tree over Unix sockets (process and power), beside one hop',
  run,
};
