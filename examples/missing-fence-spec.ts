/**
 * A crash spec module for the command line: `npm run build`, then
 *
 *   nvrelay crashtest --spec dist/examples/missing-fence-spec.js --report report.html
 *   nvrelay crashtest --spec dist/examples/missing-fence-spec.js --replay <token>
 *
 * The command imports `spec` (or the default export) and explores it with `input`.
 */
import { logCrashSpec } from './log-crash-spec.js';
import { MissingFenceLog } from './persistent-log-missing-fence.js';

export const spec = logCrashSpec(MissingFenceLog, 'missing-fence-log');
export const input = [17, 4, 99, 23, 8];
