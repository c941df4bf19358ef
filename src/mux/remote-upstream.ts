/**
 * An upstream reached over the wire (docs/PROTOCOL.md): the multiplexing recipient connects to
 * the upstream daemon as a remote recipient, under its own recipient name there [251], and
 * hands each delivery to its UpstreamLink. The client reconnects with backoff; after a
 * reconnect the upstream delivers again what this mux had not confirmed (the link recognises
 * what it holds), and the client sends again the confirmations not yet answered.
 */
import { connect, type Client, type ClientTls } from '../client/client.js';
import type { Severity } from '../events/severity.js';
import type { UpstreamLink } from './upstream-link.js';

export interface RemoteUpstreamOptions {
  /** The upstream daemon's address (unix:PATH, tcp://HOST:PORT, tls://HOST:PORT). */
  address: string;
  /** This mux's recipient name at the upstream. */
  recipient: string;
  prefixes?: string[];
  severityMax?: Severity;
  /** Deliveries in flight from the upstream at once. */
  window?: number;
  tls?: ClientTls;
}

/** Connects `link` to its upstream daemon; resolves once subscribed. */
export async function connectUpstream(
  link: UpstreamLink,
  options: RemoteUpstreamOptions,
): Promise<Client> {
  const client = await connect(options.address, {
    client: `mux-${link.name}`,
    ...(options.tls !== undefined ? { tls: options.tls } : {}),
  });
  const confirmer = await client.subscribe(
    options.recipient,
    {
      ...(options.prefixes !== undefined ? { prefixes: options.prefixes } : {}),
      ...(options.severityMax !== undefined ? { severityMax: options.severityMax } : {}),
      ...(options.window !== undefined ? { window: options.window } : {}),
    },
    (event, recipient) => {
      // deliveries may come before subscribe() resolves (in the SUBSCRIBED frame's chunk)
      if (link.node === null) link.connected(client.node, recipient);
      link.receive(event);
    },
  );
  if (link.node === null) link.connected(client.node, confirmer); // held events go out when ready
  return client;
}
