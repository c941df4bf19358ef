/**
 * The operations endpoint of `nvrelay serve --metrics [host:]port`: one HTTP port serving
 *
 *   /metrics       Prometheus text (./metrics.ts)
 *   /status.json   the daemon at one instant (./status.ts)
 *   /              the status page (./status-page.ts), which reads /status.json every second
 *
 * GET and HEAD only. It listens on loopback unless told otherwise: the page names recipients
 * and event types, and nothing here asks who is reading. On a loopback address a request must
 * name a loopback host or an IP address in its Host header, so that a web page whose name was
 * rebound to 127.0.0.1 (DNS rebinding) cannot read the page from a browser on this machine.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import type { Daemon } from '../daemon/daemon.js';
import { isLoopback, type OperationsAddress } from './address.js';
import { createMetrics } from './metrics.js';
import { Sampler } from './sampler.js';
import { statusJson, statusSnapshot } from './status.js';
import { statusPage, statusPagePolicy } from './status-page.js';

export interface OperationsServer {
  /** The port bound (the one asked for, or the system's choice for 0). */
  readonly port: number;
  readonly address: AddressInfo;
  /** Stops listening, drops open connections (a browser keeps one alive) and the hooks. */
  close(): Promise<void>;
}

/** Starts the endpoint for a running daemon; rejects if the address cannot be bound. */
export async function start(daemon: Daemon, address: OperationsAddress): Promise<OperationsServer> {
  if (!isLoopback(address.host))
    daemon.log.warn(
      { host: address.host },
      'the operations endpoint listens beyond loopback: whoever reaches it sees recipient names, event types and counts',
    );
  const startedAt = Date.now();
  const sampler = new Sampler(daemon);
  const metrics = createMetrics(daemon, sampler);
  const loopbackOnly = isLoopback(address.host);
  const server = createServer((request, response) => {
    respond(request, response).catch((error: unknown) => {
      daemon.log.error({ err: error, url: request.url }, 'operations endpoint: request failed');
      if (!response.headersSent) send(response, 500, 'text/plain; charset=utf-8', 'error\n');
      else response.destroy();
    });
  });

  async function respond(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('Allow', 'GET, HEAD');
      send(response, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
      return;
    }
    if (loopbackOnly && !hostAllowed(request.headers.host)) {
      send(
        response,
        403,
        'text/plain; charset=utf-8',
        'this endpoint answers to a loopback host\n',
      );
      return;
    }
    const target = request.url ?? '/';
    const path = URL.canParse(target, 'http://localhost')
      ? new URL(target, 'http://localhost').pathname
      : null;
    if (path === null) send(response, 400, 'text/plain; charset=utf-8', 'bad request target\n');
    else if (path === '/metrics') {
      const text = await metrics.registry.metrics();
      send(response, 200, metrics.registry.contentType, text);
    } else if (path === '/status.json') {
      const snapshot = statusSnapshot(daemon, sampler, startedAt);
      send(response, 200, 'application/json; charset=utf-8', statusJson(snapshot));
    } else if (path === '/') {
      response.setHeader('Content-Security-Policy', statusPagePolicy);
      send(response, 200, 'text/html; charset=utf-8', statusPage);
    } else send(response, 404, 'text/plain; charset=utf-8', 'not found\n');
  }

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: address.host, port: address.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    metrics.close();
    throw error;
  }
  const bound = server.address() as AddressInfo;
  let closing: Promise<void> | null = null;
  return {
    port: bound.port,
    address: bound,
    close() {
      closing ??= new Promise<void>((resolve) => {
        metrics.close();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/** Host header: a loopback name or an IP address (which no DNS rebinding can stand behind). */
function hostAllowed(header: string | undefined): boolean {
  if (header === undefined) return true; // HTTP/1.0: no name was looked up to get here
  const host = header.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return isLoopback(host) || isIP(host) !== 0;
}

function send(response: ServerResponse, status: number, type: string, body: string): void {
  const bytes = Buffer.from(body);
  response.writeHead(status, {
    'Content-Type': type,
    'Content-Length': bytes.length,
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
  });
  response.end(bytes); // no body for HEAD: node:http knows the method
}
