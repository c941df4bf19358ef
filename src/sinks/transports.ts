/**
 * A sink's transport from its config: files named in the config (TLS) and the environment
 * variable holding a webhook's key are read here, before the device is opened, so a mistake
 * stops `serve` with BAD_ARGUMENT and leaves the device as it was.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { NodeError } from '../events/errors.js';
import type { SinkConfig } from '../daemon/config.js';
import { facilityNames } from './config.js';
import { JsonlTransport } from './jsonl.js';
import { RedisStreamTransport } from './redis-stream.js';
import { RelpTransport } from './relp.js';
import type { SinkTransport } from './sink.js';
import { WebhookTransport } from './webhook.js';

export function openTransport(
  name: string,
  config: SinkConfig,
  env: NodeJS.ProcessEnv = process.env,
): SinkTransport {
  switch (config.kind) {
    case 'jsonl':
      return new JsonlTransport(config);
    case 'webhook':
      return new WebhookTransport({ ...config, secret: secret(name, config.secretEnv, env) });
    case 'redis-stream':
      return new RedisStreamTransport(config);
    case 'relp': {
      const at = config.address.lastIndexOf(':');
      return new RelpTransport({
        host: config.address.slice(0, at).replace(/^\[(.*)\]$/, '$1'),
        port: Number(config.address.slice(at + 1)),
        tls: config.tls === undefined ? undefined : readTls(name, config.tls),
        facility: facilityNames.indexOf(config.facility),
        appName: config.appName,
        hostname: config.hostname ?? hostname(),
        timeoutMs: config.timeoutMs,
      });
    }
  }
}

function secret(name: string, variable: string | undefined, env: NodeJS.ProcessEnv): Buffer | null {
  if (variable === undefined) return null;
  const value = env[variable];
  if (value === undefined || value === '')
    throw new NodeError(
      'BAD_ARGUMENT',
      `nvrelay: sinks.${name}.secretEnv: the environment variable ${variable} is not set`,
    );
  return Buffer.from(value);
}

function readTls(
  name: string,
  files: { cert: string; key: string; ca: string },
): { cert: Buffer; key: Buffer; ca: Buffer } {
  const read = (file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new NodeError(
        'BAD_ARGUMENT',
        `nvrelay: sinks.${name}.tls: ${(error as Error).message}`,
      );
    }
  };
  return { cert: read(files.cert), key: read(files.key), ca: read(files.ca) };
}
