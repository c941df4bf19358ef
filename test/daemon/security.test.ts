/**
 * The daemon's doors: the Unix socket is its owner's only (mode 0600); TCP is TLS with client
 * certificates from the configured CA (none, or one from another CA, and the handshake is
 * refused); plaintext TCP is for loopback only (BAD_ARGUMENT, before the device is touched);
 * a second daemon on one device meets the device lock (NVRAM_LOCKED). Certificates are made
 * here with openssl, in a temp dir.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { connect } from '../../src/client/client.js';
import { defaultConfig } from '../../src/daemon/config.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { NodeError } from '../../src/events/errors.js';
import { FrameType, encodeFrame, wireVersion } from '../../src/wire/frames.js';
import { cliMain, startDaemon, within, type TestDaemon } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'nvrelay-security-'));
const pem = (name: string): Buffer => readFileSync(join(dir, name));

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A key and a certificate signed by `ca` (self-signed if `ca` is null). */
function certificate(name: string, subject: string, ca: string | null, san?: string): void {
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  if (ca === null) {
    openssl(
      'req',
      '-x509',
      ...key,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-subj',
      subject,
    );
    return;
  }
  openssl('req', ...key, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject);
  const extensions = [`${name}.ext`];
  writeFileSync(
    join(dir, `${name}.ext`),
    san === undefined ? 'basicConstraints=CA:FALSE\n' : `subjectAltName=${san}\n`,
  );
  openssl(
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.pem`,
    '-CAkey',
    `${ca}.key`,
    '-CAcreateserial',
    '-out',
    `${name}.pem`,
    '-days',
    '2',
    '-extfile',
    ...extensions,
  );
}

function nvrelay(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [cliMain, ...args], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

beforeAll(() => {
  if (!existsSync(cliMain)) throw new Error(`${cliMain} is missing: run 'npm run build' first`);
  certificate('ca', '/CN=nvrelay test CA', null);
  certificate('server', '/CN=localhost', 'ca', 'IP:127.0.0.1,DNS:localhost');
  certificate('client', '/CN=nvrelay test client', 'ca');
  certificate('other-ca', '/CN=another CA', null);
  certificate('stranger', '/CN=nvrelay stranger', 'other-ca');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the Unix socket', () => {
  test('is mode 0600', async () => {
    const t = await startDaemon();
    try {
      const stat = statSync(t.socket);
      expect(stat.isSocket()).toBe(true);
      expect(stat.mode & 0o777).toBe(0o600);
    } finally {
      await t.remove();
    }
  });
});

describe('TLS on --listen', () => {
  let t: TestDaemon;
  let port: number;

  beforeAll(async () => {
    t = await startDaemon({
      listen: { host: '127.0.0.1', port: 0 },
      tls: { cert: pem('server.pem'), key: pem('server.key'), ca: pem('ca.pem') },
    });
    port = t.daemon.port as number;
  });

  afterAll(async () => {
    await t.remove();
  });

  test('a client certificate signed by the configured CA: emits and gets an ack', async () => {
    const client = await within(
      connect(`tls://127.0.0.1:${port}`, {
        client: 'tls-test',
        tls: { cert: pem('client.pem'), key: pem('client.key'), ca: pem('ca.pem') },
      }),
      10_000,
      'a TLS client to connect',
    );
    try {
      const seq = await within(client.producer('tls').emit('tls.ok', 'info', 'x'), 10_000, 'ack');
      expect(seq).toBeGreaterThan(0);
    } finally {
      client.close();
    }
  });

  /** A raw TLS connection that says HELLO: what came back and how it ended. */
  test('a mux whose upstream is this daemon over TLS (the config names its PEM files) relays', async () => {
    const mux = await startDaemon({
      config: {
        upstreams: {
          up: {
            address: `tls://127.0.0.1:${port}`,
            recipient: 'hub',
            tls: {
              cert: join(dir, 'client.pem'),
              key: join(dir, 'client.key'),
              ca: join(dir, 'ca.pem'),
            },
          },
        },
        recipients: { all: {} },
      },
    });
    const producer = await connect(`tls://127.0.0.1:${port}`, {
      client: 'tls-producer',
      tls: { cert: pem('client.pem'), key: pem('client.key'), ca: pem('ca.pem') },
    });
    const down = await connect(`unix:${mux.socket}`);
    try {
      const received = new Promise<{ seq: number; origin: unknown }>((resolve) => {
        void down.subscribe('all', {}, (event, r) => {
          if (event.type !== 'tls.relayed') return;
          r.confirm(event.seq);
          resolve({ seq: event.seq, origin: event.origin });
        });
      });
      const seq = await producer.producer('raid').emit('tls.relayed', 'err', 'over TLS');
      const event = await within(received, 10_000, 'the relayed event');
      expect(event.origin).toEqual([{ node: producer.node, seq }]);
    } finally {
      producer.close();
      down.close();
      await mux.remove();
    }
  });

  async function attempt(cert?: { cert: Buffer; key: Buffer }): Promise<{
    welcomed: boolean;
    error: string | null;
  }> {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca: pem('ca.pem'), ...cert });
    let received = 0;
    let error: string | null = null;
    socket.on('data', (chunk: Buffer) => (received += chunk.length));
    socket.on('error', (e) => (error ??= e.message));
    socket.on('secureConnect', () =>
      socket.write(
        encodeFrame({
          type: FrameType.hello,
          versionMin: wireVersion,
          versionMax: wireVersion,
          client: 'no-cert',
        }),
      ),
    );
    await within(new Promise((resolve) => socket.once('close', resolve)), 10_000, 'refusal');
    return { welcomed: received > 0, error };
  }

  test('no client certificate: the handshake is refused, nothing is answered', async () => {
    const result = await attempt();
    expect(result.welcomed).toBe(false);
    expect(result.error).toMatch(/certificate required/i);
    expect(t.daemon.connections).toBe(0);
  });

  test('a client certificate from another CA: refused', async () => {
    const result = await attempt({ cert: pem('stranger.pem'), key: pem('stranger.key') });
    expect(result.welcomed).toBe(false);
    // the daemon's alert may or may not reach the client before the close
    if (result.error !== null) expect(result.error).toMatch(/alert|certificate|ECONNRESET/i);
    expect(t.daemon.connections).toBe(0);
  });
});

describe('plaintext --listen', () => {
  test('on loopback: allowed', async () => {
    const t = await startDaemon({ listen: { host: '127.0.0.1', port: 0 } });
    try {
      const client = await within(
        connect(`tcp://127.0.0.1:${t.daemon.port as number}`),
        10_000,
        'connect',
      );
      try {
        expect(
          await within(client.producer('tcp').emit('tcp.ok', 'info'), 10_000, 'ack'),
        ).toBeGreaterThan(0);
      } finally {
        client.close();
      }
    } finally {
      await t.remove();
    }
  });

  test.each(['0.0.0.0', '::', '192.0.2.1', 'example.com'])(
    'on %s: BAD_ARGUMENT from Daemon.start, before the device is touched',
    async (host) => {
      const device = join(dir, `plain-${host.replace(/\W/g, '_')}.nvram`);
      const start = Daemon.start({
        device,
        durability: 'process',
        config: defaultConfig(),
        log: pino({ level: 'silent' }),
        socket: null,
        listen: { host, port: 0 },
      });
      await expect(start).rejects.toBeInstanceOf(NodeError);
      await expect(start).rejects.toMatchObject({
        code: 'BAD_ARGUMENT',
        message: expect.stringMatching(/plaintext TCP is allowed on a loopback address only/),
      });
      expect(existsSync(device)).toBe(false);
    },
  );

  test('nvrelay serve --listen 0.0.0.0:0: exit 1 and the message', () => {
    const device = join(dir, 'plain-cli.nvram');
    const result = nvrelay(
      'serve',
      device,
      '--socket',
      join(dir, 'plain.sock'),
      '--listen',
      '0.0.0.0:0',
    );
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(
      /^nvrelay: plaintext TCP is allowed on a loopback address only, not 0\.0\.0\.0: .*\(BAD_ARGUMENT\)\n$/,
    );
    expect(existsSync(device)).toBe(false);
  });
});

describe('one daemon per device', () => {
  test('a second serve on the same device: NVRAM_LOCKED, exit 1', async () => {
    const t = await startDaemon();
    try {
      const result = nvrelay('serve', t.device, '--socket', join(t.dir, 'second.sock'));
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(/^nvrelay: .*\(NVRAM_LOCKED\)\n$/);
      expect(existsSync(join(t.dir, 'second.sock'))).toBe(false);
      // the first daemon is unharmed
      const client = await within(connect(`unix:${t.socket}`), 10_000, 'connect');
      try {
        expect(
          await within(client.producer('p').emit('still.here', 'info'), 10_000, 'ack'),
        ).toBeGreaterThan(0);
      } finally {
        client.close();
      }
    } finally {
      await t.remove();
    }
  });
});
