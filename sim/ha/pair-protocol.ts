/**
 * The decisions of an HA pair that the simulation drives [193], in one place so that a mutant
 * (sim/mutants/ha-mutants.ts) can break exactly one of them: the port a node's MirrorSource
 * sends through, the grant a survivor takes its partner's stream over with, whether a node
 * that lost its lease stops (self-fence), and the giveback before a returning node boots.
 */
import { giveBack, type GivebackReport } from '../../src/ha/giveback.js';
import type { Handover } from '../../src/ha/mirror-update.js';
import type { MirrorPort } from '../../src/ha/mirror-source.js';
import type { NvramDevice } from '../../src/nvram/device.js';
import type { LeaseGrant, SimCoordinator } from './coordinator.js';
import type { MirrorChannel } from './interconnect.js';

export interface PairProtocol {
  /** The port a node's MirrorSource sends its updates through. */
  port(channel: MirrorChannel): MirrorPort;
  /** The partner's lease expired: the grant to take its stream over with (null: not now). */
  takeoverGrant(coordinator: SimCoordinator, stream: string, holder: string): TakeoverGrant | null;
  /** True if the node must stop now: it does not hold its own stream's lease (self-fence). */
  fenced(coordinator: SimCoordinator, grant: LeaseGrant | null): boolean;
  /** Before the returning node boots: its heads past what the partner took over. */
  giveBack(device: NvramDevice, handover: Handover): GivebackReport;
}

/** A takeover's grant, and how the takeover learns that it is still held. */
export interface TakeoverGrant {
  grant: LeaseGrant;
  held: () => boolean;
}

export const pairProtocol: PairProtocol = {
  port: (channel) => channel.port,
  takeoverGrant: (coordinator, stream, holder) => {
    const grant = coordinator.current(stream) === null ? coordinator.acquire(stream, holder) : null;
    return grant === null ? null : { grant, held: () => coordinator.holds(grant) };
  },
  fenced: (coordinator, grant) => !coordinator.holds(grant),
  giveBack: (device, handover) => giveBack(device, handover),
};
