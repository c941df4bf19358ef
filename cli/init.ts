/** `nvrelay init <device> --size 64M [--sections name:size,...] [--force]`: format a device file. */
import type { Command } from 'commander';
import { DirectNvram, type SectionSpec } from '../src/nvram/index.js';
import { formatSize, parseSections, parseSize } from './arguments.js';

interface InitOptions {
  size: number;
  sections?: SectionSpec[];
  force?: boolean;
}

export function registerInit(program: Command): void {
  program
    .command('init')
    .description('format a file as an NVRAM device (created with mode 0600)')
    .argument('<device>', 'path of the device file')
    .requiredOption(
      '--size <size>',
      'device size, a multiple of 4096 (suffixes K, M, G)',
      parseSize,
    )
    .option(
      '--sections <list>',
      'sections laid out in order, e.g. events:1M,boot:64K',
      parseSections,
    )
    .option('--force', 'overwrite an existing file')
    .action((device: string, options: InitOptions) => {
      const header = DirectNvram.format(device, {
        sizeBytes: options.size,
        sections: options.sections ?? [],
        force: options.force === true,
      });
      const id = header.deviceId.toString(16).padStart(16, '0');
      const count = header.sections.length;
      console.log(
        `formatted ${device}: ${formatSize(header.sizeBytes)}, ${count} section${count === 1 ? '' : 's'}, device id ${id}`,
      );
    });
}
