/**
 * docs/SPEC.md is the project's own specification, and every citation of it resolves: each
 * section (`SPEC 4.5`), element (`[193]`) and step (`step 213`, `[230-240]`) the code, the
 * tests and the documents cite has its heading or paragraph there, and nothing cites a
 * specification or style guide that is not in the repository.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const spec = readFileSync(join(root, 'docs/SPEC.md'), 'utf8');
const scanned = ['src', 'sim', 'cli', 'examples', 'bench', 'native', 'test', 'docs'];
const textFile = /\.(ts|md|h|cpp)$/;

function files(folder: string): string[] {
  return readdirSync(folder).flatMap((name) => {
    const path = join(folder, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' ? [] : files(path);
    return textFile.test(name) ? [path] : [];
  });
}

const sources = [
  ...scanned.flatMap((folder) => files(join(root, folder))),
  join(root, 'README.md'),
].filter((path) => !path.endsWith(join('docs', 'SPEC.md')) && !path.endsWith('spec.test.ts'));
const texts = sources.map((path) => ({
  file: relative(root, path),
  text: readFileSync(path, 'utf8'),
}));

/** Where each cited number appears first, for the failure message. */
function cited(
  pattern: RegExp,
  numbers: (match: RegExpExecArray) => string[],
): Map<string, string> {
  const found = new Map<string, string>();
  for (const { file, text } of texts) {
    for (const match of text.matchAll(new RegExp(pattern.source, 'g'))) {
      for (const number of numbers(match)) if (!found.has(number)) found.set(number, file);
    }
  }
  return found;
}

/** Element and step numbers (100-299) in `[110]`, `[120, 130]`, `[160, 215-217]`, `step 213`. */
function elementAndStepCitations(): Map<string, string> {
  const listed = (list: string) =>
    list.split(/,\s*/).flatMap((item) => item.split('-').filter((end) => /^[12]\d\d$/.test(end)));
  const brackets = cited(
    /(?<![\w\]])\[([12]\d\d(?:-[12]\d\d)?(?:,\s*[12]\d\d(?:-[12]\d\d)?)*)\]/,
    (m) => listed(m[1] ?? ''),
  );
  const steps = cited(/\b[Ss]teps? ([12]\d\d(?:-[12]\d\d)?(?: and [12]\d\d)?)/, (m) =>
    (m[1] ?? '').split(/-| and /),
  );
  for (const [number, file] of steps) if (!brackets.has(number)) brackets.set(number, file);
  return brackets;
}

/** True if SPEC.md defines `number`: `**[n] Name.**`, `**n**` or a bold range `**a-b**` holding it. */
function defined(number: string): boolean {
  if (spec.includes(`**[${number}]`) || spec.includes(`**${number}**`)) return true;
  const value = Number(number);
  return [...spec.matchAll(/\*\*(\d{3})-(\d{3})\*\*/g)].some(
    (m) => Number(m[1]) <= value && value <= Number(m[2]),
  );
}

/** True if SPEC.md has section `n` or `n.m`: a heading, or a bold rule number. */
function hasSection(section: string): boolean {
  const heading = new RegExp(`^#{2,3} ${section.replace('.', '\\.')}\\.? `, 'm');
  return heading.test(spec) || spec.includes(`**${section}**`);
}

describe('docs/SPEC.md', () => {
  test('every element and step number cited has its paragraph', () => {
    const citations = elementAndStepCitations();
    expect(citations.size).toBeGreaterThan(30);
    const missing = [...citations].filter(([number]) => !defined(number));
    expect(missing.map(([number, file]) => `${number} (cited in ${file})`)).toEqual([]);
  });

  test('every section cited (SPEC 3, SPEC 4.5, SPEC section 4) has its heading', () => {
    const sections = cited(/\bSPEC (?:section )?(\d(?:\.\d)?)\b/, (m) => [m[1] ?? '']);
    expect(sections.size).toBeGreaterThan(8);
    const missing = [...sections].filter(([section]) => !hasSection(section));
    expect(missing.map(([section, file]) => `SPEC ${section} (cited in ${file})`)).toEqual([]);
  });

  test('nothing cites a SPEC.md or STYLE.md outside docs/', () => {
    const stray = texts.flatMap(({ file, text }) =>
      [...text.matchAll(/(?:[\w./-]*)(?:SPEC|STYLE)\.md|\bSTYLE \d/g)]
        .map((m) => m[0])
        .filter((name) => name !== 'docs/SPEC.md')
        .map((name) => `${file}: ${name}`),
    );
    expect(stray).toEqual([]);
  });
});
