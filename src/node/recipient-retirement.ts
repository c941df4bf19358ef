/**
 * Retiring a recipient that never comes back (Node.retireRecipient, and the optional grace
 * period `absentRecipientGraceMs`). A recipient named in the persistent recipient table but not
 * registered this boot still owns the events intended for it that it never confirmed; they hold
 * the FIFO head back until the pool refuses every emit. Retirement hands them to the dead-letter
 * section (reason `recipient-retired`) and frees the id.
 *
 * Persist order (a fence between each step):
 *  1. each owed event's dead-letter copy, then its state word (DeadLetterStore.add);
 *  2. the recipient's bit in each event's confirmation word, as a confirmation [216], and the
 *     head past what that completes [217]: one fence for all of them;
 *  3. the id's state word back to free (RecipientTable.release).
 * A cut before 2 is durable leaves an event both owed and a dead letter (it may be delivered
 * again if the recipient comes back: a duplicate, never a loss; a later retirement finds the
 * dead letter and adds no second one); a cut before 3 leaves the name with nothing owed.
 */
import type { DistributionEngine } from '../engine/distribution-engine.js';
import { reasonRecipientRetired } from '../engine/dead-letter.js';
import type { RecipientTable } from '../engine/recipient-table.js';
import { NodeError, badArgument } from '../events/errors.js';
import type { RecoveryEvent } from '../replay/replay-engine.js';

export interface RetireOptions {
  /** Why (recorded in the `nvrelay.recipient.retired` event). Default 'retired on request'. */
  reason?: string;
}

export interface RetireResult {
  /** Events that were owed to the recipient and are now dead letters. */
  deadLettered: number;
}

export const reasonOnRequest = 'retired on request';
export const reasonAbsent = 'absent past grace period';

export function retireReason(options: RetireOptions): string {
  if (typeof options !== 'object' || options === null) badArgument('options must be an object');
  for (const key of Object.keys(options)) {
    if (key !== 'reason') badArgument(`unknown retireRecipient option '${key}'`);
  }
  if (options.reason === undefined) return reasonOnRequest;
  if (typeof options.reason !== 'string' || options.reason.length === 0)
    badArgument('reason must be a non-empty string');
  return options.reason;
}

/**
 * The id of `name` if it may be retired: named in the table and not registered this boot; or
 * `#ID`, a damaged entry's id as `inspect` and `pump` show it (row T1): no recipient can ever
 * register under it, so the events owed to it can only be retired (`#` is in no recipient name).
 */
export function retirableId(
  table: RecipientTable,
  engine: DistributionEngine,
  name: string,
): number {
  if (typeof name !== 'string') badArgument(`recipient name must be a string, got ${typeof name}`);
  const damaged = /^#(\d{1,2})$/.exec(name);
  if (damaged !== null) return damagedId(table, Number(damaged[1]), name);
  const id = table.find(name);
  if (id < 0) {
    throw new NodeError(
      'RECIPIENT_UNKNOWN',
      `nvrelay: no recipient '${name}' in the recipient table; nothing to retire`,
    );
  }
  if (engine.recipients[id] !== undefined) {
    throw new NodeError(
      'NODE_STATE',
      `nvrelay: recipient '${name}' is registered in this boot; only an absent recipient can be retired`,
    );
  }
  return id;
}

function damagedId(table: RecipientTable, id: number, name: string): number {
  const state = table.states[id];
  if (state !== 'damaged' && state !== 'quarantined') {
    throw new NodeError(
      'RECIPIENT_UNKNOWN',
      `nvrelay: recipient id ${name} is not a damaged entry of the recipient table ` +
        `(${state ?? `only ${table.recipientsMax} ids`}); retire a named recipient by its name`,
    );
  }
  return id;
}

/**
 * Steps 1-3 above. Throws DEAD_LETTER_FULL (after making what was dead-lettered durable, with
 * the id still named) if the dead-letter section has no room for every owed event.
 */
export function retireId(
  engine: DistributionEngine,
  table: RecipientTable,
  id: number,
  name: string,
): RetireResult {
  const { deadLettered, left } = engine.deadLetterOwed(id, reasonRecipientRetired);
  if (left > 0) {
    throw new NodeError(
      'DEAD_LETTER_FULL',
      `nvrelay: the dead-letter section is full: ${deadLettered} event(s) of recipient '${name}' ` +
        `dead-lettered, ${left} left owed; the recipient stays named (free dead letters, e.g. by ` +
        're-delivering them, and retire it again)',
    );
  }
  table.release(id);
  return { deadLettered };
}

/** Names in the table with no recipient registered this boot. */
export function absentRecipients(table: RecipientTable, engine: DistributionEngine): string[] {
  const names: string[] = [];
  table.names.forEach((name, id) => {
    if (name !== null && table.states[id] === 'named' && engine.recipients[id] === undefined)
      names.push(name);
  });
  return names;
}

export function retiredEvent(name: string, deadLettered: number, reason: string): RecoveryEvent {
  return {
    type: 'nvrelay.recipient.retired',
    severity: 'warning',
    details: { name, deadLettered, reason },
  };
}

/** The grace period could not retire a recipient (the dead-letter section is full). */
export function retireBlockedEvent(name: string, error: NodeError): RecoveryEvent {
  return {
    type: 'nvrelay.recipient.retire-blocked',
    severity: 'err',
    details: { name, reason: reasonAbsent, error: error.message },
  };
}
