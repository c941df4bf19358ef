/**
 * The relp sink (src/sinks/relp.ts) against a real rsyslogd (Debian's rsyslog and rsyslog-relp:
 * its imrelp input), started here in the foreground with a config, pid file and work directory
 * of its own: every event reaches rsyslog's output file once, as the RFC 5424 message the sink
 * promises; rsyslogd killed with SIGKILL mid-run and started again later loses nothing the sink
 * confirmed (duplicates only of what was unanswered at the kill); RELP over TLS works with
 * client certificates; and a server that sends bad frames gets its connection dropped and its
 * events retried, never confirmed.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import {
  RelpFrameError,
  RelpFrameReader,
  encodeFrame,
  nextTxnr,
  parseResponse,
  type RelpFrame,
} from '../../src/sinks/relp-frames.js';
import { RelpTransport, syslogMessage } from '../../src/sinks/relp.js';
import type { SinkEvent, SinkOutcome } from '../../src/sinks/sink.js';
import { startDaemon, type TestDaemon } from '../daemon/harness.js';
import { freePort } from '../loopback.js';

const rsyslogdPath = '/usr/sbin/rsyslogd';
const root = mkdtempSync(join(tmpdir(), 'nvrelay-relp-'));
const started: Rsyslog[] = [];
const servers: FakeRelpServer[] = [];
let running: TestDaemon | null = null;

beforeAll(() => {
  if (!existsSync(rsyslogdPath))
    throw new Error(`${rsyslogdPath} is missing: install rsyslog and rsyslog-relp`);
});

afterEach(async () => {
  await running?.remove();
  running = null;
});

afterAll(async () => {
  for (const rsyslog of started) await rsyslog.kill();
  for (const server of servers) await server.close();
  rmSync(root, { recursive: true, force: true });
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean, ms = 10_000, what = 'a condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** PEM files: a CA, and a certificate and key it signed. */
interface PemFiles {
  ca: string;
  cert: string;
  key: string;
}

/** Runs openssl in `dir`: a key and a certificate signed by `ca` (self-signed if null). */
function certificate(
  dir: string,
  name: string,
  subject: string,
  ca: string | null,
  san = '',
): void {
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  };
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const files = ['-keyout', `${name}.key`, '-days', '2', '-subj', subject];
  if (ca === null) return openssl('req', '-x509', ...key, ...files, '-out', `${name}.pem`);
  openssl('req', ...key, ...files, '-out', `${name}.csr`);
  writeFileSync(
    join(dir, `${name}.ext`),
    san === '' ? 'basicConstraints=CA:FALSE\n' : `subjectAltName=${san}\n`,
  );
  const signed = ['-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '2'];
  openssl(
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    ...signed,
    '-out',
    `${name}.pem`,
    '-extfile',
    `${name}.ext`,
  );
}

/** One message as rsyslog parsed it (RFC 5424 fields), a line of the output file. */
interface Line {
  pri: string;
  timestamp: string;
  hostname: string;
  appName: string;
  procid: string;
  msgid: string;
  sd: string;
  msg: string;
}

/**
 * rsyslogd with imrelp on a loopback port, writing every message it takes over RELP to one file.
 *
 * Why `rsp 200` here means "in the file": imrelp answers a `syslog` command once its message is
 * submitted to the ruleset's queue. With the default (in-memory, asynchronous) main queue that
 * is before any action ran, and a SIGKILL loses what the queue held though it was answered. So:
 * - main_queue Direct: the imrelp thread runs the ruleset itself before it answers;
 * - the action's queue Direct (the default, spelt out): omfile runs in that same call;
 * - omfile flushOnTXEnd on and asyncWriting off: the line is written at the end of each
 *   transaction, which with direct queues is each message, not buffered for later;
 * - omfile sync on: the file is fdatasync'd before the answer, so a power cut keeps it too (on
 *   a disk that honours the flush); it costs a flush per message.
 * Checked with strace: write, fdatasync, then `sendto(... "N rsp 6 200 OK")`, message after
 * message. With the default main queue the answers go out before the writes: a SIGKILL right
 * after the last answer lost 63 of 64 answered messages (the queue slowed with
 * queue.dequeueSlowdown), and the SIGKILL test below, run with `main_queue()`, found a whole
 * confirmed batch (16 events) missing in 2 runs of 3; with this config, none in any run.
 */
class Rsyslog {
  readonly dir: string;
  readonly output: string;
  readonly port: number;
  readonly #tls: PemFiles | undefined;
  #child: ChildProcess | null = null;
  #exited: Promise<void> = Promise.resolve();
  #stderr = '';

  private constructor(dir: string, port: number, tls: PemFiles | undefined) {
    this.dir = dir;
    this.port = port;
    this.output = join(dir, 'relp.jsonl');
    this.#tls = tls;
  }

  /** With `tls`: RELP over TLS only, clients need a certificate from the CA. */
  static async start(tls?: PemFiles): Promise<Rsyslog> {
    const dir = mkdtempSync(join(root, 'rsyslog-'));
    mkdirSync(join(dir, 'work'));
    const rsyslog = new Rsyslog(dir, await freePort(), tls);
    writeFileSync(join(dir, 'rsyslog.conf'), rsyslog.#config());
    started.push(rsyslog);
    await rsyslog.restart();
    return rsyslog;
  }

  #config(): string {
    const field = (name: string, property: string, last = false): string =>
      `constant(value="\\"${name}\\":\\"") property(name="${property}" format="json")` +
      ` constant(value="\\"${last ? '}\\n' : ','}")`;
    return [
      `global(workDirectory="${this.dir}/work" maxMessageSize="64k")`,
      'main_queue(queue.type="Direct")',
      'module(load="imrelp")',
      'template(name="fields" type="list") {',
      '  constant(value="{")',
      `  ${field('pri', 'pri')}`,
      `  constant(value="\\"timestamp\\":\\"") property(name="timereported" dateFormat="rfc3339")`,
      '  constant(value="\\",")',
      `  ${field('hostname', 'hostname')}`,
      `  ${field('appName', 'app-name')}`,
      `  ${field('procid', 'procid')}`,
      `  ${field('msgid', 'msgid')}`,
      `  ${field('sd', 'structured-data')}`,
      `  ${field('msg', 'msg', true)}`,
      '}',
      'ruleset(name="relp") {',
      `  action(type="omfile" file="${this.output}" template="fields" queue.type="Direct"`,
      '         flushOnTXEnd="on" asyncWriting="off" sync="on")',
      '}',
      // rsyslogd's own messages, apart from the sink's
      `action(type="omfile" file="${this.dir}/rsyslogd.log")`,
      `input(type="imrelp" address="127.0.0.1" port="${this.port}" ruleset="relp"${this.#tlsInput()})`,
      '',
    ].join('\n');
  }

  #tlsInput(): string {
    if (this.#tls === undefined) return '';
    const { ca, cert, key } = this.#tls;
    return (
      ` tls="on" tls.authmode="certvalid" tls.cacert="${ca}" tls.mycert="${cert}"` +
      ` tls.myprivkey="${key}"`
    );
  }

  /** Starts rsyslogd (again, on the same port) and waits until it accepts connections. */
  async restart(): Promise<void> {
    const pidFile = join(this.dir, 'rsyslogd.pid');
    rmSync(pidFile, { force: true }); // a killed rsyslogd leaves it behind
    const conf = join(this.dir, 'rsyslog.conf');
    const child = spawn(rsyslogdPath, ['-n', '-f', conf, '-i', pidFile], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.#child = child;
    this.#stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (this.#stderr += chunk.toString()));
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const end = Date.now() + 10_000;
    while (!(await accepts(this.port))) {
      // rsyslogd stays up without a listener it could not bind: that is a failure here
      if (/could not activate relp listener/.test(this.#stderr) || child.exitCode !== null)
        throw new Error(`rsyslogd did not start: ${this.#stderr}`);
      if (Date.now() > end) throw new Error(`rsyslogd is not listening: ${this.#stderr}`);
      await sleep(20);
    }
  }

  /** SIGKILL, and waits until it is gone. */
  async kill(): Promise<void> {
    const child = this.#child;
    this.#child = null;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    await this.#exited;
  }

  /** The messages in the output file; every line must be whole. */
  lines(): Line[] {
    if (!existsSync(this.output)) return [];
    const text = readFileSync(this.output, 'utf8');
    expect(text === '' || text.endsWith('\n')).toBe(true);
    return text
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Line);
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The event's seq, from the message's structured data. */
function seqOf(line: Line): number {
  const match = /^\[nvrelay@32473 node="[0-9a-f]{16}" seq="(\d+)"/.exec(line.sd);
  if (match === null) throw new Error(`no seq in ${line.sd}`);
  return Number(match[1]);
}

function counts(lines: readonly Line[]): Map<number, number> {
  const count = new Map<number, number>();
  for (const line of lines) count.set(seqOf(line), (count.get(seqOf(line)) ?? 0) + 1);
  return count;
}

const retry = { timeoutMs: 100, timeoutMaxMs: 500, attemptsMax: 1000 };

async function daemonWithRelp(
  port: number,
  sink: Record<string, unknown> = {},
): Promise<TestDaemon> {
  running = await startDaemon({
    config: {
      sinks: {
        syslog: {
          kind: 'relp',
          address: `127.0.0.1:${port}`,
          facility: 'local3',
          appName: 'nvrelay-test',
          hostname: 'test-host',
          timeoutMs: 2_000,
          retry,
          ...sink,
        },
      },
    },
  });
  return running;
}

const pemOf = (path: string): Buffer => readFileSync(path);
const encode = (text: string): Uint8Array => new TextEncoder().encode(text);
const levels = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'] as const;

describe('the relp sink with rsyslog', () => {
  test('every event reaches rsyslog once, as an RFC 5424 message with its identity', async () => {
    const rsyslog = await Rsyslog.start();
    const { daemon } = await daemonWithRelp(rsyslog.port);
    const longType = `${'a'.repeat(30)}.${'b'.repeat(30)}`;
    const shapes = [
      {
        source: 'disk',
        type: 'disk.failed',
        details: (k: number) => encode(JSON.stringify({ k })),
      },
      { source: 'net', type: 'net.link.down', details: () => new Uint8Array([0xff, 0x00, 0x7f]) },
      { source: 'app', type: longType, details: () => encode('{"text":"café ✓ \u007f \\"]"}') },
      { source: 'app', type: 'app.empty', details: () => new Uint8Array(0) },
    ];
    const sent = new Map<number, { shape: (typeof shapes)[number]; level: number; k: number }>();
    const before = Date.now();
    for (let k = 0; k < 300; k++) {
      const shape = shapes[k % shapes.length]!;
      const level = k % 8;
      const seq = daemon.node.producer(shape.source).emit(shape.type, level, shape.details(k));
      sent.set(seq, { shape, level, k });
    }
    const sink = daemon.sinks[0]!;
    await until(() => sink.recipient.confirmed === sent.size, 15_000, 'every event confirmed');
    const after = Date.now();

    const lines = rsyslog.lines();
    expect([...counts(lines).entries()].filter(([, n]) => n !== 1)).toEqual([]);
    expect([...counts(lines).keys()].sort((a, b) => a - b)).toEqual([...sent.keys()]);
    const node = /node="([0-9a-f]{16})"/.exec(lines[0]!.sd)![1]!;
    for (const line of lines) {
      const seq = seqOf(line);
      const { shape, level, k } = sent.get(seq)!;
      expect(line).toMatchObject({
        pri: String(19 * 8 + level), // local3
        hostname: 'test-host',
        appName: 'nvrelay-test',
        procid: String(process.pid),
        msgid: shape.type.slice(0, 32),
        sd:
          `[nvrelay@32473 node="${node}" seq="${seq}" source="${shape.source}"` +
          ` type="${shape.type}" severity="${levels[level]}"]`,
      });
      const time = Date.parse(line.timestamp);
      expect(time).toBeGreaterThanOrEqual(before);
      expect(time).toBeLessThanOrEqual(after);
      expect(line.msg).toMatch(/^[\x20-\x7e]+$/); // plain ASCII: nothing for rsyslog to rewrite
      const json = JSON.parse(line.msg) as Record<string, unknown>;
      expect(json).toMatchObject({
        node,
        seq,
        source: shape.source,
        type: shape.type,
        severity: levels[level],
        time: line.timestamp,
      });
      if (shape.source === 'disk') expect(json['details']).toEqual({ k });
      if (shape.source === 'net') expect(json['detailsBase64']).toBe('/wB/');
      if (shape.type === longType) expect(json['details']).toEqual({ text: 'café ✓ \u007f "]' });
      if (shape.type === 'app.empty') expect(json).not.toHaveProperty('details');
    }
    expect(sink.status()).toMatchObject({ kind: 'relp', state: 'up', queued: 0 });
    expect(sink.status().target).toBe(`relp://127.0.0.1:${rsyslog.port}`);
    expect(sink.counters.batches).toBeLessThan(sent.size); // pipelined batches, not one by one
    expect(sink.counters.retried).toBe(0);
  });

  test('rsyslogd killed with SIGKILL mid-run and started again: every event arrives', async () => {
    const rsyslog = await Rsyslog.start();
    const { daemon } = await daemonWithRelp(rsyslog.port, { batchMax: 16 });
    const sink = daemon.sinks[0]!;
    const total = 400;
    const killAfter = 150;
    // The transport, watched: the kill lands 2 ms into the first batch past event 150 (once the
    // sink is up), while rsyslogd is writing it; and what became of each event is kept, to tell
    // a duplicate (written, but its answer cut off: retried) from a loss.
    const retried = new Set<number>();
    let heldBeforeKill = 0;
    let kill: Promise<void> | null = null;
    let handed = 0;
    const send = sink.transport.send.bind(sink.transport);
    sink.transport.send = async (batch): Promise<SinkOutcome[]> => {
      handed += batch.length;
      if (kill === null && sink.state === 'up' && handed > killAfter) {
        heldBeforeKill = sink.counters.held;
        kill = sleep(2).then(() => rsyslog.kill());
      }
      const results = await send(batch);
      results.forEach((result, k) => {
        if (result.kind !== 'held') retried.add(batch[k]!.seq);
      });
      return results;
    };
    const states: string[] = [];
    const watch = setInterval(() => {
      if (states.at(-1) !== sink.state) states.push(sink.state);
    }, 1);
    try {
      const producer = daemon.node.producer('disk');
      const seqs: number[] = [];
      for (let k = 0; k < total; k++) {
        seqs.push(producer.emit('disk.io', 'warning', encode(JSON.stringify({ k }))));
        if (k % 8 === 7) await sleep(2);
      }
      await until(() => kill !== null, 5_000, 'the kill');
      await kill;
      await until(() => sink.state === 'down', 5_000, 'the sink to report down');
      const confirmedWhileDown = sink.recipient.confirmed;
      expect(confirmedWhileDown).toBeLessThan(total);
      expect(sink.lastError).toMatch(/ECONNREFUSED|ECONNRESET|EPIPE|connection lost|server closed/);
      await sleep(300); // it stays down, the retry policy trying again and again
      expect(sink.recipient.confirmed).toBe(confirmedWhileDown);
      await rsyslog.restart();
      await until(() => sink.recipient.confirmed === total, 15_000, 'every event confirmed');
      expect(states.filter((state) => state !== 'starting')).toEqual(['up', 'down', 'up']);

      const count = counts(rsyslog.lines());
      const missing = seqs.filter((seq) => !count.has(seq));
      const duplicates = [...count.entries()].filter(([, n]) => n > 1).map(([seq]) => seq);
      console.log(
        `relp: rsyslogd killed after ${heldBeforeKill} of ${total} events were held: ` +
          `${missing.length} missing, ${duplicates.length} duplicated ` +
          `(${duplicates.join(' ') || 'none'}), ${retried.size} retried`,
      );
      expect(missing).toEqual([]);
      expect([...count.keys()].filter((seq) => !seqs.includes(seq))).toEqual([]);
      expect(duplicates.length).toBeGreaterThanOrEqual(0);
      // a duplicate is an event rsyslogd wrote whose answer the kill cut off: it was retried
      expect(duplicates.filter((seq) => !retried.has(seq))).toEqual([]);
      expect(heldBeforeKill).toBeGreaterThan(0);
      expect(retried.size).toBeGreaterThan(0);
    } finally {
      clearInterval(watch);
    }
  });

  test('over TLS: the server checked against the CA, a client certificate shown', async () => {
    const dir = mkdtempSync(join(root, 'tls-'));
    certificate(dir, 'ca', '/CN=nvrelay relp test CA', null);
    certificate(dir, 'server', '/CN=localhost', 'ca', 'IP:127.0.0.1,DNS:localhost');
    certificate(dir, 'client', '/CN=nvrelay relp test client', 'ca');
    certificate(dir, 'other-ca', '/CN=another CA', null);
    const file = (name: string): string => join(dir, name);
    const rsyslog = await Rsyslog.start({
      ca: file('ca.pem'),
      cert: file('server.pem'),
      key: file('server.key'),
    });
    const tls = { cert: file('client.pem'), key: file('client.key'), ca: file('ca.pem') };
    const { daemon } = await daemonWithRelp(rsyslog.port, { tls });
    const producer = daemon.node.producer('disk');
    const seqs = [1, 2, 3].map(() => producer.emit('disk.failed', 'err', null));
    const sink = daemon.sinks[0]!;
    await until(() => sink.recipient.confirmed === seqs.length, 10_000, 'every event confirmed');
    expect([...counts(rsyslog.lines()).keys()]).toEqual(seqs);
    expect(sink.transport.target).toBe(`relp+tls://127.0.0.1:${rsyslog.port}`);

    // a client that does not trust the server's CA does not send to it
    const stranger = new RelpTransport({
      host: 'localhost',
      port: rsyslog.port,
      tls: { cert: pemOf(tls.cert), key: pemOf(tls.key), ca: pemOf(file('other-ca.pem')) },
      facility: 16,
      appName: 'nvrelay',
      hostname: 'test-host',
      timeoutMs: 2_000,
    });
    const [result] = await stranger.send(events(1, 100));
    expect(result?.kind === 'retry' && result.reason).toMatch(/certificate/i);
    await stranger.close();
    expect(rsyslog.lines()).toHaveLength(seqs.length);
  });
});

describe('RELP frames', () => {
  test('frames are encoded as TXNR SP COMMAND SP DATALEN [SP DATA] LF', () => {
    expect(encodeFrame(1, 'syslog', Buffer.from('héllo')).toString()).toBe('1 syslog 6 héllo\n');
    expect(encodeFrame(7, 'close').toString()).toBe('7 close 0\n');
    expect(() => encodeFrame(1_000_000_000, 'syslog')).toThrow(RangeError);
    expect(() => encodeFrame(1, 'sys log')).toThrow(RangeError);
    expect(nextTxnr(1)).toBe(2);
    expect(nextTxnr(999_999_998)).toBe(999_999_999);
    expect(nextTxnr(999_999_999)).toBe(1);
  });

  test('the reader takes frames cut anywhere', () => {
    const bytes = Buffer.from(
      '1 rsp 93 200 OK\nrelp_version=0\nrelp_software=librelp,1.11.0,http://librelp.adiscon.com\n' +
        'commands=syslog\n2 rsp 6 200 OK\n3 rsp 0\n0 serverclose 0\n',
    );
    for (const size of [1, 2, 5, 17, bytes.length]) {
      const reader = new RelpFrameReader();
      const frames: RelpFrame[] = [];
      for (let at = 0; at < bytes.length; at += size)
        frames.push(...reader.push(bytes.subarray(at, at + size)));
      expect(frames.map((f) => [f.txnr, f.command, f.data.toString()])).toEqual([
        [
          1,
          'rsp',
          '200 OK\nrelp_version=0\nrelp_software=librelp,1.11.0,http://librelp.adiscon.com\ncommands=syslog',
        ],
        [2, 'rsp', '200 OK'],
        [3, 'rsp', ''],
        [0, 'serverclose', ''],
      ]);
    }
  });

  test.each([
    ['garbage', 'HTTP/1.1 400 Bad Request\r\n'],
    ['DATALEN shorter than DATA', '2 rsp 3 200 OK\n'],
    ['DATALEN longer than DATA', '2 rsp 9 200 OK\n3 rsp 6 200 OK\n'],
    ['DATALEN with no DATA', '2 rsp 6\n'],
    ['DATALEN 0 and a space', '2 rsp 0 \n'],
    ['a TXNR of ten digits', '1234567890 rsp 6 200 OK\n'],
    ['a negative TXNR', '-2 rsp 6 200 OK\n'],
    ['two spaces', '2  rsp 6 200 OK\n'],
    ['a digit in COMMAND', '2 rsp2 6 200 OK\n'],
    ['a COMMAND of 33 letters', `2 ${'r'.repeat(33)} 6 200 OK\n`],
    ['no DATALEN', '2 rsp\n'],
    ['DATALEN over the limit', '2 rsp 131073 '],
    ['CR LF', '2 rsp 6 200 OK\r\n'],
  ])('the reader refuses %s', (_, input) => {
    const reader = new RelpFrameReader();
    expect(() => {
      for (const byte of Buffer.from(input)) reader.push(Buffer.from([byte]));
    }).toThrow(RelpFrameError);
  });

  test('an rsp is CODE [SP TEXT] [LF OFFERS]', () => {
    expect(parseResponse(Buffer.from('200 OK'))).toEqual({
      code: 200,
      text: 'OK',
      offers: new Map(),
    });
    expect(parseResponse(Buffer.from('500 no such command'))?.text).toBe('no such command');
    expect(parseResponse(Buffer.from('200'))?.code).toBe(200);
    const open = parseResponse(Buffer.from('200 OK\nrelp_version=0\ncommands=syslog,eventlog\n'));
    expect(open?.offers).toEqual(
      new Map([
        ['relp_version', '0'],
        ['commands', 'syslog,eventlog'],
      ]),
    );
    for (const bad of ['', 'OK', '20 OK', '2000 OK', '200OK', ' 200 OK'])
      expect(parseResponse(Buffer.from(bad))).toBeNull();
  });

  test('an offer without a value is kept with an empty one', () => {
    expect(parseResponse(Buffer.from('200 OK\nrelp_version=0\nstarttls'))?.offers).toEqual(
      new Map([
        ['relp_version', '0'],
        ['starttls', ''],
      ]),
    );
  });
});

/** What a scripted server answers to one `syslog` command: bytes, or nothing. */
type Answer = (frame: RelpFrame) => string | null;

const openAnswer: Answer = (frame) =>
  encodeFrame(frame.txnr, 'rsp', Buffer.from('200 OK\nrelp_version=0\ncommands=syslog')).toString(
    'latin1',
  );

/** A RELP server on loopback that answers `open` properly (unless told otherwise) and `syslog` as scripted. */
class FakeRelpServer {
  readonly server: Server;
  readonly port: number;
  readonly frames: RelpFrame[] = [];
  connections = 0;
  closed = 0;
  answer: Answer;
  readonly #open: Answer;
  readonly #sockets = new Set<Socket>();

  private constructor(server: Server, port: number, answer: Answer, open: Answer) {
    this.server = server;
    this.port = port;
    this.answer = answer;
    this.#open = open;
  }

  static async start(answer: Answer, open: Answer = openAnswer): Promise<FakeRelpServer> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const fake = new FakeRelpServer(server, port, answer, open);
    server.on('connection', (socket) => fake.#accept(socket));
    servers.push(fake);
    return fake;
  }

  #accept(socket: Socket): void {
    this.connections++;
    this.#sockets.add(socket);
    const reader = new RelpFrameReader();
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed++;
      this.#sockets.delete(socket);
    });
    socket.on('data', (chunk: Buffer) => {
      for (const frame of reader.push(chunk)) {
        this.frames.push(frame);
        const reply = this.#reply(frame);
        if (reply !== null && !socket.destroyed) socket.write(reply);
      }
    });
  }

  #reply(frame: RelpFrame): string | Buffer | null {
    if (frame.command === 'open') return this.#open(frame);
    if (frame.command === 'close') return `${frame.txnr} rsp 0\n0 serverclose 0\n`;
    return this.answer(frame);
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

const ok: Answer = (frame) => `${frame.txnr} rsp 6 200 OK\n`;

function events(count: number, from = 1): SinkEvent[] {
  return Array.from({ length: count }, (_, k) => ({
    node: '00000000000000aa',
    seq: from + k,
    time: Date.UTC(2024, 0, 1),
    level: 6,
    severity: 'info' as const,
    source: 'test',
    type: 'test.event',
    details: new Uint8Array(0),
    replayed: false,
    attempt: 1,
    origin: [],
  }));
}

function transport(port: number, timeoutMs = 2_000): RelpTransport {
  return new RelpTransport({
    host: '127.0.0.1',
    port,
    facility: 16,
    appName: 'nvrelay',
    hostname: 'test-host',
    timeoutMs,
  });
}

describe('the relp transport with a scripted server', () => {
  test('open, then one syslog command per event, numbered on, and close', async () => {
    const server = await FakeRelpServer.start(ok);
    const relp = transport(server.port);
    expect(await relp.send(events(3))).toEqual([
      { kind: 'held' },
      { kind: 'held' },
      { kind: 'held' },
    ]);
    expect(await relp.send(events(2, 4))).toEqual([{ kind: 'held' }, { kind: 'held' }]);
    await relp.close();
    expect(server.frames.map((f) => `${f.txnr} ${f.command}`)).toEqual([
      '1 open',
      '2 syslog',
      '3 syslog',
      '4 syslog',
      '5 syslog',
      '6 syslog',
      '7 close',
    ]);
    expect(server.frames[0]!.data.toString()).toBe(
      'relp_version=0\nrelp_software=nvrelay\ncommands=syslog',
    );
    expect(server.frames[1]!.data.toString()).toBe(
      `<134>1 2024-01-01T00:00:00.000Z test-host nvrelay ${process.pid} test.event ` +
        '[nvrelay@32473 node="00000000000000aa" seq="1" source="test" type="test.event" ' +
        'severity="info"] {"node":"00000000000000aa","seq":1,"time":"2024-01-01T00:00:00.000Z",' +
        '"severity":"info","source":"test","type":"test.event"}',
    );
    expect(server.connections).toBe(1);
    await until(() => server.closed === 1, 2_000, 'the connection to close');
    expect(await relp.send(events(1))).toEqual([{ kind: 'retry', reason: 'relp: closed' }]);
  });

  test('a code other than 200: that event is retried, the session goes on', async () => {
    const server = await FakeRelpServer.start((frame) =>
      frame.txnr === 3 ? `3 rsp 17 500 queue is full\n` : `${frame.txnr} rsp 6 200 OK\n`,
    );
    const relp = transport(server.port);
    expect(await relp.send(events(3))).toEqual([
      { kind: 'held' },
      { kind: 'retry', reason: 'relp: rsp 500 queue is full' },
      { kind: 'held' },
    ]);
    expect(await relp.send(events(1))).toEqual([{ kind: 'held' }]);
    expect(server.connections).toBe(1);
    await relp.close();
  });

  test.each([
    ['garbage', () => 'garbage\n', /bad frame/],
    ['a DATALEN that does not match', (f: RelpFrame) => `${f.txnr} rsp 3 200 OK\n`, /bad frame/],
    ['a DATALEN over the limit', (f: RelpFrame) => `${f.txnr} rsp 999999999 `, /over/],
    ['an rsp out of turn', (f: RelpFrame) => `${f.txnr + 1} rsp 6 200 OK\n`, /out of turn/],
    ['an rsp with no code', (f: RelpFrame) => `${f.txnr} rsp 2 OK\n`, /malformed rsp/],
    ['a command from the server', (f: RelpFrame) => `${f.txnr} syslog 2 hi\n`, /unexpected/],
    ['serverclose', () => '0 serverclose 0\n', /server closed/],
    ['silence', () => null, /no answer within 300 ms/],
  ])('a server that answers with %s: dropped, every event retried', async (_, bad, reason) => {
    // the first event is answered properly; the rest are answered (or not) as scripted
    let first = true;
    const server = await FakeRelpServer.start((frame) => {
      if (!first) return bad(frame);
      first = false;
      return ok(frame);
    });
    const relp = transport(server.port, 300);
    const results = await relp.send(events(3));
    expect(results[0]).toEqual({ kind: 'held' });
    for (const result of results.slice(1)) {
      expect(result.kind).toBe('retry');
      expect(result.kind === 'retry' && result.reason).toMatch(reason);
    }
    await until(() => server.closed === 1, 2_000, 'the client to drop the connection');
    // the next send opens a new session, numbered from 1 again
    server.answer = ok;
    expect(await relp.send(events(1, 4))).toEqual([{ kind: 'held' }]);
    expect(server.connections).toBe(2);
    expect(server.frames.filter((f) => f.command === 'open').map((f) => f.txnr)).toEqual([1, 1]);
    await relp.close();
  });

  test('no server: every event retried with the connection error', async () => {
    const relp = transport(await freePort());
    const results = await relp.send(events(2));
    expect(results.map((r) => r.kind === 'retry' && r.reason)).toEqual([
      expect.stringMatching(/ECONNREFUSED/),
      expect.stringMatching(/ECONNREFUSED/),
    ]);
    await relp.close();
  });

  test.each([
    ['a code other than 200', '500 busy', 'relp: open refused: 500 busy'],
    ['no offers', '200 OK', 'relp: the server offered no relp_version'],
    [
      'no commands offered',
      '200 OK\nrelp_version=0',
      'relp: the server does not accept syslog commands',
    ],
    [
      'commands without syslog',
      '200 OK\nrelp_version=0\ncommands=eventlog',
      'relp: the server does not accept syslog commands',
    ],
  ])(
    'open answered with %s: every event retried with why, nothing sent',
    async (_, rsp, reason) => {
      const server = await FakeRelpServer.start(ok, (frame) =>
        encodeFrame(frame.txnr, 'rsp', Buffer.from(rsp)).toString('latin1'),
      );
      const relp = transport(server.port);
      expect(await relp.send(events(2))).toEqual([
        { kind: 'retry', reason },
        { kind: 'retry', reason },
      ]);
      await until(() => server.closed === 1, 2_000, 'the client to drop the connection');
      expect(server.frames.map((f) => f.command)).toEqual(['open']);
      await relp.close();
    },
  );

  test('an rsp nothing waits for, right behind the answer to open: the session is dropped before any syslog', async () => {
    // one write: the client reads both frames at once, so the session is lost by the time the
    // send that waited for it to open goes on
    const server = await FakeRelpServer.start(
      ok,
      (frame) => `${openAnswer(frame)}9 rsp 6 200 OK\n`,
    );
    const relp = transport(server.port);
    const reason = 'relp: rsp 9 out of turn (expected none)';
    expect(await relp.send(events(2))).toEqual([
      { kind: 'retry', reason },
      { kind: 'retry', reason },
    ]);
    expect(server.frames.map((f) => f.command)).toEqual(['open']);
    await relp.close();
  });

  test('a hint other than serverclose is ignored: the session goes on', async () => {
    const server = await FakeRelpServer.start(
      (frame) => `0 keepalive 0\n${frame.txnr} rsp 6 200 OK\n`,
    );
    const relp = transport(server.port);
    expect(await relp.send(events(2))).toEqual([{ kind: 'held' }, { kind: 'held' }]);
    expect(await relp.send(events(1, 3))).toEqual([{ kind: 'held' }]);
    expect(server.connections).toBe(1);
    await relp.close();
  });

  test('a send racing close(): its events are retried, the session closing, and only close is sent', async () => {
    const server = await FakeRelpServer.start(ok);
    const relp = transport(server.port);
    expect(await relp.send(events(1))).toEqual([{ kind: 'held' }]);
    const racing = relp.send(events(2, 2));
    await relp.close();
    expect(await racing).toEqual([
      { kind: 'retry', reason: 'relp: closing' },
      { kind: 'retry', reason: 'relp: closing' },
    ]);
    expect(server.frames.map((f) => f.command)).toEqual(['open', 'syslog', 'close']);
  });

  test('an empty batch on an open session: no outcomes, nothing written', async () => {
    const server = await FakeRelpServer.start(ok);
    const relp = transport(server.port);
    expect(await relp.send(events(1))).toEqual([{ kind: 'held' }]);
    expect(await relp.send([])).toEqual([]);
    expect(await relp.send(events(1, 2))).toEqual([{ kind: 'held' }]);
    expect(server.frames.map((f) => `${f.txnr} ${f.command}`)).toEqual([
      '1 open',
      '2 syslog',
      '3 syslog',
    ]);
    await relp.close();
  });

  test('over TLS, a server that never completes the handshake: retried, no connection within the timeout', async () => {
    const dir = mkdtempSync(join(root, 'silent-tls-'));
    certificate(dir, 'ca', '/CN=nvrelay relp test CA', null);
    certificate(dir, 'client', '/CN=nvrelay relp test client', 'ca');
    const file = (name: string): Buffer => readFileSync(join(dir, name));
    const accepted = new Set<Socket>();
    const silent = createServer((socket) => {
      accepted.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      const relp = new RelpTransport({
        host: '127.0.0.1',
        port,
        tls: { cert: file('client.pem'), key: file('client.key'), ca: file('ca.pem') },
        facility: 16,
        appName: 'nvrelay',
        hostname: 'test-host',
        timeoutMs: 200,
      });
      expect(relp.target).toBe(`relp+tls://127.0.0.1:${port}`);
      const reason = 'relp: no connection within 200 ms';
      expect(await relp.send(events(2))).toEqual([
        { kind: 'retry', reason },
        { kind: 'retry', reason },
      ]);
      await relp.close();
    } finally {
      for (const socket of accepted) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  test('an IPv6 host is bracketed in the target', () => {
    const relp = new RelpTransport({
      host: '::1',
      port: 2514,
      facility: 16,
      appName: 'nvrelay',
      hostname: 'test-host',
      timeoutMs: 100,
    });
    expect(relp.target).toBe('relp://[::1]:2514');
  });

  test('in a daemon: bad frames leave the events unconfirmed, retried until answered', async () => {
    const server = await FakeRelpServer.start(() => 'garbage\n');
    const { daemon } = await daemonWithRelp(server.port);
    const producer = daemon.node.producer('disk');
    for (let k = 0; k < 5; k++) producer.emit('disk.failed', 'err', null);
    const sink = daemon.sinks[0]!;
    await until(() => sink.recipient.redelivered >= 5 && server.connections >= 2, 5_000, 'retries');
    expect(sink.recipient.confirmed).toBe(0);
    expect(sink.state).toBe('down');
    expect(sink.lastError).toMatch(/bad frame/);
    expect(server.closed).toBeGreaterThanOrEqual(1);
    server.answer = ok;
    await until(() => sink.recipient.confirmed === 5, 5_000, 'every event confirmed');
    expect(sink.state).toBe('up');
  });
});

describe('the RFC 5424 message of an event', () => {
  test('a year past 9999 is a nil timestamp, and header fields with nothing printable are nil', () => {
    const [event] = events(1);
    const message = syslogMessage(
      { ...event!, time: Date.UTC(10_000, 0, 1), level: 3, type: ' \u00e9 ' },
      { facility: 1, hostname: '', appName: 'n v\u00fcrelay' },
      42,
    );
    expect(message.split(' ').slice(0, 6)).toEqual(['<11>1', '-', '-', 'nvrelay', '42', '-']);
    // the message's own JSON keeps the time as ISO 8601 (a six-digit year) and escapes the é
    expect(message).toContain('"time":"+010000-01-01T00:00:00.000Z"');
    expect(message).toContain('"type":" \\u00e9 "');
  });
});
