/**
 * `nvrelay demo` (what `npm start` runs): formats a small device file under the working
 * folder if there is none, opens it (counting a boot) and shows it as `inspect` would.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { DirectNvram } from '../nvram/index.js';
import { inspectDevice, renderInspect } from './inspect.js';

const demoDevice = 'nvrelay-demo.nvram';
const demoSizeBytes = 1 << 20;
const demoSections = [
  { name: 'events', length: 512 << 10 },
  { name: 'boot-events', length: 64 << 10 },
];

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(`format ./${demoDevice} if absent, open it and show it`)
    .action(() => {
      const path = resolve(demoDevice);
      if (!existsSync(path)) {
        DirectNvram.format(path, { sizeBytes: demoSizeBytes, sections: demoSections });
        console.log(`formatted ${path}`);
      }
      const device = DirectNvram.open(path, { durability: 'process' });
      try {
        console.log(`opened ${path} (boot ${device.header.bootCount})\n`);
      } finally {
        device.close();
      }
      console.log(renderInspect(inspectDevice(path)));
    });
}
