/**
 * Typed errors of the event system (SPEC 5.3): every expected failure is a `NodeError` with a
 * stable string `code`. Device failures stay `NvramError`s (src/nvram/errors.ts) and pass
 * through untouched.
 */
export type NodeErrorCode =
  | 'QUEUE_FULL' // the pool or FIFO has no slot for this severity (SPEC 1: never a silent drop)
  | 'EVENT_TOO_LARGE' // details longer than the format-time detailsBytesMax
  | 'BAD_ARGUMENT' // a malformed name, severity, option or value
  | 'NODE_UNFORMATTED' // the device has the sections but no node control block
  | 'NODE_BAD_LAYOUT' // a section is missing, too small, or disagrees with the control block
  | 'NODE_CORRUPT' // the control block or a FIFO descriptor failed validation
  | 'NODE_STATE' // the call is not allowed in the node's phase (booting, running)
  | 'NODE_CLOSED' // use after close
  | 'NODE_FAILED' // a device operation failed: the node stopped (fail-stop); reopen to recover
  | 'RECIPIENTS_FULL' // every recipient id is taken
  | 'RECIPIENT_UNKNOWN' // no recipient of that name in the persistent recipient table
  | 'DEAD_LETTER_FULL' // the dead-letter section has no free entry for what must go there
  | 'TABLE_FULL' // too many distinct event types or producers this boot
  | 'MIRROR_PARTNER' // the partner mirror holds another node's events, or a geometry of its own
  | 'MIRROR_UNAVAILABLE'; // a mirrored emit could not reach the partner's mirror [193]

export class NodeError extends Error {
  readonly code: NodeErrorCode;
  constructor(code: NodeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NodeError';
    this.code = code;
  }
}

/** A full pool or FIFO, reported to the producer (and counted in `stats()`). */
export class QueueFull extends NodeError {
  /** The pool that was full: 'boot' while initialising, else 'runtime'. */
  readonly pool: string;
  constructor(pool: string, message: string) {
    super('QUEUE_FULL', message);
    this.name = 'QueueFull';
    this.pool = pool;
  }
}

export function badArgument(message: string): never {
  throw new NodeError('BAD_ARGUMENT', `nvrelay: ${message}`);
}
