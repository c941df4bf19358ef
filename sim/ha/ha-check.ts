/**
 * The end-to-end check of an HA pair run [193] (./ha-run.ts): what each node's producer was
 * told, what every recipient saw on either node, and which lease grants the coordinator made.
 * An event's identity is its dedupe key (origin node, origin seq): the first hop of its origin
 * trail, or (the node that delivered it, its seq) when it has none.
 *
 *   no-loss          every acknowledged emit reached every recipient it was meant for;
 *   no-garbage       every delivery is an event some emit asked for, with its type and, once
 *                    acknowledged, its seq, from the node it was emitted on;
 *   double-delivery  a second delivery of one key to one recipient follows a fault (a power
 *                    cut, a lost NVRAM, a self-fence, a takeover, a giveback) made after the
 *                    first, or comes from the other node's copy (which only a takeover makes:
 *                    a giveback while it runs leaves both copies): counted as a redelivery;
 *                    otherwise it is a violation;
 *   fencing          a node delivers its own stream only under the stream's latest grant, held
 *                    by it; a taken-over event only under a grant on the partner's stream made
 *                    to the node that delivers it (never two holders under one token);
 *   giveback         a node that took its stream back never delivers again an event of its own
 *                    that the partner had taken over (and released from its mirror);
 *   recovery, defect as in the cluster check (sim/cluster/cluster-check.ts).
 */
import { nodeMarkFinding, type Finding, type NodeMark } from '../subject.js';
import type { LeaseGrant } from './coordinator.js';

export type HaMark =
  | { kind: 'boot'; node: string; id: string; epoch: number }
  /** Anything after which a redelivery is allowed. */
  | { kind: 'fault'; node: string; what: string }
  | NodeMark
  | { kind: 'attempt'; key: string; node: string; id: string; type: string; intended: string[] }
  | { kind: 'acked'; key: string; seq: number }
  | { kind: 'unacked'; key: string; code: string }
  /** Own events (origin seqs) the partner had taken over, retired by a giveback. */
  | { kind: 'giveback'; node: string; id: string; seqs: number[] }
  | {
      kind: 'delivered';
      by: string;
      recipient: string;
      key: string;
      type: string;
      /** The dedupe key's node and seq. */
      node: string;
      seq: number;
      /** The stream it was delivered for: the node of the last hop, or the deliverer's own. */
      stream: string;
      takenOver: boolean;
      /** The grant it was delivered under, and the stream's latest grant then. */
      token: string | null;
      latest: string | null;
    };

export interface HaVerdict {
  findings: Finding[];
  /** Deliveries of a key to a recipient after its first, each following a fault. */
  redeliveries: number;
  deliveries: number;
  acked: number;
}

type Delivery = Extract<HaMark, { kind: 'delivered' }>;

export function checkHa(marks: readonly HaMark[], grants: readonly LeaseGrant[]): HaVerdict {
  const findings: Finding[] = [];
  const attempts = new Map<string, Extract<HaMark, { kind: 'attempt' }>>();
  const acked = new Map<string, number>();
  const names = new Map<string, string>(); // node id -> node name
  const lastSeen = new Map<string, { index: number; by: string }>(); // recipient + key
  const retired = new Map<string, Set<number>>(); // node id -> own seqs given back
  let lastFault = -1;
  let redeliveries = 0;
  let deliveries = 0;
  marks.forEach((mark, index) => {
    switch (mark.kind) {
      case 'boot':
        names.set(mark.id, mark.node);
        break;
      case 'fault':
        lastFault = index;
        break;
      case 'attempt':
        attempts.set(mark.key, mark);
        break;
      case 'acked':
        acked.set(mark.key, mark.seq);
        break;
      case 'giveback': {
        lastFault = index;
        const seqs = retired.get(mark.id) ?? new Set<number>();
        for (const seq of mark.seqs) seqs.add(seq);
        retired.set(mark.id, seqs);
        break;
      }
      case 'refused':
      case 'defect':
        findings.push(nodeMarkFinding(mark));
        break;
      case 'delivered': {
        deliveries++;
        const problem =
          garbage(mark, attempts, acked) ??
          fencing(mark, grants, names) ??
          givenBack(mark, retired, names);
        if (problem !== null) {
          findings.push({ ...problem, sequences: [mark.seq] });
          break;
        }
        const where = `${mark.recipient}/${mark.node}:${mark.seq}`;
        const before = lastSeen.get(where);
        lastSeen.set(where, { index, by: mark.by });
        if (before === undefined) break;
        // after a fault, or the other node's copy (only a takeover makes one): a redelivery
        if (before.index < lastFault || before.by !== mark.by) redeliveries++;
        else
          findings.push({
            invariant: 'double-delivery',
            message: `${mark.recipient} got ${trail(mark)} twice (by ${mark.by}) with no fault between`,
            sequences: [mark.seq],
          });
        break;
      }
      default:
        break;
    }
  });
  for (const [key, seq] of acked) {
    const attempt = attempts.get(key);
    for (const recipient of attempt?.intended ?? []) {
      if (lastSeen.has(`${recipient}/${attempt?.id}:${seq}`)) continue;
      findings.push({
        invariant: 'no-loss',
        message: `${attempt?.node} seq ${seq} (${attempt?.type}) was acknowledged but never reached ${recipient}`,
        sequences: [seq],
      });
    }
  }
  return { findings, redeliveries, deliveries, acked: acked.size };
}

function garbage(
  mark: Delivery,
  attempts: Map<string, Extract<HaMark, { kind: 'attempt' }>>,
  acked: Map<string, number>,
): Omit<Finding, 'sequences'> | null {
  const attempt = attempts.get(mark.key);
  const seq = acked.get(mark.key);
  if (
    attempt !== undefined &&
    attempt.type === mark.type &&
    attempt.id === mark.node &&
    (seq === undefined || seq === mark.seq) &&
    attempt.intended.includes(mark.recipient)
  )
    return null;
  return {
    invariant: 'no-garbage',
    message: `${mark.recipient} was delivered ${trail(mark)} (${mark.type}, details ${mark.key}) by ${mark.by}, which no emit asked for as such`,
  };
}

function fencing(
  mark: Delivery,
  grants: readonly LeaseGrant[],
  names: Map<string, string>,
): Omit<Finding, 'sequences'> | null {
  const stream = names.get(mark.stream) ?? mark.stream;
  const grant = grants.find((g) => g.stream === stream && g.token.toString() === mark.token);
  if (!mark.takenOver && grant?.holder === mark.by && mark.latest === mark.token) return null;
  if (mark.takenOver && grant?.holder === mark.by) return null;
  const held = grant === undefined ? 'no grant' : `the grant of ${grant.holder}`;
  return {
    invariant: 'fencing',
    message: `${mark.by} delivered ${trail(mark)} of stream ${stream} under token ${mark.token} (${held}; latest ${mark.latest})`,
  };
}

function givenBack(
  mark: Delivery,
  retired: Map<string, Set<number>>,
  names: Map<string, string>,
): Omit<Finding, 'sequences'> | null {
  if (mark.takenOver || names.get(mark.node) !== mark.by) return null;
  if (retired.get(mark.node)?.has(mark.seq) !== true) return null;
  return {
    invariant: 'giveback',
    message: `${mark.by} delivered its seq ${mark.seq} to ${mark.recipient} again after its partner had taken it over`,
  };
}

function trail(mark: Delivery): string {
  return `${mark.node.replace(/^0+/, '')}:${mark.seq}`;
}
