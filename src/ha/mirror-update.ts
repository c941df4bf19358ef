/**
 * What one node of a pair sends its partner's mirror [193]: per FIFO, the records made durable
 * since the last update (whole slots, as stored), the confirmation words changed, and its
 * durable head; and the recipient entries registered since (so the survivor can tell which
 * recipient a mask bit names). Applied by PartnerMirror, produced by MirrorSource.
 */

/** One FIFO's part of an update. */
export interface MirrorFifoUpdate {
  /** 0 the boot FIFO, 1 the runtime FIFO (the node's FIFO order). */
  fifo: number;
  /** The sender's durable head: every position before it is completely handled there [217]. */
  head: number;
  /** Position of records[0]. */
  from: number;
  /** Whole slots (slotBytes each), confirmation word included, as the sender stored them. */
  records: Uint8Array[];
  /** Confirmation words: position, then the mask's low and high 32 bits, repeated. */
  confirmations: number[];
  /**
   * Positions among the records whose slot fails its check on the sender (an append cut short
   * that its recovery passed, row D5): sent as stored, so the mirror is a copy; never delivered.
   */
  torn: number[];
}

export interface MirrorUpdate {
  /** The sender's node id (its device id, 16 lowercase hex digits). */
  node: string;
  /** Recipient table entries (64 bytes each, as stored) by id, sent before any record names them. */
  recipients: { id: number; entry: Uint8Array }[];
  fifos: MirrorFifoUpdate[];
}

/** What the mirror holds after an update: per FIFO, one past the newest record placed. */
export interface MirrorAck {
  tails: number[];
}

/**
 * What a giveback hands back [193]: per FIFO the mirror's head (every position before it handled
 * or taken over), and the records past it the mirror holds as completely handled (a takeover
 * released them out of order, or the partner confirmed them): position and seq, checked by the
 * returning node against its own record before it marks it handled.
 */
export interface Handover {
  heads: number[];
  taken: { fifo: number; position: number; seq: number }[];
}
