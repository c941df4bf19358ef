/**
 * FIFO recovery as labelled decision tables: the rows D1-D5, R1 and R2 of docs/ARCHITECTURE.md
 * ("Recovery decision table"), in code. Each row names the facts it needs, true or false; a fact
 * it does not name is a don't-care. A table is built once into a lookup indexed by the facts as
 * bits, and building it asserts that every combination of facts matches exactly one row
 * (complete and unambiguous); test/fifo/recovery-table.test.ts shows that, that every row is
 * reachable, that recovery may stop establishing facts at the first false one (the facts after
 * it are don't-cares of the row that decides), and that the document lists the same rows.
 */
import { assert } from '../events/assert.js';

export interface DecisionRow<Fact extends string, Decision extends string> {
  /** The row's label in docs/ARCHITECTURE.md. */
  row: string;
  /** The facts this row needs; a fact left out is a don't-care. */
  when: Readonly<Partial<Record<Fact, boolean>>>;
  decision: Decision;
}

export class DecisionTable<Fact extends string, Decision extends string> {
  readonly facts: readonly Fact[];
  readonly rows: readonly DecisionRow<Fact, Decision>[];
  /** The index of the one matching row, by facts as bits (bit i = facts[i]). */
  readonly #rowByBits: Uint8Array;

  constructor(facts: readonly Fact[], rows: readonly DecisionRow<Fact, Decision>[]) {
    assert(facts.length <= 8 && rows.length < 256, 'decision table too large');
    this.facts = facts;
    this.rows = rows;
    this.#rowByBits = new Uint8Array(1 << facts.length);
    for (let bits = 0; bits < 1 << facts.length; bits++) {
      const matching = this.matching(bits);
      assert(
        matching.length === 1,
        `decision table: ${this.describe(bits)} matches ${matching.length} rows`,
      );
      this.#rowByBits[bits] = matching[0] as number;
    }
  }

  /** The bit of one fact. */
  bit(fact: Fact): number {
    const index = this.facts.indexOf(fact);
    assert(index >= 0, `decision table: unknown fact '${fact}'`);
    return 1 << index;
  }

  /** The one row matching the facts (no allocation: recovery calls it once per slot). */
  decide(bits: number): DecisionRow<Fact, Decision> {
    return this.rows[this.#rowByBits[bits] as number] as DecisionRow<Fact, Decision>;
  }

  /** Indexes of every row the facts match (exactly one, once built). */
  matching(bits: number): number[] {
    const found: number[] = [];
    this.rows.forEach((row, index) => {
      const fits = this.facts.every((fact, i) => {
        const wanted = row.when[fact];
        const actual = ((bits >> i) & 1) === 1;
        return wanted === undefined || wanted === actual;
      });
      if (fits) found.push(index);
    });
    return found;
  }

  describe(bits: number): string {
    return this.facts.map((fact, i) => `${fact}=${(bits >> i) & 1 ? 'yes' : 'no'}`).join(' ');
  }
}

/**
 * Pointer recovery (rows D1-D3), once per FIFO at boot. A descriptor that is not intact stops
 * the boot whatever the pointers say.
 */
export const pointerTable = new DecisionTable(['descriptorIntact', 'pointersValid'] as const, [
  { row: 'D1', when: { descriptorIntact: false }, decision: 'corrupt' },
  { row: 'D2', when: { descriptorIntact: true, pointersValid: true }, decision: 'take' },
  { row: 'D3', when: { descriptorIntact: true, pointersValid: false }, decision: 'salvage' },
]);

/**
 * One slot (rows D4, R1, R2), in the order recovery establishes the facts: where the slot is
 * (past the durable tail word, found by the scan of D4; or before it, published by the word and
 * examined when replay first reaches it), then whether its position is within one ring of the
 * head, its record passes the record check (tag, length, CRC, position = the slot's, fields),
 * and its seq is above the previous valid record's. Before the tail word the position is always
 * within the ring (D2), so R rows leave withinRing a don't-care.
 */
export const slotTable = new DecisionTable(
  ['pastTailWord', 'withinRing', 'recordValid', 'seqAbove'] as const,
  [
    {
      row: 'D4',
      when: { pastTailWord: true, withinRing: true, recordValid: true, seqAbove: true },
      decision: 'published',
    },
    { row: 'D4', when: { pastTailWord: true, withinRing: false }, decision: 'scan-ends' },
    {
      row: 'D4',
      when: { pastTailWord: true, withinRing: true, recordValid: false },
      decision: 'scan-ends',
    },
    {
      row: 'D4',
      when: { pastTailWord: true, withinRing: true, recordValid: true, seqAbove: false },
      decision: 'scan-ends',
    },
    {
      row: 'R1',
      when: { pastTailWord: false, recordValid: true, seqAbove: true },
      decision: 'deliver',
    },
    { row: 'R2', when: { pastTailWord: false, recordValid: false }, decision: 'discard' },
    {
      row: 'R2',
      when: { pastTailWord: false, recordValid: true, seqAbove: false },
      decision: 'discard',
    },
  ],
);

/**
 * Where the scan of D4 stopped (row D5): if the slot holds a damaged record for its position (a
 * tagged record that fails the check: torn by a cut, or a media fault) and, past a run of such
 * records, a slot holds a valid record for its position with a seq above the last one accepted,
 * the damaged run is inside the published range (discarded, reported as torn) and the scan goes
 * on there; else the scan ends (reporting a damaged record it ends at).
 */
export const scanEndTable = new DecisionTable(['damaged', 'intactFollows'] as const, [
  { row: 'D5', when: { damaged: true, intactFollows: true }, decision: 'skip' },
  { row: 'D4', when: { damaged: true, intactFollows: false }, decision: 'end-torn' },
  { row: 'D4', when: { damaged: false }, decision: 'end' },
]);

/**
 * A delivered record's confirmation word (row R3): outside the record's CRC, it carries a check
 * of its own (src/events/checked-word.ts). A word that fails it is a media fault: its bits cannot
 * be trusted either way, so the event goes again to every intended recipient, and is reported.
 */
export const confirmationTable = new DecisionTable(['confirmationIntact'] as const, [
  { row: 'R3', when: { confirmationIntact: true }, decision: 'trust' },
  { row: 'R3', when: { confirmationIntact: false }, decision: 'redeliver' },
]);

export const confirmationFact = {
  confirmationIntact: confirmationTable.bit('confirmationIntact'),
} as const;

export const scanEndFact = {
  damaged: scanEndTable.bit('damaged'),
  intactFollows: scanEndTable.bit('intactFollows'),
} as const;

export const slotFact = {
  pastTailWord: slotTable.bit('pastTailWord'),
  withinRing: slotTable.bit('withinRing'),
  recordValid: slotTable.bit('recordValid'),
  seqAbove: slotTable.bit('seqAbove'),
} as const;

export const pointerFact = {
  descriptorIntact: pointerTable.bit('descriptorIntact'),
  pointersValid: pointerTable.bit('pointersValid'),
} as const;
