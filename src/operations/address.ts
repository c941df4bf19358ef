/**
 * Where the operations endpoint listens (`--metrics [host:]port`), in a file of its own so that
 * the command line can check the argument without loading the endpoint (and prom-client).
 */
import { isIP } from 'node:net';

export interface OperationsAddress {
  host: string;
  /** 0: any free port. */
  port: number;
}

/** The host of a bare port: loopback, so that nothing is exposed by default. */
export const operationsHostDefault = '127.0.0.1';

/** `[host:]port`: a bare port means 127.0.0.1; an IPv6 host goes in brackets. */
export function parseOperationsAddress(text: string): OperationsAddress {
  const match = /^(?:(\[[0-9A-Fa-f:.]+\]|[^:[\]\s]+):)?(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[2]);
  if (match === null || port > 65_535)
    throw new Error(`expected [HOST:]PORT (e.g. 9464 or 0.0.0.0:9464), got '${text}'`);
  const host = match[1]?.replace(/^\[|\]$/g, '') ?? operationsHostDefault;
  return { host, port };
}

/** A loopback address (an IPv4-mapped one too: `::ffff:127.0.0.1`), or a name for one. */
export function isLoopback(host: string): boolean {
  const name = host.toLowerCase().replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
  return (
    name === 'localhost' ||
    name.endsWith('.localhost') ||
    name === '::1' ||
    (isIP(name) === 4 && name.startsWith('127.'))
  );
}
