/**
 * The origin trail a relayed record carries (record flag 4): the path an event took through
 * multiplexing recipients [171, 180, 181, 251-252]. Hop 0 is the node that first recorded it;
 * each multiplexing recipient that records it again appends the node it received it from, so
 * the last hop is the immediate upstream, and (last hop's node, last hop's seq) is the key a
 * multiplexing recipient records an event under exactly once (src/mux).
 *
 * Encoded after the details (docs/ARCHITECTURE.md, "Event record"):
 *
 * | off | size | field | |
 * |---:|---:|---|---|
 * | 0 | 1 | hops | 1..originHopsMax |
 * | 1 + 16k | 8 | node | hop k's node id (its device id), most significant byte first |
 * | 9 + 16k | 8 | seq | the seq the event had on that node, u64 LE, 1..seqMax |
 */
import { seqMax } from '../constants.js';
import { badArgument } from './errors.js';

/** One node an event passed through, and its seq there. */
export interface OriginHop {
  /** The node's id: its device id, 16 lowercase hex digits. */
  node: string;
  seq: number;
}

/** A tree of multiplexing recipients at most this deep (the trail's hop count is one byte). */
export const originHopsMax = 8;
export const originHopBytes = 16;

/** Bytes a trail of `hops` hops takes after the details. */
export function originBytes(hops: number): number {
  return 1 + originHopBytes * hops;
}

const nodePattern = /^[0-9a-f]{16}$/;
const twoTo32 = 2 ** 32;

/** The trail encoded for writeRecord; a typed BAD_ARGUMENT for a bad hop. */
export function encodeOrigin(hops: readonly OriginHop[]): Uint8Array {
  if (hops.length < 1 || hops.length > originHopsMax)
    badArgument(`an origin trail has 1..${originHopsMax} hops, got ${hops.length}`);
  const bytes = new Uint8Array(originBytes(hops.length));
  const view = new DataView(bytes.buffer);
  bytes[0] = hops.length;
  hops.forEach((hop, k) => {
    if (typeof hop.node !== 'string' || !nodePattern.test(hop.node))
      badArgument(`origin hop ${k}: node must be 16 lowercase hex digits`);
    if (!Number.isSafeInteger(hop.seq) || hop.seq < 1 || hop.seq > seqMax)
      badArgument(`origin hop ${k}: seq must be an integer in [1, ${seqMax}]`);
    const at = 1 + originHopBytes * k;
    view.setUint32(at, Number.parseInt(hop.node.slice(0, 8), 16));
    view.setUint32(at + 4, Number.parseInt(hop.node.slice(8), 16));
    view.setUint32(at + 8, hop.seq % twoTo32, true);
    view.setUint32(at + 12, Math.floor(hop.seq / twoTo32), true);
  });
  return bytes;
}

/** The path as operators read it: `node:seq>node:seq`, first hop first (dump, tail). */
export function formatOrigin(hops: readonly OriginHop[]): string {
  return hops.map((hop) => `${hop.node}:${hop.seq}`).join('>');
}

/** The hop count at `at` if a trail of it fits before `end`; 0 if not a valid count. */
export function originHopsAt(bytes: Uint8Array, at: number, end: number): number {
  if (at >= end) return 0;
  const hops = bytes[at] as number;
  return hops >= 1 && hops <= originHopsMax ? hops : 0;
}

/** True if every hop's seq is in range (the record check, after the CRC). */
export function originSeqsValid(view: DataView, at: number, hops: number): boolean {
  for (let k = 0; k < hops; k++) {
    const seq = hopSeq(view, at, k);
    if (seq < 1 || seq > seqMax) return false;
  }
  return true;
}

/** Decodes a checked trail starting at its hop count byte. */
export function decodeOrigin(bytes: Uint8Array, at: number): OriginHop[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hops: OriginHop[] = [];
  for (let k = 0; k < (bytes[at] as number); k++) hops.push(decodeHop(view, at, k));
  return hops;
}

/** Hop k of the trail at `at` (its count byte). */
export function decodeHop(view: DataView, at: number, k: number): OriginHop {
  const offset = at + 1 + originHopBytes * k;
  const node =
    view.getUint32(offset).toString(16).padStart(8, '0') +
    view
      .getUint32(offset + 4)
      .toString(16)
      .padStart(8, '0');
  return { node, seq: hopSeq(view, at, k) };
}

function hopSeq(view: DataView, at: number, k: number): number {
  const offset = at + 1 + originHopBytes * k + 8;
  return view.getUint32(offset + 4, true) * twoTo32 + view.getUint32(offset, true);
}
