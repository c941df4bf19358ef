/**
 * The engine's clock (src/engine/clock.ts) for event times [111] and retry deadlines [215]: with
 * the system clock one reading serves exactly `timeReuseMax` uses within a turn of the event loop
 * and is dropped at the end of every turn (one immediate per turn), so the next turn reads anew;
 * a caller's clock is read at every use and schedules nothing.
 */
import { afterEach, describe, expect, test, vi } from 'vitest';
import { ClockCell } from '../../src/engine/clock.js';
import { timeReuseMax } from '../../src/constants.js';

const realSetImmediate = globalThis.setImmediate;
const nextTurn = () => new Promise<void>((resolve) => realSetImmediate(() => resolve()));

/** Date.now() counting up by 1 ms per call, and the immediates scheduled. */
function instrument() {
  let ms = 5_000;
  const now = vi.spyOn(Date, 'now').mockImplementation(() => ms++);
  const immediates = vi.spyOn(globalThis, 'setImmediate');
  return { now, immediates };
}

afterEach(() => {
  vi.restoreAllMocks();
});

/** The readings of `uses` reads in this turn. */
function readings(cell: ClockCell, uses: number): number[] {
  const seen: number[] = [];
  for (let k = 0; k < uses; k++) {
    cell.read();
    seen.push(cell.cell[0]!);
  }
  return seen;
}

describe('the system clock, read by the engine', () => {
  test('one reading serves timeReuseMax uses in a turn, then a new reading', () => {
    const { now, immediates } = instrument();
    const cell = new ClockCell(undefined);
    const seen = readings(cell, 2 * timeReuseMax + 1);
    expect(seen.slice(0, timeReuseMax)).toEqual(Array(timeReuseMax).fill(5_000));
    expect(seen.slice(timeReuseMax, 2 * timeReuseMax)).toEqual(Array(timeReuseMax).fill(5_001));
    expect(seen[2 * timeReuseMax]).toBe(5_002);
    expect(now).toHaveBeenCalledTimes(3);
    expect(immediates).toHaveBeenCalledTimes(1);
  });

  test('every turn drops the reading: the next turn reads the clock again', async () => {
    const { now, immediates } = instrument();
    const cell = new ClockCell(undefined);
    expect(readings(cell, 3)).toEqual([5_000, 5_000, 5_000]);
    await nextTurn();
    expect(readings(cell, 2)).toEqual([5_001, 5_001]);
    await nextTurn();
    expect(readings(cell, 2)).toEqual([5_002, 5_002]);
    await nextTurn();
    expect(now).toHaveBeenCalledTimes(3);
    expect(immediates).toHaveBeenCalledTimes(3);
  });
});

describe("a caller's clock", () => {
  test('is read at every use and schedules nothing', async () => {
    const { now, immediates } = instrument();
    let ms = 7_000;
    const cell = new ClockCell({ now: () => ms++ });
    expect(readings(cell, 3)).toEqual([7_000, 7_001, 7_002]);
    await nextTurn();
    expect(readings(cell, 1)).toEqual([7_003]);
    expect(now).not.toHaveBeenCalled();
    expect(immediates).not.toHaveBeenCalled();
  });
});
