/** The `relp` sink (to be built): syslog messages over RELP, confirmed on `rsp 200`. */
import { outcomes, type SinkEvent, type SinkOutcome, type SinkTransport } from './sink.js';

export interface RelpOptions {
  host: string;
  port: number;
  /** Client certificate, key and the server's CA (PEM), for RELP over TLS. */
  tls?: { cert: Buffer; key: Buffer; ca: Buffer } | undefined;
  /** syslog facility number (local0: 16). */
  facility: number;
  appName: string;
  hostname: string;
  timeoutMs: number;
}

export class RelpTransport implements SinkTransport {
  readonly target: string;
  constructor(options: RelpOptions) {
    this.target = `relp://${options.host}:${options.port}`;
  }
  send(batch: readonly SinkEvent[]): Promise<SinkOutcome[]> {
    return Promise.resolve(outcomes(batch, { kind: 'retry', reason: 'relp: not built' }));
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}
