/**
 * Fuzzed device images: real devices holding pending events, retired events and dead letters,
 * damaged (bit flips, zeroed and random 64-byte lines, torn pages, truncation, geometry
 * rewritten under a valid checksum) where recovery reads: the device header, the control block
 * and seq lease, the FIFO descriptors and pointer words, the slots, the dead-letter section and
 * the recipient table. Properties, for every image:
 *
 *  - opening, booting, registering the recipients, starting and draining throw nothing but a
 *    typed error (NodeError or NvramError, with a string `code`);
 *  - nothing is delivered that no emit wrote: a delivered user event has the seq, source,
 *    type, severity and details of one emit; the node's own events (source 'nvrelay') have
 *    seqs above every seq emitted before the damage;
 *  - `inspectNode` on the same image agrees with what the boot found: the user events delivered
 *    are exactly its valid pending records (while the recipient table is intact), and the boot
 *    discards (or reports as torn, past the durable tail word) exactly the records it shows as
 *    damaged between head and tail.
 *
 * `npm test` runs a few thousand images with a fixed seed; a long run:
 *   NVRELAY_FUZZ_IMAGES=1000000 npx vitest run test/replay/fuzzed-images.test.ts
 * (NVRELAY_FUZZ_SEED picks another seed.)
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { EventCopy } from '../../src/engine/event-view.js';
import { crc32c } from '../../src/events/crc32c.js';
import { NodeError, QueueFull } from '../../src/events/errors.js';
import { fifoOffsets } from '../../src/fifo/layout.js';
import { inspectNode, type NodeInspection } from '../../src/node/inspect.js';
import { Node } from '../../src/node/node.js';
import { NvramError, TracedNvram } from '../../src/nvram/index.js';
import { ManualClock, bootNode, freshDevice, smallLimits } from '../engine/harness.js';

const imagesToRun = Number(process.env['NVRELAY_FUZZ_IMAGES'] ?? 3_000);
const seed = Number(process.env['NVRELAY_FUZZ_SEED'] ?? 20261204);
const recipientNames = ['r0', 'r1', 'r2'] as const;
const line = 64;
const page = 4096;

interface Emitted {
  source: string;
  type: string;
  severity: string;
  details: string;
}

/** One real device's durable images, oldest first, and what was emitted on it. */
interface Base {
  name: string;
  images: Uint8Array[];
  /** The highest seq emitted when each image was taken. */
  seqMax: number[];
  emitted: Map<number, Emitted>;
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/**
 * A device with events in every state: delivered and retired, pending for a recipient that never
 * confirms (r2) or confirms only even seqs (r0), dead-lettered for r1 (attemptsMax 1), and some
 * in the boot FIFO (emitted before start). Its durable image is taken after each phase.
 * `close`: the node is closed at the end (the tail word is durable; otherwise it lags, row D4).
 */
function buildBase(name: string, close: boolean, runtimeSlots: number, emits: number): Base {
  const limits = { ...smallLimits, runtimeSlots, deadLetterSlots: 4 };
  const { node, device, clock } = bootNode(freshDevice(limits), {
    retry: { timeoutMs: 10, attemptsMax: 1 },
  });
  const emitted = new Map<number, Emitted>();
  const images: Uint8Array[] = [];
  const seqMax: number[] = [];
  const snapshot = (): void => {
    images.push(device.buildDurableImage());
    seqMax.push(Math.max(0, ...emitted.keys()));
  };
  snapshot();
  node.registerRecipient('r0', {}, (event, recipient) => {
    if (event.seq % 5 !== 0) recipient.confirm(event.seq);
  });
  node.registerRecipient('r1', { prefixes: ['dl.'] }, () => {});
  node.registerRecipient('r2', { prefixes: ['keep.'] }, () => {});
  const producer = node.producer('fuzz');
  const emit = (type: string, severity: 'err' | 'info' | 'warning', size: number): void => {
    const details = Uint8Array.from({ length: size }, (_, i) => (i * 31 + emitted.size) & 0xff);
    let seq: number;
    try {
      seq = producer.emit(type, severity, details);
    } catch (error) {
      if (error instanceof QueueFull) return; // the pool holds what is pending: fine
      throw error;
    }
    emitted.set(seq, { source: 'fuzz', type, severity, details: hex(details) });
  };
  emit('keep.boot', 'err', 5); // boot FIFO, pending for r0/r2
  emit('all.boot', 'info', 0);
  snapshot();
  node.start();
  for (let i = 0; i < emits; i++) {
    const kind = i % 4;
    if (kind === 0) emit('keep.a', 'err', i % 40);
    else if (kind === 1) emit('dl.b', 'warning', 8);
    else emit('all.c', 'info', (i * 7) % 64);
    if (i % 3 === 2) {
      node.drainUntilIdle();
      clock.advance(50); // r1's deliveries time out and are dead-lettered
      node.drainUntilIdle();
      snapshot();
    }
  }
  node.drainUntilIdle();
  if (close) node.close();
  snapshot();
  return { name, images, seqMax, emitted };
}

const bases: Base[] = [
  buildBase('closed', true, 16, 10),
  buildBase('lazy tail', false, 128, 14),
  buildBase('wrapped', true, 8, 20),
];

/** Byte ranges recovery reads, by name, in the newest image of a base (same for all images). */
function targets(image: Uint8Array): { name: string; offset: number; length: number }[] {
  const device = TracedNvram.fromImage(image, { boot: false });
  const section = (name: string) => device.section(name);
  const control = section('control');
  const recipients = section('recipients');
  const deadLetter = section('dead-letter');
  const fifos = [section('boot-fifo'), section('runtime-fifo')];
  const result = [
    { name: 'header', offset: 0, length: control.offset },
    { name: 'control', offset: control.offset, length: 128 },
    { name: 'recipients', offset: recipients.offset, length: recipients.length },
    { name: 'dead-letter', offset: deadLetter.offset, length: deadLetter.length },
    { name: 'anywhere', offset: 0, length: image.length },
  ];
  for (const fifo of fifos) {
    result.push(
      { name: `${fifo.name} descriptor`, offset: fifo.offset, length: fifoOffsets.slots },
      { name: `${fifo.name} head`, offset: fifo.offset + fifoOffsets.head, length: 8 },
      { name: `${fifo.name} tail`, offset: fifo.offset + fifoOffsets.tail, length: 8 },
      {
        name: `${fifo.name} slots`,
        offset: fifo.offset + fifoOffsets.slots,
        length: fifo.length - fifoOffsets.slots,
      },
    );
  }
  return result;
}

const baseTargets = bases.map((base) => targets(base.images[base.images.length - 1] as Uint8Array));

type Damage =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'zero-line'; at: number }
  | { kind: 'random-line'; at: number; bytes: Uint8Array }
  | { kind: 'torn-page'; at: number; cut: number; older: number }
  | { kind: 'geometry'; which: number; field: number; value: number }
  | { kind: 'truncate'; at: number };

interface Case {
  base: number;
  image: number;
  target: number;
  damages: Damage[];
}

/** `at` values are fractions of the target range (0..2^32), mapped when applied. */
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const damageArb: fc.Arbitrary<Damage> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('flip' as const), at: u32, bit: fc.nat(7) }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('zero-line' as const), at: u32 }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('random-line' as const),
      at: u32,
      bytes: fc.uint8Array({ minLength: line, maxLength: line }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('torn-page' as const),
      at: u32,
      cut: fc.nat(page / 8),
      older: fc.nat(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('geometry' as const),
      which: fc.nat(3),
      field: fc.nat(5),
      value: fc.oneof(fc.nat(4), fc.nat(200), u32),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: u32 }) },
);

const caseArb: fc.Arbitrary<Case> = fc.integer({ min: 0, max: bases.length - 1 }).chain((base) =>
  fc.record({
    base: fc.constant(base),
    image: fc.nat((bases[base] as Base).images.length - 1),
    target: fc.nat((baseTargets[base] as unknown[]).length - 1),
    damages: fc.array(damageArb, { minLength: 1, maxLength: 3 }),
  }),
);

function rewriteWithCrc(
  image: Uint8Array,
  offset: number,
  fieldOffset: number,
  value: number,
  crcAt: number,
): void {
  if (offset + crcAt + 4 > image.length) return;
  const view = new DataView(image.buffer, image.byteOffset + offset, crcAt + 4);
  view.setUint32(fieldOffset, value >>> 0, true);
  view.setUint32(crcAt, crc32c(image, offset, crcAt), true);
}

/** The damaged image (a copy). */
function damage(c: Case): Uint8Array {
  const base = bases[c.base] as Base;
  let image = Uint8Array.from(base.images[c.image] as Uint8Array);
  const target = (baseTargets[c.base] as ReturnType<typeof targets>)[c.target] as {
    offset: number;
    length: number;
  };
  const pick = (at: number) => target.offset + Math.floor((at / 2 ** 32) * target.length);
  for (const d of c.damages) {
    switch (d.kind) {
      case 'flip': {
        const at = pick(d.at);
        if (at < image.length) image[at] = (image[at] as number) ^ (1 << d.bit);
        break;
      }
      case 'zero-line':
      case 'random-line': {
        const at = pick(d.at) & ~(line - 1);
        const bytes = d.kind === 'zero-line' ? new Uint8Array(line) : d.bytes;
        if (at < image.length) image.set(bytes.subarray(0, Math.min(line, image.length - at)), at);
        break;
      }
      case 'torn-page': {
        // the page's first part is this image's, the rest what an older image held
        const older = base.images[d.older % (c.image + 1)] as Uint8Array;
        const start = (pick(d.at) & ~(page - 1)) + d.cut * 8;
        const end = Math.min((pick(d.at) & ~(page - 1)) + page, image.length, older.length);
        if (start < end) image.set(older.subarray(start, end), start);
        break;
      }
      case 'geometry': {
        // a field rewritten under a valid checksum: control block fields 12..32, or a FIFO or
        // dead-letter descriptor's fields 12..24 (crc at 28)
        const probe = TracedNvram.fromImage(base.images[0] as Uint8Array, { boot: false });
        const names = ['control', 'boot-fifo', 'runtime-fifo', 'dead-letter'];
        const section = probe.section(names[d.which] as string);
        if (d.which === 0) rewriteWithCrc(image, section.offset, 12 + 4 * d.field, d.value, 36);
        else rewriteWithCrc(image, section.offset, 12 + 4 * (d.field % 4), d.value, 28);
        probe.close();
        break;
      }
      case 'truncate':
        image = image.slice(0, Math.floor((d.at / 2 ** 32) * image.length));
        break;
    }
  }
  return image;
}

function isTyped(error: unknown): boolean {
  return (
    (error instanceof NodeError || error instanceof NvramError) &&
    typeof (error as { code: unknown }).code === 'string'
  );
}

/** Runs `work`; a typed error is returned, anything else thrown again. */
function typed<T>(work: () => T): { value: T } | { error: NodeError | NvramError } {
  try {
    return { value: work() };
  } catch (error) {
    if (!isTyped(error)) throw error;
    return { error: error as NodeError | NvramError };
  }
}

interface Outcome {
  stage: 'open' | 'boot' | 'done';
  code?: string;
  delivered: EventCopy[];
  discarded: number;
  /** Damaged records the scan past the durable tail word reported (row D5). */
  torn: { section: string; position: number }[];
  inspection: NodeInspection | null;
}

const tally = {
  images: 0,
  outcomes: new Map<string, number>(),
  deliveredUser: 0,
  deliveredSystem: 0,
  discarded: 0,
  agreed: 0,
  tornPastTail: 0,
};

function count(key: string): void {
  tally.outcomes.set(key, (tally.outcomes.get(key) ?? 0) + 1);
}

function run(image: Uint8Array): Outcome {
  const delivered: EventCopy[] = [];
  const inspected = typed(() => {
    const copy = TracedNvram.fromImage(image, { boot: false });
    try {
      return inspectNode(copy);
    } finally {
      copy.close();
    }
  });
  const inspection = 'value' in inspected ? inspected.value : null;
  const opened = typed(() => TracedNvram.fromImage(image));
  if ('error' in opened)
    return {
      stage: 'open',
      code: opened.error.code,
      delivered,
      discarded: 0,
      torn: [],
      inspection,
    };
  const device = opened.value;
  let node: Node | null = null;
  const booted = typed(() => {
    node = Node.boot(device, { scheduling: 'manual', clock: new ManualClock() });
    for (const name of recipientNames) {
      node.registerRecipient(name, {}, (event, recipient) => {
        delivered.push(event.toJSON());
        recipient.confirm(event.seq);
      });
    }
    node.start();
    node.drainUntilIdle();
    return node;
  });
  const recovery = (node as Node | null)?.recovery;
  const discarded = recovery?.discarded ?? 0;
  const torn = (recovery?.events ?? [])
    .filter((event) => event.type === 'nvrelay.record.torn')
    .map((event) => event.details as { section: string; position: number });
  typed(() => (node as Node | null)?.close());
  device.close();
  if ('error' in booted)
    return { stage: 'boot', code: booted.error.code, delivered, discarded, torn, inspection };
  return { stage: 'done', delivered, discarded, torn, inspection };
}

function check(c: Case): void {
  const base = bases[c.base] as Base;
  const outcome = run(damage(c));
  tally.images++;
  count(outcome.stage === 'done' ? 'booted' : `${outcome.stage} ${outcome.code}`);
  tally.discarded += outcome.discarded;
  // nothing delivered that no emit wrote
  const userSeqs = new Set<number>();
  for (const event of outcome.delivered) {
    if (event.source === 'nvrelay') {
      tally.deliveredSystem++;
      expect(event.type.startsWith('nvrelay.'), event.type).toBe(true);
      expect(event.seq, 'a recovery event reuses an emitted seq').toBeGreaterThan(
        base.seqMax[c.image] as number,
      );
      continue;
    }
    tally.deliveredUser++;
    const emitted = base.emitted.get(event.seq);
    expect(emitted, `seq ${event.seq} was never emitted`).toBeDefined();
    expect({
      source: event.source,
      type: event.type,
      severity: event.severity,
      details: hex(event.details),
    }).toEqual(emitted);
    userSeqs.add(event.seq);
  }
  // inspect agrees with the boot
  const inspection = outcome.inspection;
  if (outcome.stage !== 'done' || inspection === null) return;
  const records = inspection.fifos.flatMap((fifo) => fifo.records);
  const pending = new Set(
    records
      .filter(
        (entry) => entry.record !== null && !entry.handled && entry.record.source !== 'nvrelay',
      )
      .map((entry) => (entry.record as { seq: number }).seq),
  );
  const damagedShown = records.filter((entry) => entry.record === null).length;
  // a damaged record is discarded when replay reaches it (row R2), or reported as torn by the
  // scan past the durable tail word (row D5): torn inside what inspect shows published counts
  // as shown; torn past its end (a record that was never published) inspect does not list
  let tornInside = 0;
  for (const report of outcome.torn) {
    const fifo = inspection.fifos.find((f) => f.name === report.section);
    expect(fifo, report.section).toBeDefined();
    const { head, tail } = fifo as { head: number; tail: number };
    expect(report.position, 'a torn record below the head').toBeGreaterThanOrEqual(head);
    if (report.position < tail) tornInside++;
    else tally.tornPastTail++;
  }
  expect(
    outcome.discarded + tornInside,
    'discarded and torn != the damaged records inspect shows',
  ).toBe(damagedShown);
  for (const seq of userSeqs)
    expect(pending.has(seq), `seq ${seq} delivered, not pending in inspect`).toBe(true);
  const tableIntact = inspection.recipients.every(
    (recipient) =>
      recipient.state === 'free' ||
      (recipient.name !== null && (recipientNames as readonly string[]).includes(recipient.name)),
  );
  if (tableIntact) {
    tally.agreed++;
    expect(
      [...userSeqs].sort((a, b) => a - b),
      'inspect pending != delivered',
    ).toEqual([...pending].sort((a, b) => a - b));
  }
}

describe('fuzzed device images', () => {
  test('the undamaged images boot and deliver exactly what inspect shows pending', () => {
    for (const [b, base] of bases.entries()) {
      for (const [i] of base.images.entries()) {
        const c: Case = { base: b, image: i, target: 0, damages: [] };
        check(c);
      }
    }
    expect(tally.outcomes.get('booted')).toBe(tally.images);
    expect(tally.deliveredUser).toBeGreaterThan(0);
  });

  test(
    `${imagesToRun} damaged images: typed errors only, nothing invented, inspect agrees`,
    () => {
      const started = performance.now();
      fc.assert(
        fc.property(caseArb, (c) => check(c)),
        { seed, numRuns: imagesToRun, endOnFailure: true },
      );
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      const outcomes = [...tally.outcomes.entries()].sort((a, b) => b[1] - a[1]);
      console.log(
        `fuzzed images: ${tally.images} in ${seconds} s (seed ${seed}); ` +
          `delivered user ${tally.deliveredUser}, system ${tally.deliveredSystem}; ` +
          `discarded ${tally.discarded}; inspect compared ${tally.agreed}; torn past the tail (not in inspect) ${tally.tornPastTail}; outcomes ${outcomes.map(([k, v]) => `${k}: ${v}`).join(', ')}`,
      );
      expect(tally.outcomes.get('booted') ?? 0).toBeGreaterThan(imagesToRun / 4);
    },
    Math.max(60_000, imagesToRun * 20),
  ); // a long run is given its time
});
