/**
 * What the engine finds while it examines recovered records becomes events [231]: per FIFO,
 * every discarded record (row R2) is counted, with its reason, and its position listed up to a
 * limit; every damaged confirmation word (row R3) likewise. An event's details are shortened to
 * fit the device's detailsBytesMax: the full report, else a few fields, else section and name,
 * else none; a candidate exactly detailsBytesMax long fits.
 */
import { describe, expect, test } from 'vitest';
import { SlotVerdict, type PersistentFifo } from '../../src/fifo/fifo.js';
import { Findings, fitDetails } from '../../src/node/findings.js';

const fifo = (name: string, confirmationsDamaged: number[] = []) =>
  ({ name, confirmationsDamaged }) as unknown as PersistentFifo;

const text = (bytes: Uint8Array | null) =>
  bytes === null ? null : new TextDecoder().decode(bytes);

describe('Findings', () => {
  test('discards per FIFO: every one counted with its reason, the first 16 positions listed', () => {
    const findings = new Findings();
    expect(findings.empty).toBe(true);
    const runtime = fifo('runtime-fifo');
    for (let position = 3; position < 3 + 17; position++)
      findings.noteDiscard(
        runtime,
        position,
        position === 3 ? SlotVerdict.badPosition : SlotVerdict.badChecksum,
      );
    findings.noteDiscard(fifo('boot-fifo'), 1, SlotVerdict.badChecksum);
    expect(findings.empty).toBe(false);
    expect(findings.take()).toEqual([
      {
        type: 'nvrelay.record.discarded',
        severity: 'err',
        details: {
          section: 'runtime-fifo',
          discarded: 17,
          reasons: { 'bad-position': 1, 'bad-checksum': 16 },
          positions: Array.from({ length: 16 }, (_, i) => 3 + i),
        },
      },
      {
        type: 'nvrelay.record.discarded',
        severity: 'err',
        details: {
          section: 'boot-fifo',
          discarded: 1,
          reasons: { 'bad-checksum': 1 },
          positions: [1],
        },
      },
    ]);
    expect(findings.empty).toBe(true);
    expect(findings.take()).toEqual([]);
  });

  test('damaged confirmation words are taken from each FIFO once', () => {
    const findings = new Findings();
    const boot = fifo('boot-fifo');
    const runtime = fifo('runtime-fifo', [4, 9]);
    findings.collectConfirmations([boot, runtime]);
    runtime.confirmationsDamaged.push(11);
    findings.collectConfirmations([boot, runtime]);
    expect(runtime.confirmationsDamaged).toEqual([]);
    expect(findings.take()).toEqual([
      {
        type: 'nvrelay.confirmation.damaged',
        severity: 'crit',
        details: { section: 'runtime-fifo', damaged: 3, positions: [4, 9, 11] },
      },
    ]);
  });
});

describe('fitDetails', () => {
  const details = {
    section: 'runtime-fifo',
    discarded: 3,
    name: 'disk',
    deadLettered: 2,
    positions: [1, 2, 3, 4, 5, 6, 7, 8],
  };
  const full = JSON.stringify(details);
  const short = '{"section":"runtime-fifo","discarded":3,"name":"disk","deadLettered":2}';
  const shortest = '{"section":"runtime-fifo","name":"disk"}';

  test('the full details, else a few fields, else section and name, else nothing', () => {
    expect(text(fitDetails(details, full.length))).toBe(full);
    expect(text(fitDetails(details, full.length - 1))).toBe(short);
    expect(text(fitDetails(details, short.length))).toBe(short);
    expect(text(fitDetails(details, short.length - 1))).toBe(shortest);
    expect(text(fitDetails(details, shortest.length))).toBe(shortest);
    expect(fitDetails(details, shortest.length - 1)).toBeNull();
  });
});
