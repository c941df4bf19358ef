/**
 * One boot after a power cut, as a firmware boots: a fresh process opens the device and boots the
 * node (recovery and replay queued), then prints {"ms", "openMs", "replayed"} as one JSON line.
 * The events bench runs it three times on a device holding 1,000,000 pending events; in the
 * bench's own process each boot would also pay for collecting the previous boots' buffers.
 *
 *     node dist/bench/recovery-boot.js <device>
 */
import { Node } from '../src/node/node.js';
import { DirectNvram } from '../src/nvram/index.js';

const path = process.argv[2];
if (path === undefined) throw new Error('usage: recovery-boot <device>');
const start = performance.now();
const device = DirectNvram.open(path, { durability: 'process' });
const openMs = performance.now() - start;
const node = Node.boot(device, { scheduling: 'manual' });
const ms = performance.now() - start;
process.stdout.write(`${JSON.stringify({ ms, openMs, replayed: node.recovery.replayed })}\n`);
node.close();
device.close();
