/**
 * Pinned regression: a type first seen in a replayed record (interned by the engine while it
 * loads the record) must still get its recipient masks, or the next emit of that type after
 * the reboot reaches nobody and is retired at once (an accepted event lost, SPEC 4.1).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { DirectNvram, Node, formatNode, nodeLayout } from '../../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'nvrelay-replayed-type-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a type first seen in a replayed record', () => {
  test('is delivered to its subscribers when emitted again after the reboot', () => {
    const path = join(dir, 'node.nvram');
    const limits = { runtimeSlots: 64, detailsBytesMax: 64 };
    const layout = nodeLayout(limits);
    DirectNvram.format(path, { sizeBytes: layout.sizeBytes, sections: layout.sections });
    const first = DirectNvram.open(path);
    formatNode(first, limits);
    const before = Node.boot(first, { scheduling: 'manual' });
    before.registerRecipient('audit', {}, (event, r) => void r.confirm(event.seq));
    before.registerRecipient('pager', {}, () => {}); // never confirms: the events stay pending
    before.start();
    for (let n = 0; n < 4; n++) before.producer('raid').emit('disk.failed', 'err', null);
    before.drainUntilIdle();
    before.close();
    first.close();

    const second = DirectNvram.open(path);
    const after = Node.boot(second, { scheduling: 'manual' });
    const delivered: string[] = [];
    for (const name of ['audit', 'pager']) {
      after.registerRecipient(name, {}, (event, r) => {
        delivered.push(`${name} ${event.seq} ${event.replayed ? 'replayed' : 'new'}`);
        r.confirm(event.seq);
      });
    }
    after.start();
    after.drainUntilIdle(); // the replay interns 'disk.failed' while loading the records
    const seq = after.producer('raid').emit('disk.failed', 'err', null);
    after.drainUntilIdle();
    expect(delivered).toContain(`audit ${seq} new`);
    expect(delivered).toContain(`pager ${seq} new`);
    expect(
      delivered.filter((line) => line.startsWith('pager') && line.endsWith('replayed')),
    ).toHaveLength(4);
    after.close();
    second.close();
  });
});
