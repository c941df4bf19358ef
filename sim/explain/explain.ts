/**
 * Explaining one replayed crash state in words: the instructions around each cut (with their
 * source sites), which non-durable word-stores survived, the *ordering gaps* that name a missing
 * fence, and a hex diff of the crash image against the durable image.
 *
 * An ordering gap is a word-store that survived while an earlier one (in program order) was
 * lost. Under px86 that can only happen across lines, and it means nothing made the earlier
 * store durable before the later one was issued: a persist (flush + fence) is missing between
 * them. If the earlier store's line was flushed in between, exactly the fence is missing, right
 * after that flush.
 */
import type { TraceLog, WordStoreList } from '../../src/nvram/addon-api.js';
import type { ReplayedStage, ReplayResult } from '../replay.js';
import { bytesHex, diffRows, hexDiff } from './hex-diff.js';

const kindNames = ['store', 'flush', 'fence', 'fence issue', 'fence completion'] as const;
const lineBytes = 64;

export interface InstructionView {
  index: number;
  kind: (typeof kindNames)[number];
  offset: number;
  length: number;
  site: string;
}

export interface OrderingGap {
  /** The lost word-store and the later one that survived without it. */
  lost: { id: number; instruction: number; offset: number };
  survived: { id: number; instruction: number; offset: number };
  /** The last flush of the lost store's line between the two, if any. */
  flush?: InstructionView;
  /** One sentence naming the missing fence (or persist) and where it belongs. */
  summary: string;
}

export function instructionAt(
  trace: TraceLog,
  sites: readonly string[],
  index: number,
): InstructionView {
  return {
    index,
    kind: kindNames[trace.kinds[index] as number] ?? 'store',
    offset: trace.offsets[index] as number,
    length: trace.lengths[index] as number,
    site: sites[index] ?? 'unknown site',
  };
}

/**
 * Ordering gaps at one cut, latest lost store first; at most `limit`. Each is said once: the
 * words of one lost store instruction that the same later store survived make one gap.
 */
export function orderingGaps(stage: ReplayedStage, limit = 3): OrderingGap[] {
  const { pending, survivors } = stage;
  const gaps: OrderingGap[] = [];
  const said = new Set<string>();
  for (let p = pending.ids.length - 1; p >= 0 && gaps.length < limit; p--) {
    const lostId = pending.ids[p] as number;
    if (survivors.has(lostId)) continue;
    const survivedAt = firstSurvivorAfter(pending, survivors, pending.instructions[p] as number);
    if (survivedAt < 0) continue;
    const key = `${pending.instructions[p]}>${pending.instructions[survivedAt]}`;
    if (said.has(key)) continue;
    said.add(key);
    gaps.push(describeGap(stage, p, survivedAt));
  }
  return gaps;
}

export interface TornStore {
  instruction: number;
  site: string;
  offset: number;
  length: number;
  /** Word offsets of the store that survived, and those lost. */
  survived: number[];
  lost: number[];
}

/** Multi-word stores of which some words survived and others not. */
export function tornStores(stage: ReplayedStage): TornStore[] {
  const byInstruction = new Map<number, { survived: number[]; lost: number[] }>();
  const { pending, survivors } = stage;
  for (let p = 0; p < pending.ids.length; p++) {
    const instruction = pending.instructions[p] as number;
    const entry = byInstruction.get(instruction) ?? { survived: [], lost: [] };
    const offset = pending.offsets[p] as number;
    (survivors.has(pending.ids[p] as number) ? entry.survived : entry.lost).push(offset);
    byInstruction.set(instruction, entry);
  }
  const torn: TornStore[] = [];
  for (const [instruction, { survived, lost }] of byInstruction) {
    if (survived.length === 0 || lost.length === 0) continue;
    const view = instructionAt(stage.trace, stage.sites, instruction);
    torn.push({
      instruction,
      site: view.site,
      offset: view.offset,
      length: view.length,
      survived,
      lost,
    });
  }
  return torn;
}

function firstSurvivorAfter(
  pending: WordStoreList,
  survivors: Set<number>,
  instruction: number,
): number {
  for (let s = 0; s < pending.ids.length; s++) {
    if (
      (pending.instructions[s] as number) > instruction &&
      survivors.has(pending.ids[s] as number)
    )
      return s;
  }
  return -1;
}

function describeGap(stage: ReplayedStage, p: number, s: number): OrderingGap {
  const word = (i: number): OrderingGap['lost'] => ({
    id: stage.pending.ids[i] as number,
    instruction: stage.pending.instructions[i] as number,
    offset: stage.pending.offsets[i] as number,
  });
  const lost = word(p);
  const survived = word(s);
  const flush = lastFlushOfLine(stage, lost.offset, lost.instruction, survived.instruction);
  const lostAt = instructionAt(stage.trace, stage.sites, lost.instruction);
  const survivedAt = instructionAt(stage.trace, stage.sites, survived.instruction);
  const head =
    `${stage.name}: the store at instruction ${survived.instruction} (${hex(survived.offset)}, ${survivedAt.site}) ` +
    `survived without the earlier store at instruction ${lost.instruction} (${hex(lost.offset)}, ${lostAt.site})`;
  const summary =
    flush === undefined
      ? `${head}: missing persist (flush + fence) of ${hex(lost.offset)} between instructions ${lost.instruction} and ${survived.instruction}`
      : `${head}: missing fence after instruction ${flush.index} (the flush at ${flush.site}), before instruction ${survived.instruction}`;
  return flush === undefined ? { lost, survived, summary } : { lost, survived, flush, summary };
}

function lastFlushOfLine(
  stage: ReplayedStage,
  offset: number,
  after: number,
  before: number,
): InstructionView | undefined {
  const line = Math.floor(offset / lineBytes);
  for (let i = before - 1; i > after; i--) {
    const view = instructionAt(stage.trace, stage.sites, i);
    if (view.kind !== 'flush' || view.length === 0) continue;
    const first = Math.floor(view.offset / lineBytes);
    const last = Math.floor((view.offset + view.length - 1) / lineBytes);
    if (line >= first && line <= last) return view;
  }
  return undefined;
}

/** The whole explanation as text (what `nvrelay crashtest --replay` prints). */
export function formatReplay<R>(result: ReplayResult<R>, token: string, around = 6): string {
  const last = result.stages[result.stages.length - 1];
  const { plan } = result;
  const lines = [
    `crash plan: workload ${plan.workload} ${JSON.stringify(plan.params)}, model ${plan.model}, ` +
      `${plan.steps.length} power cut${plan.steps.length === 1 ? '' : 's'}`,
    `replay token: ${token}`,
  ];
  for (const stage of result.stages) lines.push('', ...formatStage(stage, around));
  if (last !== undefined && result.findings.length > 0 && result.recoveryLoads !== undefined)
    lines.push('', ...formatDecidingLoads(last, result.recoveryLoads));
  lines.push(
    '',
    result.findings.length === 0 ? 'verdict: no invariant broken' : 'verdict: violation',
  );
  for (const finding of result.findings) {
    const seqs = finding.sequences?.length ? ` (sequences ${finding.sequences.join(', ')})` : '';
    lines.push(`  [${finding.invariant}] ${finding.message}${seqs}`);
  }
  return lines.join('\n');
}

function formatStage(stage: ReplayedStage, around: number): string[] {
  const lines = [
    `power cut in the ${stage.name} at instruction ${stage.cut} of ${stage.instructions}`,
  ];
  lines.push('  instructions around the cut:');
  const first = Math.max(0, stage.cut - around);
  const last = Math.min(stage.instructions - 1, stage.cut + 2);
  for (let i = first; i <= last; i++) {
    const view = instructionAt(stage.trace, stage.sites, i);
    const mark = i === stage.cut ? '>>' : i > stage.cut ? '  ' : '  ';
    const note = i === stage.cut ? '   <- did not run' : i > stage.cut ? '   (not run)' : '';
    const range = view.kind === 'fence' ? '' : `${hex(view.offset)} +${view.length}`;
    lines.push(
      `  ${mark}${String(i).padStart(6)}  ${view.kind.padEnd(5)} ${range.padEnd(16)} ${view.site}${note}`,
    );
  }
  lines.push(...formatSurvivors(stage));
  for (const gap of orderingGaps(stage)) lines.push(`  ordering gap: ${gap.summary}`);
  for (const torn of tornStores(stage)) {
    lines.push(
      `  torn store: instruction ${torn.instruction} (${hex(torn.offset)} +${torn.length}, ${torn.site}) ` +
        `survived in part: ${torn.survived.length} of ${torn.survived.length + torn.lost.length} words ` +
        `(${torn.survived.map(hex).join(', ')}); lost ${torn.lost.map(hex).join(', ')}`,
    );
  }
  const stack = stage.stacks[stage.cut - 1];
  if (stack !== undefined && stack.length > 1) {
    lines.push(`  stack of instruction ${stage.cut - 1}, the last that ran:`);
    for (const frame of stack) lines.push(`    at ${frame}`);
  }
  lines.push('  crash image vs durable image (what survived beyond the durable image):');
  lines.push(...hexDiff(stage.durableImage, stage.crashImage).map((line) => `    ${line}`));
  lines.push('  crash image vs every pending store applied (what was lost; L = a lost word):');
  lines.push(...lostDiff(stage).map((line) => `    ${line}`));
  return lines;
}

/** Word offsets of the lost word-stores (whose value is not in the crash image). */
function lostWords(stage: ReplayedStage): Map<number, number> {
  const lost = new Map<number, number>(); // word offset -> instruction of the last lost store
  const { pending, survivors } = stage;
  for (let p = 0; p < pending.ids.length; p++) {
    if (survivors.has(pending.ids[p] as number)) continue;
    lost.set(pending.offsets[p] as number, pending.instructions[p] as number);
  }
  return lost;
}

function lostDiff(stage: ReplayedStage): string[] {
  const rows = diffRows(stage.fullImage, stage.crashImage, 17);
  if (rows.length === 0)
    return ['(identical: every pending store survived, or none changed a byte)'];
  const lost = lostWords(stage);
  const lines: string[] = [];
  for (const row of rows.slice(0, 16)) {
    const at = hex(row.offset);
    const marks = Array.from(row.before, (b, i) => {
      const word = Math.floor((row.offset + i) / 8) * 8;
      if (b === row.after[i]) return '  ';
      return lost.has(word) ? 'LL' : '^^';
    }).join(' ');
    const notes = [
      ...new Set(Array.from(row.before, (_, i) => Math.floor((row.offset + i) / 8) * 8)),
    ]
      .filter((word) => lost.has(word) && diffInWord(stage, word))
      .map((word) => {
        const instruction = lost.get(word) as number;
        return `${hex(word)} lost (instruction ${instruction}, ${stage.sites[instruction] ?? 'unknown site'})`;
      });
    lines.push(`${at} intended ${bytesHex(row.before)}`);
    lines.push(`${' '.repeat(at.length)} crash    ${bytesHex(row.after)}`);
    lines.push(
      `${' '.repeat(at.length)}          ${marks}${notes.length > 0 ? `  ${notes.join('; ')}` : ''}`,
    );
  }
  if (rows.length > 16) lines.push('... more rows differ');
  return lines;
}

function diffInWord(stage: ReplayedStage, word: number): boolean {
  for (let i = word; i < word + 8; i++) if (stage.fullImage[i] !== stage.crashImage[i]) return true;
  return false;
}

/**
 * The words recovery loaded whose value the crash changed (lost or torn stores, flipped bits):
 * what recovery trusted and should have checked, when the bug is in recovery.
 */
function formatDecidingLoads(stage: ReplayedStage, loads: Uint8Array): string[] {
  const lost = lostWords(stage);
  const lines: string[] = [];
  let loaded = 0;
  for (let w = 0; w < loads.length; w++) {
    if (loads[w] === 0) continue;
    loaded++;
    const offset = w * 8;
    if (!diffInWord(stage, offset)) continue;
    if (lines.length < 12) {
      const instruction = lost.get(offset);
      const cause =
        instruction === undefined
          ? 'changed by a media fault'
          : `its store at instruction ${instruction} (${stage.sites[instruction] ?? 'unknown site'}) was lost`;
      lines.push(
        `    ${hex(offset)}  read ${bytesHex(stage.crashImage.subarray(offset, offset + 8))}  ` +
          `intended ${bytesHex(stage.fullImage.subarray(offset, offset + 8))}: ${cause}`,
      );
    }
  }
  const head =
    lines.length === 0
      ? `  recovery loaded ${loaded} words; none differs from the intended image (the workload's own order, or the check, decides)`
      : `  words recovery loaded that the crash changed (recovery trusted them; did it check them?):`;
  return [head, ...lines];
}

function formatSurvivors(stage: ReplayedStage): string[] {
  const { pending, survivors } = stage;
  const count = pending.ids.length;
  const lines = [`  non-durable word-stores at the cut: ${count}, survived: ${survivors.size}`];
  const shown = Math.min(count, 24);
  for (let i = 0; i < shown; i++) {
    const id = pending.ids[i] as number;
    const state = pending.states[i] === 0 ? 'pending' : 'flushing';
    const fate = survivors.has(id) ? 'SURVIVED' : 'lost';
    lines.push(
      `    word-store ${String(id).padStart(5)}  instruction ${String(pending.instructions[i]).padStart(6)}  ` +
        `${hex(pending.offsets[i] as number)}  ${state.padEnd(8)}  ${fate}`,
    );
  }
  if (count > shown) lines.push(`    ... ${count - shown} more`);
  return lines;
}

export function hex(offset: number): string {
  return `0x${offset.toString(16).padStart(5, '0')}`;
}
