/**
 * Auto scheduling on the event loop, against a recording of the node's work: one drain per
 * burst of drainSoon and one group commit per burst of commitSoon; a confirmation fence
 * confirmationFenceDelayMs after the pass that left confirmations pending, one for any number
 * of passes before it fires, none when nothing is pending; one retry timer at the earliest
 * deadline, re-armed only when that deadline changes (an unchanged one keeps its timer, a moved
 * one drops the old), none for no deadline; and after stop (close, fail-stop, also from inside
 * a drain) nothing pending runs and nothing new is scheduled.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { AutoScheduler, confirmationFenceDelayMs } from '../../src/node/scheduler.js';
import { ManualClock } from '../engine/harness.js';

/** The node's work, recorded; its answers set by the test. */
class RecordedWork {
  calls: string[] = [];
  deadline = Infinity;
  pending = false;
  onDrain: () => void = () => {};
  drain(): void {
    this.calls.push('drain');
    this.onDrain();
  }
  fence(): void {
    this.calls.push('fence');
  }
  commitGroup(): void {
    this.calls.push('commit');
  }
  nextDeadline(): number {
    return this.deadline;
  }
  confirmationsPending(): boolean {
    return this.pending;
  }
  guard(work: () => void): void {
    work();
  }
}

let work: RecordedWork;
let clock: ManualClock;
let scheduler: AutoScheduler;

beforeEach(() => {
  vi.useFakeTimers();
  work = new RecordedWork();
  clock = new ManualClock(); // moved by hand: a delay is computed from it, never from the timers
  scheduler = new AutoScheduler(work, clock);
});
afterEach(() => {
  scheduler.stop();
  vi.useRealTimers();
});

/** Runs the next turn's immediates (and nothing timed). */
function nextTurn(): void {
  vi.advanceTimersByTime(0);
}

describe('one callback per burst', () => {
  test('drainSoon twice in a turn: one drain; again after it ran: another', () => {
    scheduler.drainSoon();
    scheduler.drainSoon();
    nextTurn();
    expect(work.calls).toEqual(['drain']);
    scheduler.drainSoon();
    nextTurn();
    expect(work.calls).toEqual(['drain', 'drain']);
  });

  test('commitSoon twice in a turn: one group commit; again after it ran: another', () => {
    scheduler.commitSoon();
    scheduler.commitSoon();
    nextTurn();
    expect(work.calls).toEqual(['commit']);
    scheduler.commitSoon();
    nextTurn();
    expect(work.calls).toEqual(['commit', 'commit']);
  });
});

describe('the confirmation fence', () => {
  test('confirmationFenceDelayMs after a pass that left confirmations pending, once for two passes', () => {
    work.pending = true;
    scheduler.drainSoon();
    nextTurn();
    scheduler.drainSoon();
    nextTurn();
    vi.advanceTimersByTime(confirmationFenceDelayMs - 1);
    expect(work.calls).toEqual(['drain', 'drain']);
    vi.advanceTimersByTime(1);
    expect(work.calls).toEqual(['drain', 'drain', 'fence']);
    vi.advanceTimersByTime(100);
    expect(work.calls).toEqual(['drain', 'drain', 'fence']);
  });

  test('no fence when no confirmation is pending', () => {
    scheduler.drainSoon();
    nextTurn();
    vi.advanceTimersByTime(100);
    expect(work.calls).toEqual(['drain']);
  });
});

describe('the retry timer', () => {
  test('fires at the earliest deadline, its delay taken from the clock', () => {
    work.deadline = clock.now() + 100;
    scheduler.drainSoon();
    nextTurn();
    work.deadline = Infinity;
    vi.advanceTimersByTime(99);
    expect(work.calls).toEqual(['drain']);
    vi.advanceTimersByTime(1);
    expect(work.calls).toEqual(['drain', 'drain']);
  });

  test('a deadline already past fires on the next turn', () => {
    work.deadline = clock.now() - 50;
    scheduler.drainSoon();
    nextTurn();
    work.deadline = Infinity;
    vi.advanceTimersByTime(1);
    expect(work.calls).toEqual(['drain', 'drain']);
  });

  test('an unchanged deadline keeps its timer (not re-armed by a later pass)', () => {
    work.deadline = clock.now() + 100;
    scheduler.drainSoon();
    nextTurn();
    vi.advanceTimersByTime(60);
    scheduler.drainSoon(); // same deadline: the timer armed at 0 stays
    nextTurn();
    work.deadline = Infinity;
    vi.advanceTimersByTime(40);
    expect(work.calls).toEqual(['drain', 'drain', 'drain']);
  });

  test('a moved deadline drops the old timer', () => {
    work.deadline = clock.now() + 100;
    scheduler.drainSoon();
    nextTurn();
    work.deadline = clock.now() + 300;
    scheduler.drainSoon();
    nextTurn();
    vi.advanceTimersByTime(299);
    expect(work.calls).toEqual(['drain', 'drain']);
    work.deadline = Infinity;
    vi.advanceTimersByTime(1);
    expect(work.calls).toEqual(['drain', 'drain', 'drain']);
  });

  test('a deadline gone: its timer dropped, none armed for no deadline', () => {
    work.deadline = clock.now() + 100;
    scheduler.drainSoon();
    nextTurn();
    expect(vi.getTimerCount()).toBe(1);
    work.deadline = Infinity;
    scheduler.drainSoon();
    nextTurn();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(10_000);
    expect(work.calls).toEqual(['drain', 'drain']);
  });

  test('no deadline: no timer', () => {
    scheduler.drainSoon();
    nextTurn();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(10_000);
    expect(work.calls).toEqual(['drain']);
  });
});

describe('stop', () => {
  test('cancels a pending drain, group commit, fence and retry timer', () => {
    work.pending = true;
    work.deadline = clock.now() + 100;
    scheduler.drainSoon();
    nextTurn();
    scheduler.drainSoon();
    scheduler.commitSoon();
    expect(vi.getTimerCount()).toBe(4);
    scheduler.stop();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(10_000);
    expect(work.calls).toEqual(['drain']);
  });

  test('nothing is scheduled after it', () => {
    scheduler.stop();
    scheduler.drainSoon();
    scheduler.commitSoon();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(10_000);
    expect(work.calls).toEqual([]);
  });

  test('a drain that stops the node (fail-stop) arms no fence and no retry timer', () => {
    work.pending = true;
    work.deadline = clock.now() + 100;
    work.onDrain = () => scheduler.stop();
    scheduler.drainSoon();
    nextTurn();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(10_000);
    expect(work.calls).toEqual(['drain']);
  });
});
