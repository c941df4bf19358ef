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
import { hexDiff } from './hex-diff.js';

const kindNames = ['store', 'flush', 'fence'] as const;
const lineBytes = 64;

export interface InstructionView {
  index: number;
  kind: 'store' | 'flush' | 'fence';
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

/** Ordering gaps at one cut, latest lost store first; at most `limit`. */
export function orderingGaps(stage: ReplayedStage, limit = 3): OrderingGap[] {
  const { pending, survivors } = stage;
  const gaps: OrderingGap[] = [];
  for (let p = pending.ids.length - 1; p >= 0 && gaps.length < limit; p--) {
    const lostId = pending.ids[p] as number;
    if (survivors.has(lostId)) continue;
    const survivedAt = firstSurvivorAfter(pending, survivors, pending.instructions[p] as number);
    if (survivedAt < 0) continue;
    gaps.push(describeGap(stage, p, survivedAt));
  }
  return gaps;
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
  const { plan } = result;
  const lines = [
    `crash plan: workload ${plan.workload} ${JSON.stringify(plan.params)}, model ${plan.model}, ` +
      `${plan.steps.length} power cut${plan.steps.length === 1 ? '' : 's'}`,
    `replay token: ${token}`,
  ];
  for (const stage of result.stages) lines.push('', ...formatStage(stage, around));
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
  lines.push('  crash image vs durable image:');
  lines.push(...hexDiff(stage.durableImage, stage.crashImage).map((line) => `    ${line}`));
  return lines;
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
