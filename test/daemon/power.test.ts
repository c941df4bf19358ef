/**
 * A daemon in 'power' durability, with the pipelined fence (`serve --pipelined-fence`: each
 * group's msync on a worker thread while the next group is assembled) and without: many
 * producers' emits, each acknowledged only once its group is durable, all reach the recipient
 * once, and the device is clean after.
 */
import { afterEach, expect, test } from 'vitest';
import { connect, type Client } from '../../src/client/client.js';
import { inspectDeviceFile, startDaemon, type TestDaemon } from './harness.js';

let running: TestDaemon | null = null;
const clients: Client[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await running?.remove();
  running = null;
});

test.each([true, false])(
  "'power' durability, pipelined %s: every acknowledged emit delivered once",
  async (pipelinedFence) => {
    running = await startDaemon({
      durability: 'power',
      pipelinedFence,
      config: { recipients: { audit: {} } },
    });
    const { daemon, socket } = running;
    expect(daemon.node.pipelinedFence).toBe(pipelinedFence);
    const seen = new Map<number, number>();
    const recipient = await connect(`unix:${socket}`);
    clients.push(recipient);
    await recipient.subscribe('audit', {}, (event, r) => {
      seen.set(event.seq, (seen.get(event.seq) ?? 0) + 1);
      r.confirm(event.seq);
    });
    const acked: number[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async (_, p) => {
        const client = await connect(`unix:${socket}`);
        clients.push(client);
        const producer = client.producer(`p${p}`);
        for (let k = 0; k < 50; k++)
          acked.push(await producer.emit('disk.failed', 'err', `${p}/${k}`));
      }),
    );
    const deadline = Date.now() + 10_000;
    while (seen.size < acked.length && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    expect(new Set(acked).size).toBe(400);
    expect([...acked].every((seq) => seen.get(seq) === 1)).toBe(true);
    expect(daemon.device.msyncCount).toBeGreaterThan(0);
    expect(daemon.device.msyncCount).toBeLessThan(400); // groups share their msync
    await running.stop();
    const after = inspectDeviceFile(running.device);
    expect(after.fifos.map((fifo) => fifo.pending)).toEqual([0, 0]);
  },
);
