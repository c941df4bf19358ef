/**
 * Name lookup over a device's section table (SPEC 1 [141]: each section holds one kind of
 * persistent state). The table itself was validated by the addon when the header was read.
 */
import type { HeaderInfo, SectionInfo } from './addon-api.js';
import { describe } from './arguments.js';
import { NvramError } from './errors.js';

export class SectionTable {
  readonly #byName = new Map<string, SectionInfo>();
  readonly #label: string;

  constructor(header: HeaderInfo, label: string) {
    this.#label = label;
    for (const section of header.sections) {
      if (this.#byName.has(section.name)) {
        throw new Error(`assertion failed: ${label}: section '${section.name}' appears twice`);
      }
      this.#byName.set(section.name, Object.freeze({ ...section }));
    }
  }

  find(name: unknown, method: string): SectionInfo {
    const section = typeof name === 'string' ? this.#byName.get(name) : undefined;
    if (section !== undefined) return section;
    if (typeof name !== 'string') {
      throw new NvramError(
        'NVRAM_BAD_ARGUMENT',
        `nvram: ${this.#label}: ${method}: name must be a string, got ${describe(name)}`,
      );
    }
    const known = [...this.#byName.keys()].map((key) => `'${key}'`).join(', ') || 'none';
    throw new NvramError(
      'NVRAM_UNKNOWN_SECTION',
      `nvram: ${this.#label}: ${method}: no section named ${describe(name)} (sections: ${known})`,
    );
  }
}
