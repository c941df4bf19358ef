/**
 * A crash-lab worker process (parallel.ts): for each exploration it is started on, explores the
 * chunks of cut points it is handed with one explorer, so that its state index prunes across
 * all of them, then reports its counts and waits for the next exploration. It exits when its
 * parent closes the channel (or exits).
 */
import { assert } from '../assert.js';
import { workloadSubject } from '../workloads/registry.js';
import { Explorer } from './explorer.js';
import type { FromWorker, ToWorker, WorkerSetup } from './parallel.js';

assert(process.send !== undefined, 'worker.ts runs as a child process with a channel');
const post = (message: FromWorker): void => {
  process.send?.(message);
};
let explorer: Explorer<unknown, unknown> | undefined;

function startExploration(setup: WorkerSetup): Explorer<unknown, unknown> {
  const { subject } = workloadSubject(setup.workload, setup.params);
  let lastReport = 0;
  return new Explorer(
    subject,
    setup.options,
    { workload: setup.workload, params: setup.params },
    (progress) => {
      const now = performance.now();
      if (now - lastReport < 100 && progress.cutsDone < progress.cutsTotal) return;
      lastReport = now;
      post({ type: 'progress', cutsDone: progress.cutsDone, crashStates: progress.crashStates });
    },
  );
}

process.on('disconnect', () => process.exit(0));
process.on('message', (message: ToWorker) => {
  if (message.type === 'start') {
    explorer = startExploration(message.setup);
    post({ type: 'idle' });
    return;
  }
  assert(explorer !== undefined, 'a worker is started before it is given cuts');
  if (message.type === 'chunk') {
    explorer.run(message.cuts);
    post({ type: 'idle' });
    return;
  }
  const { counts, violations, outcomes } = explorer;
  const invariants = Object.fromEntries(explorer.invariants);
  explorer = undefined; // its state index is garbage from here
  post({ type: 'result', counts, violations, invariants, outcomes: [...outcomes] });
});
