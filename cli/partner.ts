/**
 * What `nvrelay inspect` shows of an HA pair [193]: the partner mirror on the device (whose it
 * is, and per mirror FIFO its head, tail and pending events), read from a private copy of the
 * file like the node's part; and, with `--config` naming the pair's coordinator, who holds the
 * lease on each of the two streams now and who last did.
 */
import { readFileSync } from 'node:fs';
import { loadConfig } from '../src/daemon/config.js';
import { partnerSectionNames } from '../src/ha/layout.js';
import { PartnerMirror } from '../src/ha/partner-mirror.js';
import { readNodeGeometry } from '../src/node/layout.js';
import { TracedNvram, type HeaderInfo } from '../src/nvram/index.js';
import type { InspectPart } from './inspect.js';

interface PartnerPart {
  partner: string | null;
  fifos: { fifo: string; head: number; tail: number; pending: number }[];
  /** Partner events not finished there, by the mirror (what a takeover would deliver). */
  unfinished: number;
}

function collectPartner(
  path: string,
  header: HeaderInfo,
): PartnerPart | { error: string } | undefined {
  if (!header.sections.some((section) => section.name === partnerSectionNames.runtimeFifo))
    return undefined;
  const copy = TracedNvram.fromImage(new Uint8Array(readFileSync(path)), { boot: false });
  try {
    const mirror = new PartnerMirror(copy, readNodeGeometry(copy));
    return {
      partner: mirror.partner,
      fifos: mirror.describe(),
      unfinished: mirror.pending().length,
    };
  } catch (error) {
    return { error: (error as Error).message };
  } finally {
    copy.close();
  }
}

function renderPartner(value: unknown): string[] {
  const part = value as PartnerPart | { error: string };
  if ('error' in part) return [`  cannot read the partner mirror: ${part.error}`];
  return [
    `  owner       ${part.partner ?? '- (nothing mirrored yet)'}`,
    ...part.fifos.map(
      (fifo) =>
        `  ${fifo.fifo.padEnd(22)} head ${fifo.head}, tail ${fifo.tail}, pending ${fifo.pending}`,
    ),
    `  unfinished  ${part.unfinished} partner events a takeover would deliver`,
  ];
}

export const partnerPart: InspectPart = {
  name: 'partner',
  collect: collectPartner,
  render: renderPartner,
};

export interface LeaseView {
  stream: string;
  holder: string | null;
  token: string | null;
  lastHolder: string | null;
}

/** The two streams' leases, from the coordinator the config's `partner` section names. */
export async function leaseHolders(
  configPath: string,
  streams: readonly string[],
): Promise<LeaseView[]> {
  const config = loadConfig(configPath);
  if (config.partner === undefined) return [];
  // loaded here, not with the command line: etcd's client (gRPC) costs every command 100 ms
  const { openLeases } = await import('../src/ha/pair-service.js');
  const leases = openLeases(config.partner);
  try {
    return await Promise.all(
      streams.map(async (stream) => {
        const [current, last] = await Promise.all([leases.current(stream), leases.last(stream)]);
        return {
          stream,
          holder: current?.holder ?? null,
          token: current === null ? null : String(current.token),
          lastHolder: last?.holder ?? null,
        };
      }),
    );
  } finally {
    await leases.close();
  }
}

export function renderLeases(views: readonly LeaseView[]): string[] {
  return [
    'leases',
    ...views.map(
      (view) =>
        `  ${view.stream}  held by ${view.holder ?? '- (free)'}` +
        (view.token === null ? '' : ` (token ${view.token})`) +
        `, last granted to ${view.lastHolder ?? '-'}`,
    ),
  ];
}
