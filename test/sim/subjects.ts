/**
 * Small crash subjects for the crash lab's own tests, each in a correct and a broken variant:
 *
 *  - linked stack: recovery follows pointers, so which words it reads depends on what it finds
 *    (the hard case for pruning on loaded words); the broken push publishes the node unpersisted.
 *  - journal: recovery repairs (it stores), so a power cut during recovery matters; the broken
 *    recovery clears the journal before applying it, which only a nested crash (depth 2) shows.
 */
import type { NvramDevice } from '../../src/nvram/device.js';
import { subjectOf, type CrashSpec } from '../../sim/harness/index.js';
import type { CrashSubject, Finding } from '../../sim/subject.js';

const nodeBytes = 64;

export function linkedStackSpec(persistNodes: boolean): CrashSpec<number[], number[], number> {
  return {
    name: persistNodes ? 'linked-stack' : 'linked-stack-unpersisted',
    format: { sizeBytes: 3 * 4096, sections: [{ name: 's', length: 8192 }] },
    workload(device, context, values) {
      const base = device.section('s').offset;
      values.forEach((value, i) => {
        const node = base + nodeBytes * (i + 1);
        device.storeU64(node, value);
        device.storeU64(node + 8, device.loadU64(base));
        if (persistNodes) device.persist(node, 16);
        device.storeU64(base, i + 1);
        device.persist(base, 8);
        context.mark(value);
      });
    },
    recover(device) {
      const base = device.section('s').offset;
      const values: number[] = [];
      const capacity = 8192 / nodeBytes - 1;
      for (let p = device.loadU64(base); p !== 0 && values.length <= capacity;) {
        if (p > capacity) break;
        values.push(device.loadU64(base + nodeBytes * p));
        p = device.loadU64(base + nodeBytes * p + 8);
      }
      return values;
    },
    check({ recovered, marks }, values) {
      const depth = recovered.length;
      const expected = values.slice(0, depth).reverse();
      const findings: Finding[] = [];
      if (depth < marks.length)
        findings.push({ invariant: 'no loss', message: `depth ${depth} < ${marks.length}` });
      if (depth > marks.length + 1 || recovered.some((value, i) => value !== expected[i])) {
        findings.push({
          invariant: 'no garbage',
          message: `recovered ${JSON.stringify(recovered)}`,
        });
      }
      return findings;
    },
  };
}

/** Applies a durable journal entry to the data word (the correct order: apply, then clear). */
function recoverJournal(device: NvramDevice, applyFirst: boolean): number {
  const base = device.section('j').offset;
  const data = base;
  const journalValue = base + 64;
  const journalFlag = base + 128;
  if (device.loadU64(journalFlag) === 1) {
    const value = device.loadU64(journalValue);
    if (applyFirst) {
      device.storeU64(data, value);
      device.persist(data, 8);
      device.storeU64(journalFlag, 0);
      device.persist(journalFlag, 8);
    } else {
      device.storeU64(journalFlag, 0);
      device.persist(journalFlag, 8);
      device.storeU64(data, value);
      device.persist(data, 8);
    }
  }
  return device.loadU64(data);
}

export function journalSpec(restartable: boolean): CrashSpec<number[], number, number> {
  return {
    name: restartable ? 'journal' : 'journal-clears-first',
    format: { sizeBytes: 2 * 4096, sections: [{ name: 'j', length: 4096 }] },
    workload(device, context, values) {
      const base = device.section('j').offset;
      for (const value of values) {
        device.storeU64(base + 64, value);
        device.persist(base + 64, 8);
        device.storeU64(base + 128, 1);
        device.persist(base + 128, 8);
        context.mark(value); // committed: the journal entry is durable
        device.storeU64(base, value);
        device.persist(base, 8);
        device.storeU64(base + 128, 0);
        device.persist(base + 128, 8);
      }
    },
    recover: (device) => recoverJournal(device, restartable),
    check({ recovered, marks }, values) {
      const committed = marks.length;
      const allowed = [committed === 0 ? 0 : values[committed - 1], values[committed]];
      if (allowed.includes(recovered)) return [];
      return [{ invariant: 'no loss', message: `data ${recovered} after ${committed} commits` }];
    },
  };
}

export const stackValues = [11, 22, 33, 44];
export const journalValues = [5, 6, 7];

export function linkedStack(persistNodes: boolean): CrashSubject<number[], number> {
  return subjectOf(linkedStackSpec(persistNodes), stackValues);
}

export function journal(restartable: boolean): CrashSubject<number, number> {
  return subjectOf(journalSpec(restartable), journalValues);
}

/**
 * A recovery whose *restart* reads words the first run never reads: the first run marks a
 * phase word and returns; a recovery that finds the phase word set (the previous one was cut)
 * reads the data word instead. Pruning must carry the nested runs' loads up to the first
 * run's state, or images differing only in the data word would be merged.
 */
export function phasedRecovery(): CrashSubject<number | string, number> {
  return {
    name: 'phased-recovery',
    format: { sizeBytes: 2 * 4096, sections: [{ name: 'p', length: 4096 }] },
    workload(device, context) {
      const base = device.section('p').offset;
      for (const value of [3, 4, 5]) {
        device.storeU64(base + 64, value);
        device.persist(base + 64, 8);
        context.mark(value);
      }
    },
    recover(device) {
      const phase = device.section('p').offset;
      if (device.loadU64(phase) === 0) {
        device.storeU64(phase, 1);
        device.persist(phase, 8);
        device.storeU64(phase, 0);
        device.persist(phase, 8);
        return 'clean';
      }
      device.storeU64(phase, 0);
      device.persist(phase, 8);
      return device.loadU64(phase + 64);
    },
    check: () => [],
  };
}
