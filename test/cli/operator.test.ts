/**
 * The command line as operators expect it: --version, --json on every device command (errors
 * included), init listing its layout, failed commands leaving the device as they found it,
 * pump's --quiet, progress bar and signals, a closed pipe, a missing addon, and paths that are
 * not devices. The built CLI in a child process (`npm test` builds it first).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const main = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'nvrelay-operator-'));

beforeAll(() => {
  if (!existsSync(main)) throw new Error(`${main} is missing: run 'npm run build' first`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function nvrelay(args: string[], env: NodeJS.ProcessEnv = process.env): Run {
  const result = spawnSync(process.execPath, [main, ...args], { cwd: dir, encoding: 'utf8', env });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

let fileCount = 0;
function devicePath(): string {
  return join(dir, `op-${fileCount++}.nvram`);
}

function initNode(...extra: string[]): string {
  const path = devicePath();
  const result = nvrelay(['init', path, '--size', '1M', ...extra]);
  expect(result.status, result.stderr).toBe(0);
  return path;
}

function bootCount(path: string): number {
  const result = nvrelay(['inspect', path, '--json']);
  expect(result.status, result.stderr).toBe(0);
  return (JSON.parse(result.stdout) as { bootCount: number }).bootCount;
}

describe('nvrelay --version', () => {
  test('prints the version of package.json', () => {
    const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      version: string;
    };
    const result = nvrelay(['--version']);
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toBe(version);
  });
});

describe('--json', () => {
  test('check --json: {path, sound, findings}; exit 1 with findings', () => {
    const path = initNode();
    const sound = nvrelay(['check', path, '--json']);
    expect(sound.status).toBe(0);
    expect(JSON.parse(sound.stdout)).toEqual({ path, sound: true, findings: [] });
    const broken = devicePath();
    const image = readFileSync(path);
    image[100] = (image[100] ?? 0) ^ 0xff; // inside the section table: the header CRC fails
    writeFileSync(broken, image);
    const result = nvrelay(['check', broken, '--json']);
    expect(result.status).toBe(1);
    const report = JSON.parse(result.stdout) as { sound: boolean; findings: { code: string }[] };
    expect(report.sound).toBe(false);
    expect(report.findings.map((finding) => finding.code)).toContain('NVRAM_HEADER_CHECKSUM');
  });

  test('init --json lists the layout it made: sections and node limits', () => {
    const path = devicePath();
    const result = nvrelay(['init', path, '--size', '1M', '--recipients-max', '4', '--json']);
    expect(result.status, result.stderr).toBe(0);
    const made = JSON.parse(result.stdout) as {
      kind: string;
      sizeBytes: number;
      sections: { name: string; offset: number; length: number }[];
      geometry: { recipientsMax: number };
    };
    expect(made.kind).toBe('node');
    expect(made.sizeBytes).toBe(1 << 20);
    expect(made.sections.map((section) => section.name)).toEqual([
      'control',
      'recipients',
      'boot-fifo',
      'runtime-fifo',
      'dead-letter',
    ]);
    expect(made.geometry.recipientsMax).toBe(4);
    const inspected = JSON.parse(nvrelay(['inspect', path, '--json']).stdout) as {
      sections: unknown;
    };
    expect(made.sections).toEqual(inspected.sections);
  });

  test('init (text) lists the sections it laid out, node or bare', () => {
    const node = nvrelay(['init', devicePath(), '--size', '1M']);
    expect(node.stdout).toMatch(/runtime-fifo\s+\d+\s+\d+/);
    expect(node.stdout).toMatch(/dead-letter\s+\d+\s+\d+/);
    const bare = nvrelay(['init', devicePath(), '--bare', '--size', '1M', '--sections', 'ev:64K']);
    expect(bare.status, bare.stderr).toBe(0);
    expect(bare.stdout).toMatch(/^\s+ev\s+4096\s+65536\s+64 KiB$/m);
  });

  test('redeliver --json: {path, redelivered}', () => {
    const path = initNode();
    const result = nvrelay(['redeliver', path, '--json']);
    expect(result.status, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ path, redelivered: 0 });
  });

  test('pump --json prints the summary alone, as one JSON object', () => {
    const path = initNode();
    const result = nvrelay(['pump', path, '--count', '3', '--json']);
    expect(result.status, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout) as { emitted: number; confirmed: number };
    expect(summary).toMatchObject({ emitted: 3, confirmed: 3 });
  });

  test('a typed error under --json is JSON on stdout, exit 1; a usage error too, exit 2', () => {
    const missing = nvrelay(['inspect', join(dir, 'absent.nvram'), '--json']);
    expect(missing.status).toBe(1);
    expect(JSON.parse(missing.stdout)).toEqual({
      error: { code: 'NVRAM_FILE_MISSING', message: expect.stringContaining('absent.nvram') },
    });
    expect(missing.stderr).toBe('');
    const usage = nvrelay(['dump', '--frobnicate', '--json']);
    expect(usage.status).toBe(2);
    expect(JSON.parse(usage.stdout)).toEqual({
      error: { code: 'USAGE', message: expect.stringContaining('--frobnicate') },
    });
  });

  test('every device command takes --json', () => {
    for (const command of ['init', 'inspect', 'check', 'dump', 'redeliver', 'pump']) {
      expect(nvrelay([command, '--help']).stdout, command).toContain('--json');
    }
  });
});

describe('a failed command leaves the device as it found it', () => {
  test('pump with details over the device limit: refused before the boot', () => {
    const path = initNode('--details-bytes-max', '64');
    expect(bootCount(path)).toBe(0);
    const result = nvrelay(['pump', path, '--count', '1', '--payload-bytes', '65']);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/65 is over the 64-byte details limit.*\(EVENT_TOO_LARGE\)/);
    expect(bootCount(path)).toBe(0);
  });

  test('pump with more recipients than the device holds: refused before the boot', () => {
    const path = initNode('--recipients-max', '2');
    const result = nvrelay(['pump', path, '--count', '1', '--recipients', '3']);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('RECIPIENTS_FULL');
    expect(bootCount(path)).toBe(0);
  });

  test('redeliver with no dead letter to re-deliver does not boot', () => {
    const path = initNode();
    for (const args of [[], ['--recipient', 'nobody'], ['--seq', '7']]) {
      const result = nvrelay(['redeliver', path, ...args]);
      expect(result.status, result.stderr).toBe(0);
      expect(result.stdout).toContain('re-delivered 0 dead letters');
    }
    expect(bootCount(path)).toBe(0);
  });
});

describe('pump output', () => {
  test('--quiet prints the Q line alone', () => {
    const path = initNode();
    const result = nvrelay(['pump', path, '--count', '5', '--recipients', '2', '--quiet']);
    expect(result.status, result.stderr).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^Q \{/);
  });

  test('no progress bar when stderr is not a terminal', () => {
    const result = nvrelay(['pump', initNode(), '--count', '200']);
    expect(result.status).toBe(0);
    expect(result.stderr).toBe('');
  });

  test.skipIf(spawnSync('script', ['--version']).status !== 0)(
    'a progress bar on a terminal: events/s, pending and the ETA',
    () => {
      const path = initNode();
      // script(1) runs the pump on a pseudo-terminal: stderr is a TTY there
      const command = `${process.execPath} ${main} pump ${path} --count 2000 --quiet`;
      const result = spawnSync('script', ['-qec', command, '/dev/null'], {
        cwd: dir,
        encoding: 'utf8',
      });
      expect(result.status, result.stdout).toBe(0);
      expect(result.stdout).toMatch(/Q \{/);
      expect(result.stdout).not.toMatch(/events\/s/); // --quiet: no bar either
      const withBar = spawnSync('script', ['-qec', command.replace(' --quiet', ''), '/dev/null'], {
        cwd: dir,
        encoding: 'utf8',
      });
      expect(withBar.status, withBar.stdout).toBe(0);
      expect(withBar.stdout).toMatch(/events\/s \| pending \d+ \| ETA/);
    },
  );

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    test(`${signal} ends it cleanly: emitting stops, the Q line is printed, the device closed`, async () => {
      const path = initNode();
      const child = spawn(process.execPath, [main, 'pump', path, '--count', '100000000'], {
        cwd: dir,
      });
      let stdout = '';
      let stderr = '';
      let signalled = false;
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (!signalled && /^A \d+$/m.test(stdout)) {
          signalled = true;
          child.kill(signal);
        }
      });
      const status = await new Promise<number | null>((done) => child.on('close', done));
      expect(stderr).toBe('');
      expect(status).toBe(signal === 'SIGINT' ? 130 : 143);
      const lines = stdout.trim().split('\n');
      const last = lines.at(-1) ?? '';
      expect(last).toMatch(/^Q \{/);
      const summary = JSON.parse(last.slice(2)) as {
        emitted: number;
        confirmed: number;
        interrupted: string;
      };
      expect(summary.interrupted).toBe(signal);
      expect(summary.emitted).toBeLessThan(100_000_000);
      expect(summary.confirmed).toBe(summary.emitted);
      // closed: the next command takes the lock and finds nothing pending
      const dump = nvrelay(['dump', path, '--json']);
      expect((JSON.parse(dump.stdout) as { pending: unknown[] }).pending).toEqual([]);
      expect(nvrelay(['pump', path, '--count', '1', '--quiet']).status).toBe(0);
    });
  }
});

describe('a reader that goes away', () => {
  test('crashtest --self-test | head -1 ends quietly, no stack trace', () => {
    const result = spawnSync(
      'sh',
      ['-c', `"${process.execPath}" "${main}" crashtest --self-test | head -1`],
      { cwd: dir, encoding: 'utf8' },
    );
    expect(result.status).toBe(0);
    expect(result.stdout.split('\n').filter((line) => line !== '')).toHaveLength(1);
    expect(result.stderr).toBe('');
  }, 60_000);
});

describe('without the native addon', () => {
  const env = { ...process.env, NVRELAY_ADDON: join(dir, 'no-such-addon.node') };

  test('--help and --version work', () => {
    const help = nvrelay(['--help'], env);
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toContain('inspect');
    expect(nvrelay(['--version'], env).status).toBe(0);
    expect(nvrelay(['pump', '--help'], env).status).toBe(0);
  });

  test('a device command fails with the typed NVRAM_ADDON_MISSING', () => {
    const path = initNode();
    const result = nvrelay(['inspect', path], env);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/native addon not built.*\(NVRAM_ADDON_MISSING\)\n$/s);
    const json = nvrelay(['inspect', path, '--json'], env);
    expect((JSON.parse(json.stdout) as { error: { code: string } }).error.code).toBe(
      'NVRAM_ADDON_MISSING',
    );
  });
});

describe('a path that is not a device', () => {
  const folder = join(dir, 'a-folder');
  const foreign = join(dir, 'foreign.bin');

  beforeAll(() => {
    mkdirSync(folder, { recursive: true });
    const bytes = Buffer.alloc(8192);
    bytes.write('\x7fELF\x02\x01\x01\x00', 'latin1');
    writeFileSync(foreign, bytes);
  });

  for (const command of ['inspect', 'check', 'dump', 'pump', 'redeliver']) {
    const extra = command === 'pump' ? ['--count', '1'] : [];
    test(`${command} on a directory: NVRAM_NOT_A_FILE naming the path`, () => {
      const result = nvrelay([command, folder, ...extra]);
      expect(result.status).toBe(1);
      expect(result.stderr).toBe(
        `nvrelay: nvram: ${folder}: is a directory, not a device file (NVRAM_NOT_A_FILE)\n`,
      );
    });

    test(`${command} on a foreign file: its first bytes in hex`, () => {
      const result = nvrelay([command, foreign, ...extra]);
      expect(result.status).toBe(1);
      const output = result.stdout + result.stderr; // check lists it as a finding, on stdout
      expect(output).toContain(
        `${foreign}: not an nvrelay device: it starts with 7f 45 4c 46 02 01 01 00`,
      );
      expect(output).toContain('(NVRAM_BAD_MAGIC)');
      expect(output).not.toContain('\x7f');
    });
  }
});
