/**
 * How to crash-test a persistent structure with the lab: the spec of the persistent log
 * (examples/persistent-log.ts) for `crashTest` and `assertCrashSafe` (sim/harness/).
 *
 *   workload  appends the input values, marking each one once `append` has returned;
 *   recover   reads the log back after the reboot;
 *   check     no loss (every acknowledged value is there), no garbage (only appended values,
 *             in append order).
 */
import type { NvramDevice } from '../src/nvram/device.js';
import type { CrashSpec, Finding } from '../sim/harness/index.js';
import { logSection, PersistentLog } from './persistent-log.js';

export type LogClass = new (device: NvramDevice) => PersistentLog;

export function logCrashSpec(
  Log: LogClass,
  name = Log.name,
): CrashSpec<number[], number[], number> {
  return {
    name,
    format: { sizeBytes: 2 * 4096, sections: [{ name: logSection, length: 4096 }] },
    workload(device, context, values) {
      const log = new Log(device);
      for (const value of values) {
        log.append(value);
        context.mark(value); // acknowledged: append returned
      }
    },
    recover(device) {
      return new Log(device).entries();
    },
    check({ recovered, marks }, values) {
      const findings: Finding[] = [];
      if (recovered.length < marks.length) {
        findings.push({
          invariant: 'no loss',
          message: `${marks.length} appends were acknowledged but only ${recovered.length} entries recovered`,
        });
      }
      const wrong = recovered.findIndex((value, i) => value !== values[i]);
      if (wrong >= 0 || recovered.length > values.length) {
        const at = wrong >= 0 ? wrong : values.length;
        findings.push({
          invariant: 'no garbage',
          message: `entry ${at} recovered as ${recovered[at]}, but append ${at} wrote ${values[at]}`,
        });
      }
      return findings;
    },
  };
}
