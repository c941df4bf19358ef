import { describe, expect, test } from 'vitest';
import { TracedNvram } from '../../src/nvram/traced.js';
import { imagesAtCut } from '../../sim/explore/candidates.js';
import { ImageKeys } from '../../sim/explore/image-keys.js';
import { recordWorkload } from '../../sim/explore/recording.js';
import { StateIndex } from '../../sim/explore/state-index.js';
import { Prng } from '../../sim/prng.js';
import { workloadSubject } from '../../sim/workloads/registry.js';

describe('ImageKeys', () => {
  test('a candidate keyed without its image is found by its built image, and back', () => {
    const { subject } = workloadSubject('events-small');
    const recording = recordWorkload(subject);
    const cursor = TracedNvram.fromImage(recording.start, { boot: false });
    const keys = new ImageKeys(recording.trace, recording.instructions, cursor.sizeBytes);
    const image = new Uint8Array(cursor.sizeBytes);
    const words = new Uint32Array(image.buffer);
    const prng = new Prng(7);
    let compared = 0;
    for (let cut = 0; cut <= recording.instructions; cut += 3) {
      keys.advance(cursor, cut);
      const pending = cursor.pendingStores();
      for (const survivors of imagesAtCut(cursor, 'px86', 8, cut).survivors) {
        keys.setCandidate(survivors);
        cursor.buildImage(survivors, image);
        // A footprint: some words the survivors wrote, and some they did not.
        const chosen = new Set<number>();
        for (const offset of pending.offsets) if (prng.below(2) === 0) chosen.add(offset / 8);
        for (let k = 0; k < 8; k++) chosen.add(prng.below(cursor.sizeBytes / 8));
        const footprint = Int32Array.from([...chosen].sort((a, b) => a - b));
        const keyed = new StateIndex();
        keyed.addKeyed(keys, footprint, 'e', { naiveStates: 1, outcome: 'keyed' });
        expect(keyed.findImage(words, 'e')?.state.outcome).toBe('keyed');
        const built = new StateIndex();
        built.add(words, footprint, 'e', { naiveStates: 1, outcome: 'built' });
        expect(built.find(keys, 'e')?.state.outcome).toBe('built');
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(recording.instructions / 3);
    cursor.close();
  });
});
