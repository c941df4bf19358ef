/**
 * Parsing of command-line values shared by the commands. A bad value is a usage error
 * (exit 2), reported by commander as an invalid argument.
 */
import { InvalidArgumentError } from 'commander';
import type { PersistencyModel, SectionSpec } from '../src/nvram/index.js';

/** A decimal integer >= low (counts, seeds, ports). */
export function integerAtLeast(low: number): (text: string) => number {
  return (text) => {
    const value = Number(text);
    if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < low)
      throw new InvalidArgumentError(`expected an integer >= ${low}, got '${text}'`);
    return value;
  };
}

const models: readonly PersistencyModel[] = ['px86', 'relaxed', 'eadr'];

/** A persistency model of the traced device (crashtest, simulate). */
export function parseModel(text: string): PersistencyModel {
  if (!models.includes(text as PersistencyModel))
    throw new InvalidArgumentError(`'${text}' is not a model (px86, relaxed or eadr)`);
  return text as PersistencyModel;
}

const sizePattern = /^(\d+)\s*([KMG]?)(?:i?B)?$/i;
const unitBytes: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30 };

/** "64M" -> 67108864. Suffixes K, M, G are powers of 1024 (an optional "B" or "iB" may follow). */
export function parseSize(text: string): number {
  const match = sizePattern.exec(text.trim());
  if (match === null) {
    throw new InvalidArgumentError(
      `'${text}' is not a size (a number with an optional K, M or G suffix)`,
    );
  }
  const bytes = Number(match[1]) * (unitBytes[(match[2] ?? '').toUpperCase()] ?? 1);
  if (!Number.isSafeInteger(bytes)) throw new InvalidArgumentError(`size '${text}' is too large`);
  return bytes;
}

/** "events:1M,boot:64K" -> [{name: 'events', length: 1048576}, {name: 'boot', length: 65536}]. */
export function parseSections(text: string): SectionSpec[] {
  if (text.trim() === '') return [];
  return text.split(',').map((entry) => {
    const colon = entry.lastIndexOf(':');
    if (colon <= 0) {
      throw new InvalidArgumentError(`section '${entry}' is not name:size (e.g. events:1M)`);
    }
    return { name: entry.slice(0, colon).trim(), length: parseSize(entry.slice(colon + 1)) };
  });
}

/** 67108864 -> "64 MiB"; exact binary units only, else plain bytes. */
export function formatSize(bytes: number): string {
  for (const [unit, scale] of [
    ['GiB', 2 ** 30],
    ['MiB', 2 ** 20],
    ['KiB', 2 ** 10],
  ] as const) {
    if (bytes >= scale && bytes % scale === 0) return `${bytes / scale} ${unit}`;
  }
  return `${bytes} bytes`;
}
