/**
 * What the client refuses itself, before anything is sent: details its daemon could never take
 * (over the WELCOME's detailsBytesMax, or over the EMIT frame's u16 length) and a type prefix
 * SUBSCRIBE cannot carry. Sent, the daemon would drop the connection as BAD_FRAME, and the
 * reconnect would send them again, for ever.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { connect, type Client } from '../../src/client/client.js';
import { startDaemon, within, type TestDaemon } from '../daemon/harness.js';

let daemon: TestDaemon;
let client: Client;

beforeAll(async () => {
  daemon = await startDaemon();
  client = await connect(`unix:${daemon.socket}`);
});

afterAll(async () => {
  client.close();
  await daemon.remove();
});

describe('the client refuses what its daemon could never take', () => {
  test('details over the u16 frame length or the device limit: EVENT_TOO_LARGE, no reconnect', async () => {
    const producer = client.producer('raid');
    for (const size of [70_000, client.detailsBytesMax + 1]) {
      const refused = producer.emit('disk.failed', 'err', new Uint8Array(size));
      await expect(within(refused, 5_000, `${size} bytes`)).rejects.toMatchObject({
        code: 'EVENT_TOO_LARGE',
      });
    }
    expect(client.reconnects).toBe(0);
    // the connection is still good
    const seq = await within(producer.emit('disk.failed', 'err', 'fits'), 5_000, 'an emit');
    expect(seq).toBeGreaterThan(0);
  });

  test('a type prefix SUBSCRIBE cannot carry: BAD_ARGUMENT, nothing sent', async () => {
    for (const prefix of ['Bad Prefix', 'x'.repeat(65), 'disk/*'])
      await expect(
        client.subscribe('audit', { prefixes: [prefix] }, () => {}),
      ).rejects.toMatchObject({
        code: 'BAD_ARGUMENT',
      });
    expect(client.reconnects).toBe(0);
  });
});
