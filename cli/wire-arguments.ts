/** Arguments of the commands that speak to a daemon (serve, emit, tail), checked by commander. */
import { InvalidArgumentError } from 'commander';
import { severityLevel, type Severity } from '../src/events/severity.js';
import type { Durability } from '../src/nvram/index.js';

export function parseDurability(text: string): Durability {
  if (text !== 'process' && text !== 'power')
    throw new InvalidArgumentError(`'${text}' is not a durability (process or power)`);
  return text;
}

export function parseSeverity(text: string): Severity {
  const value: Severity = /^\d$/.test(text) ? Number(text) : (text as Severity);
  try {
    severityLevel(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message.replace(/^nvrelay: /, ''));
  }
  return value;
}

/** HOST:PORT, the host a name, an IPv4 address or a bracketed IPv6 address. */
export function parseHostPort(text: string): { host: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:[\]]+):(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (match === null || port > 65_535)
    throw new InvalidArgumentError(`expected HOST:PORT, got '${text}'`);
  return { host: (match[1] as string).replace(/^\[|\]$/g, ''), port };
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
