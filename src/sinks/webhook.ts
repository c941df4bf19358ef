/** The `webhook` sink (to be built): HTTP POST of events as JSON, confirmed on 2xx. */
import { outcomes, type SinkEvent, type SinkOutcome, type SinkTransport } from './sink.js';

export interface WebhookOptions {
  url: string;
  /** HMAC-SHA256 key for the signature header; null: unsigned. */
  secret: Buffer | null;
  timeoutMs: number;
  headers: Record<string, string>;
  batchMax: number;
}

export class WebhookTransport implements SinkTransport {
  readonly target: string;
  constructor(options: WebhookOptions) {
    this.target = options.url;
  }
  send(batch: readonly SinkEvent[]): Promise<SinkOutcome[]> {
    return Promise.resolve(outcomes(batch, { kind: 'retry', reason: 'webhook: not built' }));
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}
