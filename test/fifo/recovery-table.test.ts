/**
 * The FIFO's recovery decision tables (src/fifo/recovery-table.ts): complete, unambiguous,
 * every row reachable, sound to evaluate lazily in the order recovery establishes the facts, and
 * the same rows as docs/ARCHITECTURE.md.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { AssertionError } from '../../src/events/assert.js';
import {
  DecisionTable,
  confirmationTable,
  pointerTable,
  scanEndTable,
  slotTable,
  type DecisionRow,
} from '../../src/fifo/recovery-table.js';

const tables = { pointerTable, slotTable, scanEndTable, confirmationTable } as Record<
  string,
  DecisionTable<string, string>
>;

function combinations(table: DecisionTable<string, string>): number[] {
  return Array.from({ length: 1 << table.facts.length }, (_, bits) => bits);
}

describe.each(Object.keys(tables))('%s', (name) => {
  const table = tables[name] as DecisionTable<string, string>;

  test('every combination of facts matches exactly one row', () => {
    for (const bits of combinations(table)) {
      expect(table.matching(bits), table.describe(bits)).toHaveLength(1);
      expect(table.decide(bits)).toBe(table.rows[table.matching(bits)[0] as number]);
    }
  });

  test('every row decides some combination', () => {
    const reached = new Set(combinations(table).map((bits) => table.decide(bits)));
    expect(table.rows.filter((row) => !reached.has(row))).toEqual([]);
  });
});

/**
 * From `bits`, the facts after `from` in `order` may take any value: the decision must not
 * change (so recovery need not establish them).
 */
function decisionsOverLaterFacts(
  table: DecisionTable<string, string>,
  bits: number,
  later: string[],
): Set<string> {
  const decisions = new Set<string>();
  for (let mask = 0; mask < 1 << later.length; mask++) {
    let completed = bits;
    later.forEach((fact, i) => {
      if ((mask >> i) & 1) completed |= table.bit(fact);
    });
    decisions.add(table.decide(completed).decision);
  }
  return decisions;
}

describe('lazy evaluation: the facts after the first false one are don\u2019t-cares', () => {
  // The orders in which PersistentFifo establishes them (recoverPointers, scanFacts, examine,
  // scanEnd).
  const orders: Array<{ table: DecisionTable<string, string>; given: string[]; order: string[] }> =
    [
      { table: pointerTable, given: [], order: ['descriptorIntact', 'pointersValid'] },
      {
        table: slotTable,
        given: ['pastTailWord'],
        order: ['withinRing', 'recordValid', 'seqAbove'],
      },
      { table: slotTable, given: ['withinRing'], order: ['recordValid', 'seqAbove'] },
      { table: scanEndTable, given: [], order: ['damaged', 'intactFollows'] },
    ];
  test.each(orders.map((o) => [o.given.join('+') || 'boot', o] as const))(
    'order after %s',
    (_, { table, given, order }) => {
      const base = given.reduce((bits, fact) => bits | table.bit(fact), 0);
      order.forEach((fact, stop) => {
        // facts before `stop` true, `stop` false, the rest unknown
        const bits = order.slice(0, stop).reduce((b, f) => b | table.bit(f), base);
        const decisions = decisionsOverLaterFacts(table, bits, order.slice(stop + 1));
        expect([...decisions], `${fact} false after ${given.join(', ')}`).toHaveLength(1);
      });
    },
  );
});

describe('building a table checks it', () => {
  const facts = ['a', 'b'] as const;
  const row = (when: DecisionRow<'a' | 'b', string>['when']): DecisionRow<'a' | 'b', string> => ({
    row: 'X',
    when,
    decision: 'x',
  });

  test('a combination no row matches is refused', () => {
    expect(() => new DecisionTable(facts, [row({ a: true }), row({ a: false, b: true })])).toThrow(
      /a=no b=no matches 0 rows/,
    );
  });

  test('a combination two rows match is refused', () => {
    expect(() => new DecisionTable(facts, [row({ a: true }), row({ b: true }), row({})])).toThrow(
      /matches (2|3) rows/,
    );
  });
});

describe('a table\u2019s size, facts and descriptions', () => {
  const factNames = (count: number): string[] => Array.from({ length: count }, (_, i) => `f${i}`);
  const anyRow: DecisionRow<string, string> = { row: 'X', when: {}, decision: 'x' };

  test('up to 8 facts (a lookup of 256 entries); a ninth is refused', () => {
    const eight = new DecisionTable(factNames(8), [anyRow]);
    expect(eight.decide(255)).toBe(anyRow);
    expect(eight.decide(0)).toBe(anyRow);
    expect(() => new DecisionTable(factNames(9), [anyRow])).toThrow(AssertionError);
  });

  test('up to 255 rows (a row index is one byte); 256 are refused', () => {
    const facts = factNames(8);
    const exact = (bits: number): DecisionRow<string, string> => ({
      row: `X${bits}`,
      when: Object.fromEntries(facts.map((fact, i) => [fact, ((bits >> i) & 1) === 1])),
      decision: `x${bits}`,
    });
    const rows = Array.from({ length: 256 }, (_, bits) => exact(bits));
    expect(() => new DecisionTable(facts, rows)).toThrow(AssertionError);
    // 255 rows: the last one leaves f0 a don't-care, so it decides 254 and 255
    const fewer = [
      ...rows.slice(0, 254),
      { ...exact(254), when: { ...exact(254).when, f0: undefined } },
    ];
    const table = new DecisionTable(facts, fewer);
    expect([253, 254, 255].map((bits) => table.decide(bits).decision)).toEqual([
      'x253',
      'x254',
      'x254',
    ]);
  });

  test('a fact\u2019s bit is its index; an unknown fact is refused', () => {
    const table = new DecisionTable(['a', 'b', 'c'] as string[], [anyRow]);
    expect(['a', 'b', 'c'].map((fact) => table.bit(fact))).toEqual([1, 2, 4]);
    expect(() => table.bit('d')).toThrow(AssertionError);
    expect(slotTable.bit('seqAbove')).toBe(8);
  });

  test('describe names every fact yes or no', () => {
    const table = new DecisionTable(['a', 'b'] as string[], [anyRow]);
    expect([0, 1, 2, 3].map((bits) => table.describe(bits))).toEqual([
      'a=no b=no',
      'a=yes b=no',
      'a=no b=yes',
      'a=yes b=yes',
    ]);
  });
});

test('docs/ARCHITECTURE.md lists the same D and R rows as the tables', () => {
  const document = readFileSync(new URL('../../docs/ARCHITECTURE.md', import.meta.url), 'utf8');
  const documented = new Set([...document.matchAll(/^\| *([DR]\d) *\|/gm)].map((m) => m[1]));
  const rows = [
    ...pointerTable.rows,
    ...slotTable.rows,
    ...scanEndTable.rows,
    ...confirmationTable.rows,
  ];
  // D6 has no facts to weigh: one loop (RecoverableFifo.eraseLeftovers), pinned in
  // test/replay/lazy-tail.test.ts
  const coded = new Set([...rows.map((row) => row.row), 'D6']);
  expect([...documented].sort()).toEqual([...coded].sort());
});
