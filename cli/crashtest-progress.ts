/**
 * The crashtest's progress bar on stderr (cli-progress): cuts done of the total, crash states
 * explored and their rate. sim/cli/crashtest.ts shows it only on a terminal, never with --json.
 */
import cliProgress from 'cli-progress';
import type { Progress } from '../sim/cli/crashtest.js';

export function progressBar(): Progress {
  const bar = new cliProgress.SingleBar(
    {
      format:
        'crashtest {bar} {percentage}% | cuts {value}/{total} | {states} states | {rate} states/s | ETA {eta_formatted}',
      hideCursor: true,
      etaBuffer: 50,
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  const started = performance.now();
  let running = false;
  return {
    update: (progress) => {
      const seconds = (performance.now() - started) / 1000;
      const payload = {
        states: progress.crashStates,
        rate: Math.round(progress.crashStates / Math.max(seconds, 1e-3)),
      };
      if (!running) {
        bar.start(progress.cutsTotal, 0, payload);
        running = true;
      }
      bar.update(progress.cutsDone, payload);
    },
    stop: () => {
      if (running) bar.stop();
    },
  };
}
