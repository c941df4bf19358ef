/**
 * `nvrelay recipients retire <device> <name> [--reason TEXT] [--json]`: the operator command
 * for a recipient that will never register again. Every event still owed to it becomes a dead
 * letter (reason recipient-retired) and its id is freed (Node.retireRecipient), so the FIFO head
 * moves and emits are accepted again. Opens the device for writing, so the node's own process
 * must not hold it; in that process no recipient is registered, so any named one can be
 * retired, and so can a damaged entry's id, `#ID` as `inspect`, `dump` and `pump` show it.
 * --json prints `{path, recipient, deadLettered}`.
 */
import type { Command } from 'commander';
import { Node, type RetireResult } from '../src/node/node.js';
import { DirectNvram } from '../src/nvram/index.js';
import { readNodeSnapshot } from './node-device.js';

export function registerRecipients(program: Command): void {
  const recipients = program
    .command('recipients')
    .description('manage the recipients named on a node device');
  recipients
    .command('retire')
    .description(
      'retire a recipient that will not come back: dead-letter what it still owes, free its id',
    )
    .argument('<device>', 'path of the device file (not open in another process)')
    .argument('<name>', "the recipient to retire (or '#ID': a damaged entry's id)")
    .option('--reason <text>', 'why (recorded in the nvrelay.recipient.retired event)')
    .option('--json', 'print one JSON object: {path, recipient, deadLettered}')
    .action((device: string, name: string, options: { reason?: string; json?: boolean }) => {
      const { deadLettered } = retireRecipient(device, name, options.reason);
      if (options.json === true) {
        console.log(JSON.stringify({ path: device, recipient: name, deadLettered }, null, 2));
        return;
      }
      console.log(
        `retired recipient '${name}': ${deadLettered} owed event${deadLettered === 1 ? '' : 's'} ` +
          'dead-lettered, its id freed',
      );
    });
}

/**
 * Boots the node, starts it (no recipients registered here), retires `name`, and closes. The
 * `nvrelay.recipient.retired` event it records reaches no recipient (none is registered in this
 * process when it is emitted), like the recovery events of this boot; the output says what
 * happened. The retirement is made first on a private copy of the file: a name that cannot be
 * retired, or a dead-letter section without room for what it owes, fails there, and the device
 * is left as it was (no boot counted, nothing dead-lettered).
 */
export function retireRecipient(path: string, name: string, reason?: string): RetireResult {
  const options = reason === undefined ? {} : { reason };
  const snapshot = readNodeSnapshot(path); // a missing, foreign or damaged device throws here
  try {
    snapshot.node.start();
    snapshot.node.retireRecipient(name, options);
  } finally {
    snapshot.close();
  }
  const device = DirectNvram.open(path, { durability: 'power' });
  try {
    const node = Node.boot(device, { scheduling: 'manual' });
    try {
      node.start();
      const result = node.retireRecipient(name, options);
      node.drainUntilIdle(); // retires the nvrelay.recipient.retired event (no recipient here)
      return result;
    } finally {
      node.close();
    }
  } finally {
    device.close();
  }
}
