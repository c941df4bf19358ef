/**
 * `nvrelay inspect`, `check` and `demo` as a user runs them (init: init.test.ts): the built CLI in a child
 * process (`npm test` builds it first; after editing, `npm run build` before `npx vitest`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const main = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'nvrelay-cli-'));

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
  return join(dir, `cli-${fileCount++}.nvram`);
}

describe('nvrelay', () => {
  test('--help exits 0', () => {
    const result = nvrelay('--help');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('init');
  });

  test('bad usage exits 2: an unknown command, no command', () => {
    expect(nvrelay('frobnicate').status).toBe(2);
    expect(nvrelay().status).toBe(2);
  });
});

describe('nvrelay inspect', () => {
  test('shows the header, the sections and the boot count', () => {
    const path = devicePath();
    nvrelay('init', path, '--bare', '--size', '64K', '--sections', 'events:8K');
    const result = nvrelay('inspect', path);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('NVRLDEV1');
    expect(result.stdout).toMatch(/size\s+65536 bytes \(64 KiB\)/);
    expect(result.stdout).toMatch(/boot count\s+0/);
    expect(result.stdout).toMatch(/events\s+4096\s+8192/);
  });

  test('--json prints one object with the same facts', () => {
    const path = devicePath();
    nvrelay('init', path, '--bare', '--size', '64K', '--sections', 'events:8K,boot:4K');
    const json = JSON.parse(nvrelay('inspect', path, '--json').stdout) as Record<string, unknown>;
    expect(json).toMatchObject({
      magic: 'NVRLDEV1',
      version: 1,
      sizeBytes: 65536,
      bootCount: 0,
      sections: [
        { name: 'events', offset: 4096, length: 8192 },
        { name: 'boot', offset: 12288, length: 4096 },
      ],
    });
    expect(json['deviceId']).toMatch(/^0x[0-9a-f]{16}$/);
  });

  test('a missing device is a typed error, exit 1', () => {
    const result = nvrelay('inspect', join(dir, 'absent.nvram'));
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^nvrelay: .*absent\.nvram.* \(NVRAM_FILE_MISSING\)\n$/);
  });

  test('a damaged header is the first finding check lists, as a typed error, exit 1', () => {
    const path = devicePath();
    nvrelay('init', path, '--bare', '--size', '64K', '--sections', 'events:8K');
    const bytes = readFileSync(path);
    bytes[40] = 'E'.charCodeAt(0); // the first section's name, without fixing the checksum
    writeFileSync(path, bytes);
    const check = JSON.parse(nvrelay('check', path, '--json').stdout) as {
      findings: { code: string; message: string }[];
    };
    const first = check.findings[0];
    expect(first).toBeDefined();
    const result = nvrelay('inspect', path);
    expect(result.status).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      `nvrelay: ${first?.message.replace(/^nvrelay: /, '')} (${first?.code})\n`,
    );
    const json = nvrelay('inspect', path, '--json');
    expect(json.status).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual({
      error: { code: first?.code, message: first?.message.replace(/^nvrelay: /, '') },
    });
    expect(readFileSync(path).equals(bytes)).toBe(true); // inspect only reads
  });
});

describe('nvrelay check', () => {
  test('a sound device exits 0', () => {
    const path = devicePath();
    nvrelay('init', path, '--bare', '--size', '64K', '--sections', 'events:8K');
    const result = nvrelay('check', path);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('sound');
  });

  test('a corrupted section table exits 1 with the finding printed', () => {
    const path = devicePath();
    nvrelay('init', path, '--bare', '--size', '64K', '--sections', 'events:8K');
    const bytes = readFileSync(path);
    bytes[40] = 'E'.charCodeAt(0); // the first section's name, without fixing the checksum
    writeFileSync(path, bytes);
    const result = nvrelay('check', path);
    expect(result.status).toBe(1);
    expect(result.stdout).toContain('(NVRAM_HEADER_CHECKSUM)');
    expect(result.stdout).toContain('(NVRAM_BAD_LAYOUT)'); // 'Events' is not a valid name: every finding is listed
  });

  test('a device whose file size changed exits 1 with the finding printed', () => {
    const path = devicePath();
    nvrelay('init', path, '--bare', '--size', '64K');
    writeFileSync(path, Buffer.alloc(4096), { flag: 'a' });
    const result = nvrelay('check', path);
    expect(result.status).toBe(1);
    expect(result.stdout).toContain('(NVRAM_SIZE_MISMATCH)');
  });

  test('--json: {path, sound, findings}, exit 0 when sound and 1 with the findings listed', () => {
    const path = devicePath();
    nvrelay('init', path, '--bare', '--size', '64K', '--sections', 'events:8K');
    const sound = nvrelay('check', path, '--json');
    expect(sound.status).toBe(0);
    expect(JSON.parse(sound.stdout)).toEqual({ path, sound: true, findings: [] });
    writeFileSync(path, Buffer.alloc(4096), { flag: 'a' });
    const text = nvrelay('check', path);
    const damaged = nvrelay('check', path, '--json');
    expect(damaged.status).toBe(1);
    const json = JSON.parse(damaged.stdout) as {
      path: string;
      sound: boolean;
      findings: { code: string; message: string }[];
    };
    expect(json.path).toBe(path);
    expect(json.sound).toBe(false);
    expect(json.findings.map(({ code }) => code)).toContain('NVRAM_SIZE_MISMATCH');
    // the same findings as the text output, one line each, then their count
    const lines = json.findings.map(({ code, message }) => `${message} (${code})`);
    const count = json.findings.length;
    expect(text.stdout).toBe(
      [...lines, `${path}: ${count} finding${count === 1 ? '' : 's'}`, ''].join('\n'),
    );
  });

  test('bad usage exits 2', () => {
    expect(nvrelay('check').status).toBe(2);
  });
});

describe('nvrelay demo', () => {
  test('formats ./nvrelay-demo.nvram once and shows it, counting a boot per run', () => {
    const first = nvrelay('demo');
    expect(first.status).toBe(0);
    expect(first.stdout).toContain('formatted');
    expect(first.stdout).toMatch(/boot count\s+1/);
    const second = nvrelay('demo');
    expect(second.status).toBe(0);
    expect(second.stdout).not.toContain('formatted');
    expect(second.stdout).toMatch(/boot count\s+2/);
  });
});
