/**
 * The end-to-end check of a cluster run (SPEC section 4 across nodes): what the origin's
 * producer was told and what every leaf recipient of every multiplexing recipient saw.
 *
 *   no-loss        every event the origin acknowledged reached every leaf it was meant for;
 *   no-garbage     every delivery is an event some emit at the origin asked for, with its type,
 *                  severity and details, and its origin trail starts at the origin with that
 *                  emit's seq;
 *   recorded-once  no multiplexing recipient recorded an upstream event twice: all deliveries
 *                  of one event to one leaf carry the same seq and the same trail (a second
 *                  record anywhere on the path would give the leaf a second seq or trail);
 *   released       once quiescent, no mux still holds an event (each was confirmed upstream);
 *   recovery       every boot succeeded (a typed refusal of a crash image is a finding);
 *
 * A node's own reports (`nvrelay.*`, e.g. a torn record found at boot) travel like any event
 * and are not judged here (the single-device workloads check them).
 *   defect         nothing was thrown where nobody waits for it.
 */
import type { OriginHop } from '../../src/events/origin.js';
import { nodeMarkFinding, type Finding, type NodeMark } from '../subject.js';
import { clusterNodes, nodeIdOf } from './topology.js';

export type ClusterMark =
  | { kind: 'boot'; node: string; epoch: number }
  | { kind: 'cut'; node: string; epoch: number }
  | NodeMark
  | { kind: 'dropped'; link: string }
  /** A mux refused to record an upstream event (QueueFull, ...): not confirmed, sent again. */
  | { kind: 'not-recorded'; node: string; seq: number; code: string }
  | { kind: 'attempt'; key: string; type: string; level: number; intended: string[] }
  | { kind: 'acked'; key: string; seq: number }
  | { kind: 'rejected'; key: string; code: string }
  | {
      kind: 'delivered';
      leaf: string;
      seq: number;
      source: string;
      type: string;
      level: number;
      details: string;
      origin: OriginHop[];
    };

export function checkCluster(marks: readonly ClusterMark[], leftHeld: number): Finding[] {
  const findings: Finding[] = [];
  const attempts = new Map<string, Extract<ClusterMark, { kind: 'attempt' }>>();
  const acked = new Map<string, number>();
  const seen = new Map<string, Map<string, string>>(); // leaf -> key -> seq and trail
  const originId = nodeIdOf(clusterNodes[0] as (typeof clusterNodes)[number]);
  for (const mark of marks) {
    switch (mark.kind) {
      case 'attempt':
        attempts.set(mark.key, mark);
        break;
      case 'acked':
        acked.set(mark.key, mark.seq);
        break;
      case 'refused':
      case 'defect':
        findings.push(nodeMarkFinding(mark));
        break;
      case 'delivered': {
        // a node's own reports (a boot's nvrelay.record.torn, ...) are events of that node
        if (mark.type.startsWith('nvrelay.')) break;
        const attempt = attempts.get(mark.details);
        const first = mark.origin[0];
        const seq = acked.get(mark.details);
        if (
          attempt === undefined ||
          mark.source !== 'raid' ||
          attempt.type !== mark.type ||
          attempt.level !== mark.level ||
          first?.node !== originId ||
          (seq !== undefined && first.seq !== seq) ||
          !attempt.intended.includes(mark.leaf)
        ) {
          findings.push({
            invariant: 'no-garbage',
            message: `${mark.leaf} was delivered seq ${mark.seq} (${mark.type}, details ${mark.details}, origin ${trail(mark.origin)}), which no emit asked for as such`,
            sequences: [mark.seq],
          });
          break;
        }
        const byKey = seen.get(mark.leaf) ?? new Map<string, string>();
        seen.set(mark.leaf, byKey);
        const identity = `seq ${mark.seq} via ${trail(mark.origin)}`;
        const before = byKey.get(mark.details);
        if (before === undefined) byKey.set(mark.details, identity);
        else if (before !== identity)
          findings.push({
            invariant: 'recorded-once',
            message: `${mark.leaf} got origin seq ${first.seq} as two events: ${before}, then ${identity}`,
            sequences: [first.seq],
          });
        break;
      }
      default:
        break;
    }
  }
  for (const [key, seq] of acked) {
    const attempt = attempts.get(key);
    for (const leaf of attempt?.intended ?? []) {
      if (seen.get(leaf)?.has(key) === true) continue;
      findings.push({
        invariant: 'no-loss',
        message: `origin seq ${seq} (${attempt?.type}) was acknowledged but never reached ${leaf}`,
        sequences: [seq],
      });
    }
  }
  if (leftHeld > 0 && findings.length === 0)
    findings.push({
      invariant: 'released',
      message: `${leftHeld} events still held by a mux once the cluster was quiescent`,
    });
  return findings;
}

function trail(origin: readonly OriginHop[]): string {
  return origin.map((hop) => `${hop.node.replace(/^0+/, '')}:${hop.seq}`).join('>');
}
