/**
 * `nvrelay init` as a user runs it (the built CLI in a child process; `npm test` builds it
 * first): a node device by default, ready for `pump`; a bare device only with --bare; --json
 * prints the layout made; --force on a folder fails removing it and leaves it.
 */
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const main = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'nvrelay-init-'));

beforeAll(() => {
  if (!existsSync(main)) throw new Error(`${main} is missing: run 'npm run build' first`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function nvrelay(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [main, ...args], { cwd: dir, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

let fileCount = 0;
function devicePath(): string {
  return join(dir, `init-${fileCount++}.nvram`);
}

interface Geometry {
  recipientsMax: number;
  detailsBytesMax: number;
  bootSlots: number;
  runtimeSlots: number;
  deadLetterSlots: number;
}

/** The node limits `inspect --json` reads from the device's control block. */
function geometryOf(path: string): Geometry {
  const result = nvrelay('inspect', path, '--json');
  expect(result.stderr).toBe('');
  return (JSON.parse(result.stdout) as { node: { geometry: Geometry } }).node.geometry;
}

describe('nvrelay init: a node device', () => {
  test('init then pump: the node boots on the device and delivers', () => {
    const path = devicePath();
    const init = nvrelay('init', path, '--size', '64M');
    expect(init.stderr).toBe('');
    expect(init.status).toBe(0);
    expect(init.stdout).toMatch(/formatted .*: node device, 64 MiB/);
    expect(init.stdout).toMatch(/runtime FIFO\s+\d+ slots/);
    const pump = nvrelay('pump', path, '--count', '5', '--recipients', '2');
    expect(pump.stderr).toBe('');
    expect(pump.status).toBe(0);
    const summary = JSON.parse(
      pump.stdout
        .split('\n')
        .find((l) => l.startsWith('Q '))!
        .slice(2),
    );
    expect(summary).toMatchObject({ emitted: 5, confirmed: 10, formatted: false, bootCount: 1 });
    expect(nvrelay('check', path).stdout).toContain('sound');
  });

  test('--json prints the layout made: the sections and limits inspect reads back', () => {
    const path = devicePath();
    const init = nvrelay('init', path, '--size', '1M', '--recipients-max', '4', '--json');
    expect(init.stderr).toBe('');
    expect(init.status).toBe(0);
    const made = JSON.parse(init.stdout) as {
      path: string;
      kind: string;
      sizeBytes: number;
      deviceId: string;
      sections: unknown[];
      geometry: Geometry;
    };
    const inspected = JSON.parse(nvrelay('inspect', path, '--json').stdout) as {
      deviceId: string;
      sections: unknown[];
      node: { geometry: Geometry };
    };
    expect(made).toMatchObject({ path, kind: 'node', sizeBytes: 1 << 20 });
    expect(`0x${made.deviceId}`).toBe(inspected.deviceId);
    expect(made.sections).toEqual(inspected.sections);
    expect(made.geometry).toEqual(inspected.node.geometry);
    expect(made.geometry.recipientsMax).toBe(4);
  });

  test('64 MiB and the runtime FIFO a formatting pump would give, by default; mode 0600', () => {
    const path = devicePath();
    expect(nvrelay('init', path).status).toBe(0);
    expect(statSync(path).size).toBe(64 << 20);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const pumped = devicePath();
    expect(nvrelay('pump', pumped, '--count', '0').status).toBe(0);
    expect(geometryOf(path)).toEqual(geometryOf(pumped));
  });

  test('the limits given are the limits formatted, and printed', () => {
    const path = devicePath();
    const init = nvrelay(
      'init',
      path,
      '--size',
      '1M',
      '--details-bytes-max',
      '64',
      '--runtime-slots',
      '100',
      '--boot-slots',
      '8',
      '--dead-letter-slots',
      '4',
      '--recipients-max',
      '3',
    );
    expect(init.status).toBe(0);
    expect(init.stdout).toMatch(/runtime FIFO\s+100 slots/);
    expect(init.stdout).toMatch(/boot FIFO\s+8 slots/);
    expect(init.stdout).toMatch(/dead letters\s+4 slots/);
    expect(init.stdout).toMatch(/recipients\s+up to 3/);
    expect(geometryOf(path)).toMatchObject({
      detailsBytesMax: 64,
      runtimeSlots: 100,
      bootSlots: 8,
      deadLetterSlots: 4,
      recipientsMax: 3,
    });
    const pump = nvrelay(
      'pump',
      path,
      '--count',
      '3',
      '--recipients',
      '3',
      '--payload-bytes',
      '64',
    );
    expect(pump.stderr).toBe('');
    expect(pump.status).toBe(0);
  });

  test('a size too small for the limits is a typed error, exit 1, and leaves no file', () => {
    const path = devicePath();
    const result = nvrelay('init', path, '--size', '64K');
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/cannot hold a node .* \(NODE_BAD_LAYOUT\)\n$/);
    const tooMany = nvrelay('init', path, '--size', '1M', '--runtime-slots', '100000');
    expect(tooMany.status).toBe(1);
    expect(tooMany.stderr).toContain('(NODE_BAD_LAYOUT)');
    expect(readdirSync(dir).filter((name) => name.startsWith(`init-${fileCount - 1}.`))).toEqual(
      [],
    );
  });
});

describe('nvrelay init: an existing file', () => {
  test.each([[[]], [['--bare', '--size', '64K']]])(
    'init %j on an existing device fails with NVRAM_FILE_EXISTS and leaves it unchanged',
    (extra) => {
      const path = devicePath();
      expect(nvrelay('init', path, ...extra).status).toBe(0);
      const before = readFileSync(path);
      const again = nvrelay('init', path, ...extra);
      expect(again.status).toBe(1);
      expect(again.stderr).toMatch(/^nvrelay: .* \(NVRAM_FILE_EXISTS\)\n$/);
      expect(readFileSync(path).equals(before)).toBe(true);
    },
  );

  test('--force replaces it, as a node device or a bare one', () => {
    const path = devicePath();
    expect(nvrelay('init', path, '--bare', '--size', '64K').status).toBe(0);
    expect(nvrelay('init', path, '--size', '1M', '--force').status).toBe(0);
    expect(statSync(path).size).toBe(1 << 20);
    expect(geometryOf(path).runtimeSlots).toBeGreaterThan(0);
    expect(nvrelay('init', path, '--bare', '--size', '128K', '--force').status).toBe(0);
    expect(statSync(path).size).toBe(128 << 10);
  });

  test('--force on a path that is a folder: the error removing it, exit 1, the folder kept', () => {
    const path = join(dir, `folder-${fileCount++}`);
    mkdirSync(path);
    writeFileSync(join(path, 'kept'), 'x');
    const result = nvrelay('init', path, '--size', '1M', '--force');
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^nvrelay: EISDIR: .* \(EISDIR\)\n$/);
    expect(statSync(path).isDirectory()).toBe(true);
    expect(readdirSync(path)).toEqual(['kept']);
    const json = nvrelay('init', path, '--size', '1M', '--force', '--json');
    expect(json.status).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: 'EISDIR' } });
  });

  test('--force with limits that do not fit leaves the existing device', () => {
    const path = devicePath();
    expect(nvrelay('init', path, '--size', '1M').status).toBe(0);
    const before = readFileSync(path);
    expect(nvrelay('init', path, '--size', '64K', '--force').status).toBe(1);
    expect(readFileSync(path).equals(before)).toBe(true);
  });
});

describe('nvrelay init --bare', () => {
  test('formats a device of the given size with its sections, mode 0600', () => {
    const path = devicePath();
    const result = nvrelay(
      'init',
      path,
      '--bare',
      '--size',
      '1M',
      '--sections',
      'events:256K,boot:10000',
    );
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/formatted .*: 1 MiB, 2 sections/);
    expect(statSync(path).size).toBe(1 << 20);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const dump = nvrelay('dump', path);
    expect(dump.status).toBe(1);
    expect(dump.stderr).toContain('(NVRAM_UNKNOWN_SECTION)'); // no node on it
  });

  test('a size that is not a multiple of 4096 is a typed error, exit 1', () => {
    const result = nvrelay('init', devicePath(), '--bare', '--size', '5000');
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('(NVRAM_BAD_SIZE)');
  });
});

describe('nvrelay init: bad usage exits 2 with a clear message, and makes no file', () => {
  test.each([
    [['--sections', 'events:8K'], "'--sections <list>' lays out a bare device: add --bare"],
    [
      ['--bare', '--runtime-slots', '64'],
      "'--runtime-slots <n>' cannot be used with option '--bare'",
    ],
    [['--recipients-max', '0'], "'--recipients-max <n>' argument '0' is invalid"],
    [['--boot-slots', 'many'], "'--boot-slots <n>' argument 'many' is invalid"],
    [['--details-bytes-max', '1000000'], "'--details-bytes-max <n>' argument '1000000' is invalid"],
    [['--size', '64Q'], 'is not a size'],
    [['--bare', '--sections', 'nosize'], "section 'nosize' is not name:size"],
    [['--sektions', 'a:4K'], "unknown option '--sektions'"],
  ])('%j', (args, message) => {
    const path = devicePath();
    const result = nvrelay('init', path, ...args);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(message);
    expect(existsSync(path)).toBe(false);
  });

  test('a missing device path', () => {
    expect(nvrelay('init').status).toBe(2);
  });
});
