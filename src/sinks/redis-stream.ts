/** The `redis-stream` sink (to be built): XADD, confirmed once the server made it durable. */
import { outcomes, type SinkEvent, type SinkOutcome, type SinkTransport } from './sink.js';

export interface RedisStreamOptions {
  url: string;
  stream: string;
  maxlen?: number | undefined;
  waitReplicas: number;
  waitTimeoutMs: number;
  requireFsyncAlways: boolean;
  timeoutMs: number;
}

export class RedisStreamTransport implements SinkTransport {
  readonly target: string;
  constructor(options: RedisStreamOptions) {
    this.target = `${options.url} ${options.stream}`;
  }
  send(batch: readonly SinkEvent[]): Promise<SinkOutcome[]> {
    return Promise.resolve(outcomes(batch, { kind: 'retry', reason: 'redis-stream: not built' }));
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}
