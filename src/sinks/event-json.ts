/**
 * The one JSON shape every sink writes (docs/CONFIG.md, "sinks"): the event's identity (node, seq), its
 * time as ISO 8601, severity, source, type, the details (parsed if they are JSON, else base64,
 * never lost), and the origin trail of a relayed event.
 */
import { formatOrigin } from '../events/origin.js';
import type { SinkEvent } from './sink.js';

export interface EventJson {
  node: string;
  seq: number;
  time: string;
  severity: string;
  source: string;
  type: string;
  /** The details, if they are a JSON text. */
  details?: unknown;
  /** Otherwise the details' bytes, base64 (absent when there are none). */
  detailsBase64?: string;
  replayed?: true;
  /** `node:seq>node:seq`, oldest hop first, for a relayed event. */
  origin?: string;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

export function eventJson(event: SinkEvent): EventJson {
  const json: EventJson = {
    node: event.node,
    seq: event.seq,
    time: new Date(event.time).toISOString(),
    severity: event.severity,
    source: event.source,
    type: event.type,
  };
  if (event.details.length > 0) {
    const parsed = parseDetails(event.details);
    if (parsed.ok) json.details = parsed.value;
    else json.detailsBase64 = Buffer.from(event.details).toString('base64');
  }
  if (event.replayed) json.replayed = true;
  if (event.origin.length > 0) json.origin = formatOrigin(event.origin);
  return json;
}

function parseDetails(bytes: Uint8Array): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(decoder.decode(bytes)) as unknown };
  } catch {
    return { ok: false };
  }
}
