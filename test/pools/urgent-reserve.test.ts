import { describe, expect, test } from 'vitest';
import type { PersistentFifo } from '../../src/fifo/fifo.js';
import { EventPool, indicationQueueCapacity, urgentReserveFor } from '../../src/pools/pool.js';

/** A FIFO as the pool sees it: a slot count and the free slots now. */
function fifoWith(slotCount: number): PersistentFifo & { freeSlots: number } {
  const fifo = {
    slotCount,
    freeSlots: slotCount,
    free: () => fifo.freeSlots,
  };
  return fifo as unknown as PersistentFifo & { freeSlots: number };
}

const err = 3;
const warning = 4;

describe('urgentReserveFor', () => {
  test('none below two slots, then one eighth with at least one', () => {
    expect([0, 1, 2, 3, 15, 16, 17, 23, 24, 64, 4096].map(urgentReserveFor)).toEqual([
      0, 0, 1, 1, 1, 2, 2, 2, 3, 8, 512,
    ]);
  });
});

describe('EventPool', () => {
  test('takes its capacity and reserve from the FIFO', () => {
    const pool = new EventPool('runtime', fifoWith(16));
    expect(pool.name).toBe('runtime');
    expect(pool.capacity).toBe(16);
    expect(pool.urgentReserve).toBe(2);
    expect(pool.used()).toBe(0);
  });

  test('the last reserved slots are for err or worse only; a full pool fits nothing', () => {
    const fifo = fifoWith(16);
    const pool = new EventPool('boot', fifo);
    const fitsAt = (used: number, level: number) => {
      fifo.freeSlots = 16 - used;
      expect(pool.used()).toBe(used);
      return pool.fits(level);
    };
    expect(fitsAt(13, warning)).toBe(true);
    expect(fitsAt(14, warning)).toBe(false);
    expect(fitsAt(14, err)).toBe(true);
    expect(fitsAt(14, 0)).toBe(true);
    expect(fitsAt(15, err)).toBe(true);
    expect(fitsAt(16, err)).toBe(false);
    expect(fitsAt(16, 0)).toBe(false);
  });

  test('a refusal is counted, and apart when only the reserve was left', () => {
    const fifo = fifoWith(16);
    const pool = new EventPool('runtime', fifo);
    fifo.freeSlots = 1; // only the reserve left
    pool.refuse();
    expect([pool.rejected, pool.rejectedByReserve]).toEqual([1, 1]);
    fifo.freeSlots = 0; // full
    pool.refuse();
    pool.refuse();
    expect([pool.rejected, pool.rejectedByReserve]).toEqual([3, 1]);
  });
});

test('the indication queue has one entry per slot of every FIFO it mirrors', () => {
  expect(indicationQueueCapacity([])).toBe(0);
  expect(indicationQueueCapacity([fifoWith(64), fifoWith(4096), fifoWith(8)])).toBe(4168);
});
