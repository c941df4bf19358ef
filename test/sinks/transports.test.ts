/**
 * A sink's transport made from its config (src/sinks/transports.ts): a webhook's secret read
 * from the environment (BAD_ARGUMENT when the variable is unset or empty), a relp sink's
 * hostname defaulting to this machine's, and a sink config that reuses a recipient's name
 * refused by the daemon's config (src/daemon/config.ts).
 */
import { createServer, type AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { describe, expect, test } from 'vitest';
import { parseConfig } from '../../src/daemon/config.js';
import { RelpFrameReader, encodeFrame } from '../../src/sinks/relp-frames.js';
import { openTransport } from '../../src/sinks/transports.js';

function sinkConfig(sink: Record<string, unknown>) {
  return parseConfig({ sinks: { out: sink } }).sinks['out']!;
}

describe('a transport from its config', () => {
  test("a webhook's secretEnv unset or empty is BAD_ARGUMENT naming the sink and the variable", () => {
    const config = sinkConfig({
      kind: 'webhook',
      url: 'http://127.0.0.1:1/events',
      secretEnv: 'NVRELAY_TEST_HOOK_KEY',
    });
    for (const env of [{}, { NVRELAY_TEST_HOOK_KEY: '' }])
      expect(() => openTransport('out', config, env)).toThrow(
        expect.objectContaining({
          code: 'BAD_ARGUMENT',
          message:
            'nvrelay: sinks.out.secretEnv: the environment variable NVRELAY_TEST_HOOK_KEY is not set',
        }),
      );
    const transport = openTransport('out', config, { NVRELAY_TEST_HOOK_KEY: 'k' });
    expect(transport.target).toBe('http://127.0.0.1:1/events');
  });

  test('a relp sink without a hostname sends as this machine; an IPv6 address loses its brackets', async () => {
    expect(openTransport('out', sinkConfig({ kind: 'relp', address: '[::1]:2514' })).target).toBe(
      'relp://[::1]:2514',
    );
    // a RELP server that opens the session and keeps the syslog messages
    const messages: string[] = [];
    const reader = new RelpFrameReader();
    const server = createServer((socket) => {
      socket.on('data', (chunk: Buffer) => {
        for (const frame of reader.push(chunk)) {
          if (frame.command === 'syslog') messages.push(frame.data.toString());
          const data =
            frame.command === 'open' ? '200 OK\nrelp_version=0\ncommands=syslog' : '200 OK';
          socket.write(encodeFrame(frame.txnr, 'rsp', Buffer.from(data)));
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const transport = openTransport(
      'out',
      sinkConfig({ kind: 'relp', address: `127.0.0.1:${port}` }),
    );
    try {
      expect(
        await transport.send([
          {
            node: '00000000000000aa',
            seq: 1,
            time: 0,
            level: 6,
            severity: 'info',
            source: 'app',
            type: 't',
            details: new Uint8Array(),
            replayed: false,
            attempt: 1,
            origin: [],
          },
        ]),
      ).toEqual([{ kind: 'held' }]);
      expect(messages[0]?.split(' ')[2]).toBe(
        hostname()
          .replace(/[^!-~]/g, '')
          .slice(0, 255),
      );
    } finally {
      await transport.close();
      server.close();
    }
  });

  test('a sink named as a recipient is refused: it is a recipient of its own', () => {
    expect(() =>
      parseConfig({
        recipients: { audit: {} },
        sinks: { audit: { kind: 'jsonl', path: '/tmp/nvrelay-never-written.jsonl' } },
      }),
    ).toThrow(
      expect.objectContaining({
        code: 'BAD_ARGUMENT',
        message: expect.stringContaining("'audit' is also a recipient's name"),
      }),
    );
  });
});
