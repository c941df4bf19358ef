/**
 * Deliberately broken HA pairs (`nvrelay simulate ha --mutant NAME`): each breaks one decision
 * of the pair [193] (sim/ha/pair-protocol.ts). The seeded simulation (sim/ha) must catch every
 * one; test/sim/ha-simulate.test.ts pins a seed that does.
 */
import type { MirrorPort } from '../../src/ha/mirror-source.js';
import { pairProtocol, type PairProtocol } from '../ha/pair-protocol.js';

/** Acknowledges an update as soon as it is on the wire, before the mirror holds it. */
function ackBeforeMirror(port: MirrorPort): MirrorPort {
  return {
    send: (update) => {
      port.send(update).catch(() => {});
      return Promise.resolve({ tails: [] });
    },
  };
}

export interface HaMutant {
  name: string;
  description: string;
  expects: readonly string[];
  protocol: PairProtocol;
}

export const haMutants: readonly HaMutant[] = [
  {
    name: 'mutant-ha-ack-before-mirror',
    description: "ha: an emit is acknowledged before the partner's mirror holds it durably",
    expects: ['no-loss'],
    protocol: { ...pairProtocol, port: (channel) => ackBeforeMirror(channel.port) },
  },
  {
    name: 'mutant-ha-takeover-without-lease',
    description: "ha: the survivor takes the partner's stream over without acquiring its lease",
    expects: ['fencing'],
    protocol: {
      ...pairProtocol,
      takeoverGrant: (coordinator, stream) => {
        const last = coordinator.last(stream);
        if (coordinator.current(stream) !== null || last === null) return null;
        return { grant: last, held: () => true };
      },
    },
  },
  {
    name: 'mutant-ha-no-self-fence',
    description: 'ha: a node keeps delivering its stream after its lease is lost',
    expects: ['fencing'],
    protocol: { ...pairProtocol, fenced: () => false },
  },
  {
    name: 'mutant-ha-giveback-replays',
    description: 'ha: a returning node replays what its partner took over (no giveback)',
    expects: ['giveback'],
    protocol: { ...pairProtocol, giveBack: () => ({ retired: [] }) },
  },
];

export function haMutant(name: string): HaMutant | undefined {
  return haMutants.find((mutant) => mutant.name === name);
}
