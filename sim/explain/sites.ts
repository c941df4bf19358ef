/**
 * Source sites of instructions, for explaining one crash state: a wrapper around a traced
 * device that remembers, for every instruction, where in the program it was issued: a few
 * frames of the stack, user code only (the lab, the device and node_modules left out),
 * source-mapped to .ts where the compiled file has a map. Capturing a stack per instruction
 * is slow, so only replay uses it, never the explorer.
 *
 * A thin helper around the device (`pmem.persist(off, len)`) would otherwise take the blame
 * for every instruction: a frame whose line issues instructions for several different callers
 * is a helper, and the site names its caller ("log.ts:42 (Log.append) via pmem.ts:7").
 */
import { basename, dirname, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TracedNvram } from '../../src/nvram/traced.js';
import { DeviceWrapper, type WriteOperation } from '../device-wrapper.js';

/** `sites[i]` says where instruction i was issued ("examples/log.ts:42 (PersistentLog.append)"). */
export class SiteRecordingDevice extends DeviceWrapper<TracedNvram> {
  readonly sites: string[] = [];
  /** Per instruction: its user frames, innermost first (at most `framesMax`). */
  readonly stacks: string[][] = [];

  protected issue(_operation: WriteOperation, instruction: () => void): void {
    const first = this.inner.instructionCount;
    const frames = userFrames(new Error().stack ?? '');
    const site = frames[0] ?? 'unknown site';
    try {
      instruction();
    } finally {
      for (let i = first; i < this.inner.instructionCount; i++) {
        this.sites[i] = site;
        this.stacks[i] = frames;
      }
    }
  }
}

// Stacks name .ts lines of compiled code that ships source maps (Node reads them from now on).
process.setSourceMapsEnabled(true);

export const framesMax = 4;

/** The lab's folder and the device's (sim/ and src/nvram/, or their compiled copies). */
const labRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const packageRoot = resolve(labRoot, '..');
/** Compiled (dist/) frames are source-mapped back to the sources: leave out both. */
const sourceRoot = basename(packageRoot) === 'dist' ? resolve(packageRoot, '..') : packageRoot;
const libraryFolders = [packageRoot, sourceRoot]
  .flatMap((root) => [resolve(root, 'sim'), resolve(root, 'src', 'nvram')])
  .map((folder) => folder + sep);

/** Frames of the lab, the device and dependencies: never the user's code. */
function libraryFrame(file: string): boolean {
  if (/^node:|node_modules|^native /.test(file)) return true;
  return libraryFolders.some((folder) => file.startsWith(folder));
}

/** The first stack frame outside this file, shortened to a path relative to the working folder. */
export function callerSite(stack: string): string {
  const frames = stack.split('\n').slice(1);
  const frame = frames.find((line) => !/explain[/\\]sites\.[jt]s/.test(line)) ?? '';
  return parseFrame(frame) ?? 'unknown site';
}

/** Up to `framesMax` frames of user code, innermost first ("file:line (function)"). */
export function userFrames(stack: string): string[] {
  const frames: string[] = [];
  for (const line of stack.split('\n').slice(1)) {
    const match = frameMatch(line);
    if (match === null || libraryFrame(match.file)) continue;
    frames.push(formatFrame(match));
    if (frames.length >= framesMax) break;
  }
  return frames;
}

/**
 * The site of each instruction: its innermost user frame, or, where that frame's line issues
 * instructions for several callers (a helper), the caller's frame "via" the helper's line.
 */
export function blameSites(stacks: readonly (readonly string[])[]): string[] {
  const callers = new Map<string, Set<string>>();
  // a hole: an instruction issued on the traced device itself (a fence completion the
  // workload drives), not through the wrapper
  for (const frames of stacks) {
    const [top, caller] = frames ?? [];
    if (top === undefined || caller === undefined) continue;
    const set = callers.get(top) ?? new Set<string>();
    set.add(caller);
    callers.set(top, set);
  }
  return Array.from(stacks, (frames) => {
    const [top, caller] = frames ?? [];
    if (top === undefined) return 'unknown site';
    if (caller === undefined || (callers.get(top)?.size ?? 0) < 2) return top;
    return `${caller} via ${top.replace(/ \(.*\)$/, '')}`;
  });
}

interface FrameParts {
  functionName: string | undefined;
  file: string;
  line: string;
}

function frameMatch(frame: string): FrameParts | null {
  const match = /at (?:(.+?) \()?(?:file:\/\/)?([^()]+?):(\d+):\d+\)?\s*$/.exec(frame.trim());
  if (match === null) return null;
  const [, functionName, file, line] = match;
  return { functionName, file: file as string, line: line as string };
}

function parseFrame(frame: string): string | undefined {
  const match = frameMatch(frame);
  return match === null ? undefined : formatFrame(match);
}

function formatFrame({ functionName, file, line }: FrameParts): string {
  const path = file.startsWith('/') ? relative(process.cwd(), file) : file;
  const where = `${path}:${line}`;
  return functionName === undefined ? where : `${where} (${functionName.replace(/^async /, '')})`;
}
